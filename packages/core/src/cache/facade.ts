import { randomUUID } from 'node:crypto';
import { validateKey } from '../backend/keys.js';
import type { Backend, ConditionalAction, GetRangeResult, Item } from '../backend/types.js';
import { ConnectionProblemError, NotFoundError, isTeleportError } from '../errors/index.js';
import type { CacheCore } from './cache.js';

const encoder = new TextEncoder();

/** How long the barrier key lives in the backend after this process last wrote it (then the sweep removes it). */
const BARRIER_KEY_TTL_MS = 60_000;

/** Marks the prefixes a write of this process touched: reads of them go to the backend until the watch shows it. */
function markWritten(s: CacheCore, prefixes: readonly string[]): void {
  if (prefixes.length === 0) return;
  const n = ++s.writes;
  for (const p of prefixes) s.dirty.set(p, n);
}

function prefixesOfKeys(s: CacheCore, keys: readonly string[]): string[] {
  const out = new Set<string>();
  for (const k of keys) {
    const p = s.store.collectionOf(k);
    if (p !== undefined) out.add(p);
  }
  return [...out];
}

async function written<T>(s: CacheCore, prefixes: () => string[], write: () => Promise<T>): Promise<T> {
  try {
    const result = await write();
    // The backend just answered: reads that wait on this write must ask it, not the memory of an outage.
    s.downUntil = 0;
    return result;
  } finally {
    markWritten(s, prefixes());
  }
}

/**
 * Writes a fresh nonce to this process's barrier key and waits until the watch delivers it: every write that
 * completed before is then in memory (the watch delivers changes in commit order). One barrier serves every write
 * that completed before it started.
 */
function barrier(s: CacheCore, target: number): Promise<boolean> {
  const inflight = s.inflightBarrier;
  if (inflight !== undefined && inflight.target >= target) return inflight.done;
  const nonce = randomUUID();
  const entry: { target: number; done: Promise<boolean> } = { target, done: Promise.resolve(false) };
  entry.done = (async (): Promise<boolean> => {
    let timer: NodeJS.Timeout | undefined;
    const reached = new Promise<boolean>((resolve) => {
      s.barriers.set(nonce, () => resolve(true));
      timer = setTimeout(() => resolve(false), s.options.barrierTimeoutMs ?? 10_000);
    });
    try {
      const expires = new Date(s.backend.clock.now().getTime() + BARRIER_KEY_TTL_MS);
      await s.backend.put({ key: s.barrierKey, value: encoder.encode(nonce), expires });
      const ok = await Promise.race([reached, (s.watcher?.done ?? Promise.resolve()).then(() => false)]);
      if (ok) s.synced = Math.max(s.synced, target);
      else report(s);
      return ok;
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
      s.barriers.delete(nonce);
      if (s.inflightBarrier === entry) s.inflightBarrier = undefined;
    }
  })();
  s.inflightBarrier = entry;
  return entry.done;
}

function report(s: CacheCore): void {
  try {
    s.options.onDiagnostic?.({ event: 'barrier-timeout', name: s.name });
  } catch {
    // ignored, as every diagnostic
  }
}

/**
 * Whether memory already shows this process's writes under `prefix`. When it may not, a barrier is started (one for
 * every reader waiting on the same writes) and the caller reads the backend meanwhile.
 */
function caughtUp(s: CacheCore, prefix: string): boolean {
  const target = s.dirty.get(prefix) ?? 0;
  if (target <= s.synced) return true;
  void barrier(s, target);
  return false;
}

const isUnavailable = (err: unknown): boolean => isTeleportError(err) && err.kind === 'connection-problem';

/**
 * While the watch is down, memory may be behind: ask the backend, and answer from memory (the last state the watch
 * showed) only when the backend does not answer in time or is unreachable. After such a failure reads go straight to
 * memory for a while, so an outage costs one probe per interval rather than one per request.
 */
