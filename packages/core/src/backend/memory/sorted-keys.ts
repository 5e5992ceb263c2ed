/**
 * Compares two well-formed strings in Unicode code point order, which is the UTF-8 byte order every
 * driver uses, without encoding them. UTF-16 code unit order differs only where a surrogate (U+D800..DFFF,
 * i.e. a code point above U+FFFF) meets a unit in U+E000..FFFF; shifting both ranges fixes that.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x - y;
  }
  return a.length - b.length;
}

/** A sorted set of keys with binary search: the ordered index of the memory driver. */
export class SortedKeys {
  #keys: string[] = [];

  get size(): number {
    return this.#keys.length;
  }

  /** Index of the first key `>= k`. */
  lowerBound(k: string): number {
    let lo = 0;
    let hi = this.#keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareCodePoints(this.#keys[mid] as string, k) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  insert(k: string): void {
    const i = this.lowerBound(k);
    if (this.#keys[i] !== k) this.#keys.splice(i, 0, k);
  }

  remove(k: string): void {
    const i = this.lowerBound(k);
    if (this.#keys[i] === k) this.#keys.splice(i, 1);
  }

  /** Keys with `start <= key < end`, ascending, as a snapshot (safe to mutate the set while iterating). */
  range(start: string, end: string): string[] {
    if (compareCodePoints(start, end) >= 0) return [];
    return this.#keys.slice(this.lowerBound(start), this.lowerBound(end));
  }

  /** Yields keys `>= start` and `< end` lazily; the caller must not mutate the set while iterating. */
  *scan(start: string, end: string): Generator<string> {
    for (let i = this.lowerBound(start); i < this.#keys.length; i++) {
      const k = this.#keys[i] as string;
      if (compareCodePoints(k, end) >= 0) return;
      yield k;
    }
  }
}
