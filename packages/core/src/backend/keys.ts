import { BadParameterError } from '../errors/index.js';
import { MAX_ATOMIC_WRITE_SIZE, type ConditionalAction, type ItemInput } from './types.js';

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

/** Throws `bad-parameter` unless `k` is a usable key. */
export function validateKey(k: string): void {
  if (typeof k !== 'string' || k.length === 0) throw new BadParameterError('missing parameter key');
  if (k.length > 4096) throw new BadParameterError('key is longer than 4096 characters');
  // A lone surrogate has no UTF-8 form: drivers would silently store U+FFFD instead, a different key.
  if (LONE_SURROGATE.test(k)) throw new BadParameterError('key is not well-formed unicode');
}

const LONE_SURROGATE = /\p{Surrogate}/u;

/** True when `k` starts with any of `prefixes` (or `prefixes` is empty). */
export function matchesPrefixes(k: string, prefixes: readonly string[] | undefined): boolean {
  if (!prefixes || prefixes.length === 0) return true;
  return prefixes.some((p) => k.startsWith(p));
}

/** Throws `bad-parameter` unless `item` has a usable key, a byte value and a valid expiry. */
export function validateItemInput(item: ItemInput): void {
  validateKey(item.key);
  validateValueAndExpiry(item);
}

function validateValueAndExpiry(item: { value: Uint8Array; expires?: Date | undefined }): void {
  if (!(item.value instanceof Uint8Array)) throw new BadParameterError('missing parameter value');
  if (item.expires !== undefined && !(item.expires instanceof Date && Number.isFinite(item.expires.getTime()))) {
    throw new BadParameterError('expires must be a valid Date');
  }
}

/**
 * Throws `bad-parameter` unless `actions` is a valid atomic write: 1 to {@link MAX_ATOMIC_WRITE_SIZE}
 * conditional actions, valid keys, each key at most once, known condition and action kinds.
 */
export function validateConditionalActions(actions: readonly ConditionalAction[]): void {
  if (!Array.isArray(actions) || actions.length === 0) throw new BadParameterError('atomic write requires at least one action');
  if (actions.length > MAX_ATOMIC_WRITE_SIZE) {
    throw new BadParameterError(`atomic write has ${actions.length} actions, the limit is ${MAX_ATOMIC_WRITE_SIZE}`);
  }
  const seen = new Set<string>();
  for (const a of actions) {
    validateKey(a.key);
    if (seen.has(a.key)) throw new BadParameterError(`atomic write names key ${JSON.stringify(a.key)} more than once`);
    seen.add(a.key);
    switch (a.condition?.kind) {
      case 'whatever':
      case 'exists':
      case 'not-exists':
        break;
      case 'revision':
        if (typeof a.condition.revision !== 'string') throw new BadParameterError('revision condition requires a revision');
        break;
      default:
        throw new BadParameterError(`unknown condition ${JSON.stringify((a.condition as { kind?: unknown } | undefined)?.kind)}`);
    }
    switch (a.action?.kind) {
      case 'put':
        validateValueAndExpiry(a.action.item);
        break;
      case 'delete':
      case 'nop':
        break;
      default:
        throw new BadParameterError(`unknown action ${JSON.stringify((a.action as { kind?: unknown } | undefined)?.kind)}`);
    }
  }
}