async function staleRead<T>(s: CacheCore, memory: () => T, backend: () => Promise<T>): Promise<T> {
  if (performance.now() < s.downUntil) return memory();
  let timer: NodeJS.Timeout | undefined;
  const timeoutMs = s.options.staleReadTimeoutMs ?? 500;
  const call = backend();
  try {
    return await Promise.race([
      call,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new ConnectionProblemError(`the backend did not answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (err) {
    if (!isUnavailable(err)) throw err;
    call.catch(() => undefined);
    s.downUntil = performance.now() + (s.options.downProbeIntervalMs ?? 1_000);
    try {
      s.options.onDiagnostic?.({ event: 'stale-read', name: s.name, reason: (err as Error).message });
    } catch {
      // ignored
    }
    return memory();
  } finally {
    clearTimeout(timer);
  }
}

/**
 * One read of a cached prefix, by the cache's state: from memory when it is live and shows this process's writes;
 * from the backend when it was never loaded; otherwise from the backend with memory as the fallback.
 */
async function read<T>(s: CacheCore, prefix: string, memory: () => T, backend: () => Promise<T>): Promise<T> {
  if (s.state === 'ready' && caughtUp(s, prefix)) return memory();
  if (s.state === 'cold') return backend();
  return staleRead(s, memory, backend);
}

function getCached(s: CacheCore, key: string): Promise<Item> {
  validateKey(key);
  const prefix = s.store.collectionOf(key);
  if (prefix === undefined) return s.backend.get(key);
  return read(
    s,
    prefix,
    () => {
      const item = s.store.get(key, s.backend.clock.now());
      if (item === undefined) throw new NotFoundError(`key ${JSON.stringify(key)} is not found`);
      return item;
    },
    () => s.backend.get(key),
  );
}

function getRangeCached(s: CacheCore, start: string, end: string, limit?: number): Promise<GetRangeResult> {
  validateKey(start);
  validateKey(end);
  const prefix = s.store.coveringPrefix(start, end);
  if (prefix === undefined) return s.backend.getRange(start, end, limit);
  return read(
    s,
    prefix,
    () => ({ items: s.store.range(prefix, start, end, s.backend.clock.now(), limit) }),
    () => s.backend.getRange(start, end, limit),
  );
}

/** The writes, the same on both facades: passed to the backend, then marked. */
function writes(s: CacheCore): Omit<Backend, 'kind' | 'clock' | 'get' | 'getRange' | 'newWatcher' | 'close' | 'sweepExpired'> {
  const b = s.backend;
  const one = (k: string) => () => prefixesOfKeys(s, [k]);
  return {
    create: (item) => written(s, one(item.key), () => b.create(item)),
    put: (item) => written(s, one(item.key), () => b.put(item)),
    update: (item) => written(s, one(item.key), () => b.update(item)),
    compareAndSwap: (expected, replaceWith) => written(s, one(replaceWith.key), () => b.compareAndSwap(expected, replaceWith)),
    conditionalUpdate: (item) => written(s, one(item.key), () => b.conditionalUpdate(item)),
    conditionalDelete: (key, revision) => written(s, one(key), () => b.conditionalDelete(key, revision)),
    delete: (key) => written(s, one(key), () => b.delete(key)),
    deleteRange: (start, end) => written(s, () => s.store.overlapping(start, end), () => b.deleteRange(start, end)),
    keepAlive: (lease, expires) => written(s, one(lease.key), () => b.keepAlive(lease, expires)),
    atomicWrite: (actions: ConditionalAction[]) =>
      written(
        s,
        () => prefixesOfKeys(s, Array.isArray(actions) ? actions.map((a) => a.key) : []),
        () => b.atomicWrite(actions),
      ),
  };
}

/**
 * The faces of a cache, all `Backend`s over the same storage:
 * - `cached` answers `get`/`getRange` of cached prefixes from memory (see {@link read});
 * - `direct` reads from the backend, for read-modify-write cycles that must see the latest revision;
 * - `heartbeats` is `direct` whose writes are not remembered (below).
 * Writes through `cached` or `direct` go to the backend and are remembered: until the watch has delivered them (a
 * barrier), this process reads those prefixes from the backend, so it always reads its own writes. Agents'
 * heartbeats are not read back by whoever wrote them, and a fleet's stream of them would keep their prefix
 * unsettled for good: every `tsh ls` would then read (and decode) every node from the backend, which at 10,000
 * agents was 100-250 ms of the auth server's time per listing (`pnpm bench scale`). They go through `heartbeats`, so
 * listings show them once the watch does, within milliseconds, as Teleport's cached listings do. `close()` of a
 * facade closes nothing: the backend belongs to whoever opened it.
 */
export function newFacades(s: CacheCore): { cached: Backend; direct: Backend; heartbeats: Backend } {
  const b = s.backend;
  const common = {
    kind: b.kind,
    clock: b.clock,
    newWatcher: (options?: Parameters<Backend['newWatcher']>[0]) => b.newWatcher(options),
    close: async () => {},
    ...(b.sweepExpired ? { sweepExpired: () => b.sweepExpired!() } : {}),
    ...writes(s),
  };
  const direct: Backend = { ...common, get: (key) => b.get(key), getRange: (start, end, limit) => b.getRange(start, end, limit) };
  return {
    cached: { ...common, get: (key) => getCached(s, key), getRange: (start, end, limit) => getRangeCached(s, start, end, limit) },
    direct,
    heartbeats: { ...direct, put: (item) => b.put(item) },
  };
}
