import { rangeEnd } from '../backend/keys.js';
import { jitteredBackoff, sleep } from '../backend/retry.js';
import { MAX_RANGE_LIMIT, type Backend, type Item } from '../backend/types.js';
import { BadParameterError, CompareFailedError, isAlreadyExists, isCompareFailed, isNotFound } from '../errors/index.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** JSON bytes of a value, as every service stores it. */
export function encodeJson(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/** Parses stored JSON; corruption is reported without echoing the bytes (they may hold secrets). */
export function decodeJson(item: Pick<Item, 'key' | 'value'>): unknown {
  try {
    return JSON.parse(decoder.decode(item.value));
  } catch {
    throw new BadParameterError(`stored item ${item.key} is not valid JSON`);
  }
}

/**
 * `decode`, remembered per item object (forgotten with it). A cache (`core/cache`) hands out the same item object
 * until its key is written again, so a listing of thousands of heartbeating resources read from a cache decodes each
 * once per heartbeat, not once per read. Callers share the decoded value: they must not change it.
 */
export function decodedPerItem<T>(decode: (item: Item) => T): (item: Item) => T {
  const seen = new WeakMap<Item, T>();
  return (item) => {
    let value = seen.get(item);
    if (value === undefined) {
      value = decode(item);
      seen.set(item, value);
    }
    return value;
  };
}

/** Every live item under `prefix`, in key order, read page by page. */
export async function getAllWithPrefix(backend: Backend, prefix: string): Promise<Item[]> {
  const end = rangeEnd(prefix);
  const out: Item[] = [];
  let start = prefix;
  for (;;) {
    const { items } = await backend.getRange(start, end, MAX_RANGE_LIMIT);
    out.push(...items);
    if (items.length < MAX_RANGE_LIMIT) return out;
    // The smallest key after the last one read.
    start = `${items[items.length - 1]!.key}\u0000`;
  }
}

/** The item at `key`, or `undefined` when there is none. */
export async function getOptional(backend: Backend, key: string): Promise<Item | undefined> {
  try {
    return await backend.get(key);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** How often {@link updateWithRetry} retries a write that lost a race. */
const MAX_CAS_ATTEMPTS = 16;

/**
 * Read-modify-write of one key that is safe with several writers (several auth servers on one backend):
 * reads the item, computes the new value, writes it only if nobody wrote in between, and retries
 * otherwise. `update` receives `undefined` when the key is absent; returning `undefined` writes nothing.
 */
export async function updateWithRetry<T>(
  backend: Backend,
  key: string,
  update: (current: Item | undefined) => { value: T; expires?: Date | undefined } | undefined,
): Promise<T | undefined> {
  for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
    const current = await getOptional(backend, key);
    const next = update(current);
    if (next === undefined) return undefined;
    const item = { key, value: encodeJson(next.value), expires: next.expires };
    try {
      if (current === undefined) await backend.create(item);
      else await backend.conditionalUpdate({ ...item, revision: current.revision });
      return next.value;
    } catch (err) {
      if (!(isCompareFailed(err) || isAlreadyExists(err) || isNotFound(err))) throw err;
      // Lost the race: back off (with jitter, so racing writers spread out) and read again.
      await sleep(jitteredBackoff(attempt, { baseMs: 2, maxMs: 200 }));
    }
  }
  throw new CompareFailedError(`too many concurrent writes to ${key}, try again`);
}

/**
 * A resource's plain-data form without `metadata.revision`: the revision is the backend's, set on reads,
 * and never stored.
 */
export function storedForm(wire: Record<string, unknown>): Record<string, unknown> {
  const metadata = wire['metadata'];
  if (typeof metadata !== 'object' || metadata === null || !('revision' in metadata)) return wire;
  const { revision: _revision, ...rest } = metadata as Record<string, unknown>;
  return { ...wire, metadata: rest };
}

/** Adds the backend revision of `item` to a resource's metadata before it is parsed. */
export function withRevision(raw: unknown, item: Pick<Item, 'revision'>): unknown {
  if (typeof raw !== 'object' || raw === null) return raw;
  const r = raw as Record<string, unknown>;
  const metadata = typeof r['metadata'] === 'object' && r['metadata'] !== null ? r['metadata'] : {};
  return { ...r, metadata: { ...metadata, revision: item.revision } };
}
