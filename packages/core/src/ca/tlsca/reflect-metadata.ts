/**
 * The smallest Reflect metadata polyfill that `tsyringe` (a dependency of `@peculiar/x509`) accepts, so core needs
 * no extra runtime dependency. It only installs itself when no polyfill (such as `reflect-metadata`) is present,
 * and it must be evaluated before `@peculiar/x509` is: `./x509.ts` imports it first.
 */

type MetadataMap = Map<unknown, unknown>;

interface ReflectWithMetadata {
  getMetadata?: unknown;
  defineMetadata?: unknown;
  getOwnMetadata?: unknown;
  hasMetadata?: unknown;
  metadata?: unknown;
}

const reflect = Reflect as unknown as ReflectWithMetadata;

if (typeof reflect.getMetadata !== 'function') {
  const store = new WeakMap<object, Map<PropertyKey | undefined, MetadataMap>>();
  const ownMap = (target: object, property: PropertyKey | undefined, create: boolean): MetadataMap | undefined => {
    let byProperty = store.get(target);
    if (!byProperty) {
      if (!create) return undefined;
      byProperty = new Map();
      store.set(target, byProperty);
    }
    let map = byProperty.get(property);
    if (!map && create) {
      map = new Map();
      byProperty.set(property, map);
    }
    return map;
  };
  const getOwnMetadata = (key: unknown, target: object, property?: PropertyKey): unknown =>
    ownMap(target, property, false)?.get(key);
  const getMetadata = (key: unknown, target: object, property?: PropertyKey): unknown => {
    for (let o: object | null = target; o !== null; o = Object.getPrototypeOf(o) as object | null) {
      const map = ownMap(o, property, false);
      if (map?.has(key)) return map.get(key);
    }
    return undefined;
  };
  const defineMetadata = (key: unknown, value: unknown, target: object, property?: PropertyKey): void => {
    ownMap(target, property, true)!.set(key, value);
  };
  const define = (name: keyof ReflectWithMetadata, value: unknown): void => {
    Object.defineProperty(Reflect, name, { value, configurable: true, writable: true });
  };
  define('getOwnMetadata', getOwnMetadata);
  define('getMetadata', getMetadata);
  define('defineMetadata', defineMetadata);
  define('hasMetadata', (key: unknown, target: object, property?: PropertyKey) => getMetadata(key, target, property) !== undefined);
  define(
    'metadata',
    (key: unknown, value: unknown) => (target: object, property?: PropertyKey) => defineMetadata(key, value, target, property),
  );
}

export {};
