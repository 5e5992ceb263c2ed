import { randomUUID } from 'node:crypto';
import { key as joinKey } from '../backend/keys.js';
import { jitteredBackoff } from '../backend/retry.js';
import type { Backend, BackendEvent, Watcher } from '../backend/types.js';
import { ConnectionProblemError, LimitExceededError, redact } from '../errors/index.js';
import { getAllWithPrefix } from '../services/items.js';
import { CacheStore } from './store.js';

/** What the cache reports about itself; core never logs, the daemon does. */
export type CacheDiagnostic =
  | { event: 'ready'; name: string; attempt: number; items: number; ms: number }
  | { event: 'lost'; name: string; reason: string; retryInMs: number }
  | { event: 'init-failed'; name: string; reason: string; retryInMs: number }
  | { event: 'stale-read'; name: string; reason: string }
  | { event: 'barrier-timeout'; name: string };

export interface BackendCacheOptions {
  backend: Backend;
  /** Key prefixes held in memory (`/roles/`, `/locks/`...). */
  prefixes: readonly string[];
  /** A label for diagnostics and the watcher. */
  name?: string;
  /** Jittered backoff between re-initialisations (default 100 ms doubling up to 10 s). */
  backoff?: { baseMs?: number; maxMs?: number };
  /** How long a watch must stay up before the backoff starts over (default 30 s): see {@link startBackendCache}. */
  healthyAfterMs?: number;
  /**
   * After losing a watch that was live, the first re-initialisation waits a random 0..resumeJitterMs instead of the
   * backoff's first step (default 0: the backoff). Agents set it: an auth server whose own backend watch resets ends
   * every agent's stream at once, and a fleet should come back spread out (Teleport resumes watchers after a full
   * jitter of 10 s). Reads stay correct meanwhile (a stale cache asks the backend first).
   */
  resumeJitterMs?: number;
  /** Source of the jitter, in [0, 1) (tests). Default `Math.random`. */
  random?: () => number;
  /** How long one initialisation waits for the watch's `init` (default 30 s). */
  initTimeoutMs?: number;
  /** Events buffered while the snapshot is read before the attempt is abandoned (default 1,000,000). */
  maxBufferedEvents?: number;
  /** While the watch is down, how long a read waits for the backend before it is answered from memory (default 500 ms). */
  staleReadTimeoutMs?: number;
  /** After the backend failed a read, how long reads go straight to memory (default 1 s). */
  downProbeIntervalMs?: number;
  /** How long a barrier waits for the watch to bring back its nonce (default 10 s); reads do not wait for it. */
  barrierTimeoutMs?: number;
  onDiagnostic?: (record: CacheDiagnostic) => void;
  /** Memory changed: `key` was put or deleted by the watch, or (undefined) the whole cache was (re)loaded. */
  onChange?: (key: string | undefined) => void;
}

/** `cold`: never initialised (reads go to the backend); `ready`: served from memory; `stale`: the watch was lost. */
export type CacheState = 'cold' | 'ready' | 'stale';

/** The state every step of the cache works on. */
export interface CacheCore {
  readonly backend: Backend;
  readonly name: string;
  readonly store: CacheStore;
  readonly prefixes: readonly string[];
  /** A key of this process that the watch also follows: writing a nonce there and seeing it come back is a barrier. */
  readonly barrierKey: string;
  readonly options: BackendCacheOptions;
  state: CacheState;
  /** Increments on every change applied to memory (and on every reload). */
  version: number;
  /** Counter of this process's writes, and per prefix the last write that touched it. */
  writes: number;
  readonly dirty: Map<string, number>;
  /** Writes up to this number are visible in memory. */
  synced: number;
  readonly barriers: Map<string, () => void>;
  inflightBarrier: { target: number; done: Promise<boolean> } | undefined;
  /** Reads go straight to memory until this instant (performance.now()) after the backend failed one. */
  downUntil: number;
  watcher: Watcher | undefined;
  closed: boolean;
  wake: (() => void) | undefined;
  readyWaiters: (() => void)[];
  reinits: number;
}

export function newCacheCore(options: BackendCacheOptions): CacheCore {
  const name = options.name ?? 'cache';
  return {
    backend: options.backend,
    name,
    store: new CacheStore(options.prefixes),
    prefixes: [...options.prefixes],
    barrierKey: joinKey('cache_barrier', randomUUID()),
    options,
    state: 'cold',
    version: 0,
    writes: 0,
    dirty: new Map(),
    synced: 0,
    barriers: new Map(),
    inflightBarrier: undefined,
    downUntil: 0,
    watcher: undefined,
    closed: false,
    wake: undefined,
    readyWaiters: [],
    reinits: 0,
  };
}

function report(s: CacheCore, record: CacheDiagnostic): void {
  try {
    s.options.onDiagnostic?.(record);
  } catch {
    // A diagnostic listener never breaks the cache.
  }
}

const message = (err: unknown): string => redact(err instanceof Error ? err.message : String(err));

/**
 * Runs the cache for its whole life: initialise, follow the watch, and after a loss initialise again after a
 * jittered backoff. The backoff starts over only after a watch that stayed up for `healthyAfterMs`: a watch that
 * breaks right after each initialisation (a changefeed that keeps restarting, a queue that overflows while the
 * snapshot is read) makes the delays grow instead of reloading in a loop (Teleport #69783).
 */
