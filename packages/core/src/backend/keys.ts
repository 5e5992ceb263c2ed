import { BadParameterError } from '../errors/index.js';

/** Separator of key path segments. */
export const SEPARATOR = '/';

/**
 * Joins path segments into a key: `key('web', 'users', 'alice')` -> `/web/users/alice`.
 * Segments must be non-empty and contain no separator.
 */
export function key(...parts: string[]): string {
  for (const p of parts) {
    if (p.length === 0 || p.includes(SEPARATOR)) throw new BadParameterError(`invalid key segment ${JSON.stringify(p)}`);
  }
  return SEPARATOR + parts.join(SEPARATOR);
}

/**
 * The smallest key greater than every key starting with `prefix`, for half-open ranges:
 * `getRange(prefix, rangeEnd(prefix))` reads all keys under `prefix`.
 */
export function rangeEnd(prefix: string): string {
  // Keys are ordered by UTF-8 bytes; U+10FFFF (4 bytes F4 8F BF BF) sorts after any other character.
  return prefix + '\u{10FFFF}';
}

/** Byte-order comparison of two keys (UTF-8), the order every driver uses. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Throws `bad-parameter` unless `k` is a usable key. */
export function validateKey(k: string): void {
  if (typeof k !== 'string' || k.length === 0) throw new BadParameterError('missing parameter key');
  if (k.length > 4096) throw new BadParameterError('key is longer than 4096 characters');
}

/** True when `k` starts with any of `prefixes` (or `prefixes` is empty). */
export function matchesPrefixes(k: string, prefixes: readonly string[] | undefined): boolean {
  if (!prefixes || prefixes.length === 0) return true;
  return prefixes.some((p) => k.startsWith(p));
}
