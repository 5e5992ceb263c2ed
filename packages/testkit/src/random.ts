/**
 * mulberry32: a small, fast pseudo-random generator that gives the same numbers for the same seed on every run, for
 * tests and benches that must be reproducible (`pnpm soak --seed`, property-style tests). Not for secrets.
 *
 * @example
 * ```ts
 * const random = seededRandom(1);
 * random(); // always the same first number in [0, 1)
 * ```
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