export async function runCache(s: CacheCore): Promise<void> {
  let attempt = 0;
  const healthyAfter = s.options.healthyAfterMs ?? 30_000;
  while (!s.closed) {
    let liveSince: number | undefined;
    let reason: unknown;
    try {
      const watcher = await initialise(s, attempt);
      liveSince = performance.now();
      await watcher.done;
      reason = watcher.closeReason ?? new ConnectionProblemError('the cache watcher was closed');
    } catch (err) {
      reason = err;
    }
    s.watcher?.close();
    s.watcher = undefined;
    if (s.closed) break;
    if (s.state === 'ready') s.state = 'stale';
    if (liveSince !== undefined && performance.now() - liveSince >= healthyAfter) attempt = 0;
    const delay = reinitialiseAfter(s.options, attempt++, liveSince !== undefined);
    report(s, { event: liveSince !== undefined ? 'lost' : 'init-failed', name: s.name, reason: message(reason), retryInMs: delay });
    await pause(s, delay);
  }
}

/** The wait before initialisation `attempt` (0 after a healthy watch): see {@link BackendCacheOptions.resumeJitterMs}. */
function reinitialiseAfter(options: BackendCacheOptions, attempt: number, wasLive: boolean): number {
  const random = options.random ?? Math.random;
  const spread = options.resumeJitterMs ?? 0;
  if (wasLive && attempt === 0 && spread > 0) return Math.floor(random() * spread);
  return jitteredBackoff(attempt, { baseMs: options.backoff?.baseMs ?? 100, maxMs: options.backoff?.maxMs ?? 10_000, random });
}

async function pause(s: CacheCore, ms: number): Promise<void> {
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    s.wake = () => {
      clearTimeout(timer);
      resolve();
    };
  });
  s.wake = undefined;
}

/** The watch's events as the cache consumes them: buffered until the snapshot is loaded, applied after. */
interface Pump {
  phase: 'init' | 'buffer' | 'live';
  buffer: BackendEvent[];
  initSeen: Promise<void>;
  /** Set when the pump itself gave up (too many buffered events). */
  failure: Error | undefined;
  /** The watcher ended (for whatever reason, a plain `close()` included). */
  ended: boolean;
}

/** Drains the watcher at once, whatever the phase, so the driver's queue never fills while the snapshot is read. */
function startPump(s: CacheCore, watcher: Watcher): Pump {
  let seen!: () => void;
  const pump: Pump = { phase: 'init', buffer: [], initSeen: new Promise((r) => (seen = r)), failure: undefined, ended: false };
  const max = s.options.maxBufferedEvents ?? 1_000_000;
  void (async () => {
    for await (const event of watcher) {
      if (event.type === 'init') {
        pump.phase = 'buffer';
        seen();
      } else if (pump.phase === 'live') {
        applyEvent(s, event);
      } else if (pump.buffer.length >= max) {
        pump.failure = new LimitExceededError(`cache ${s.name}: more than ${max} events arrived while its snapshot was read`);
        watcher.close();
      } else {
        pump.buffer.push(event);
      }
    }
    pump.ended = true;
  })();
  return pump;
}

/** Opens the watch, waits for `init`, reads the snapshot, replays what arrived meanwhile; resolves once live. */
async function initialise(s: CacheCore, attempt: number): Promise<Watcher> {
  const started = performance.now();
  const watcher = await s.backend.newWatcher({ prefixes: [...s.prefixes, s.barrierKey], name: `cache ${s.name}`, queueSize: 1 << 20 });
  s.watcher = watcher;
  if (s.closed) throw new ConnectionProblemError('the cache is closed');
  const pump = startPump(s, watcher);
  await waitForInit(s, watcher, pump);
  const writesBefore = s.writes;
  const items = (await Promise.all(s.prefixes.map((p) => getAllWithPrefix(s.backend, p)))).flat();
  // The watch may have broken while the snapshot was read: then nothing it buffered can be trusted to be complete.
  if (pump.failure) throw pump.failure;
  if (pump.ended || watcher.closeReason !== undefined || s.watcher !== watcher) {
    throw watcher.closeReason ?? new ConnectionProblemError('the cache watcher closed while the snapshot was read');
  }
  s.store.load(items);
  for (const event of pump.buffer.splice(0)) applyEvent(s, event);
  pump.phase = 'live';
  s.version++;
  s.synced = Math.max(s.synced, writesBefore);
  s.downUntil = 0;
  s.state = 'ready';
  s.reinits++;
  notify(s, undefined);
  report(s, { event: 'ready', name: s.name, attempt, items: s.store.size, ms: Math.round(performance.now() - started) });
  for (const resolve of s.readyWaiters.splice(0)) resolve();
  return watcher;
}

async function waitForInit(s: CacheCore, watcher: Watcher, pump: Pump): Promise<void> {
  const timeoutMs = s.options.initTimeoutMs ?? 30_000;
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    pump.initSeen.then(() => 'init' as const),
    watcher.done.then(() => 'closed' as const),
    new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs))),
  ]);
  clearTimeout(timer);
  if (outcome === 'closed') throw watcher.closeReason ?? new ConnectionProblemError('the cache watcher closed before it was ready');
  if (outcome === 'timeout') throw new ConnectionProblemError(`the backend watch was not ready within ${timeoutMs} ms`);
}

const decoder = new TextDecoder();

/** Applies one event in stream order: the barrier nonce of this process, or a change of a cached key. */
function applyEvent(s: CacheCore, event: BackendEvent): void {
  if (event.type !== 'init' && event.item.key === s.barrierKey) {
    if (event.type === 'put') {
      const nonce = decoder.decode(event.item.value);
      s.barriers.get(nonce)?.();
    }
    return;
  }
  s.store.apply(event);
  s.version++;
  if (event.type !== 'init') notify(s, event.item.key);
}

function notify(s: CacheCore, key: string | undefined): void {
  try {
    s.options.onChange?.(key);
  } catch {
    // A change listener never breaks the cache.
  }
}
