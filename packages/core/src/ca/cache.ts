/**
 * A small least-recently-used map. The CA code keeps imported keys in these so issuing a certificate never re-parses
 * the CA's PEM; entries are keyed by the PEM text itself, so a rotated or re-read CA simply misses once.
 */
export interface BoundedCache<K, V> {
  /** The cached value for `key`, creating (and caching) it with `create` on a miss. */
  get(key: K, create: () => V): V;
  clear(): void;
  readonly size: number;
}

/**
 * @example
 * ```ts
 * const keys = newBoundedCache<string, KeyObject>(64);
 * const key = keys.get(pem, () => createPrivateKey(pem));
 * ```
 */
export function newBoundedCache<K, V>(limit: number): BoundedCache<K, V> {
  const map = new Map<K, V>();
  return {
    get(key, create) {
      if (map.has(key)) {
        const value = map.get(key) as V;
        map.delete(key);
        map.set(key, value);
        return value;
      }
      const value = create();
      map.set(key, value);
      if (map.size > limit) map.delete(map.keys().next().value as K);
      return value;
    },
    clear: () => map.clear(),
    get size() {
      return map.size;
    },
  };
}
