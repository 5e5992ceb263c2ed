/**
 * Caches fed by the backend watch (`@teleport-ts/core/cache`), after Teleport's `lib/cache`: what the auth server
 * reads on every request (CAs, users, roles, locks, tokens, database servers, nodes, proxies, cluster
 * configuration) is held in memory, initialised from a range read and kept current by the backend's watch.
 *
 * - Initialisation: open a watcher, wait for its `init`, read every prefix, replay the events that arrived
 *   meanwhile (drained at once, so the driver's queue never overflows during a slow read), and check that the
 *   watcher is still open before serving: a watch that broke during the read is never mistaken for a live one.
 * - Loss of the watch: re-initialised after a jittered backoff that starts over only after a watch stayed up
 *   for `healthyAfterMs`, so a watch that keeps breaking right after `init` slows down instead of reloading in a
 *   loop (Teleport #69783). Meanwhile reads ask the backend and fall back to the last known state when it does
 *   not answer (a backend outage): what can be served from memory is served.
 * - Expiry: an item is hidden from its expiry on, before the sweep's `delete` arrives.
 * - This process's writes: through either facade they are remembered per prefix, and reads of a prefix this process
 *   wrote to go to the backend until a barrier (a nonce written to a key of this process and seen coming back on
 *   the watch) shows that memory holds them: a process always reads its own writes, without waiting for the watch
 *   latency (seconds on CockroachDB). Other processes' writes are seen after the watch latency.
 *
 * @example
 * ```ts
 * const cache = startBackendCache({ backend, prefixes: ['/roles/', '/locks/'] });
 * await cache.whenReady(5_000);
 * const roles = newAccessService(cache.cached);
 * ```
 */

import type { Backend } from '../backend/types.js';
import { newCacheCore, runCache, type BackendCacheOptions, type CacheState } from './cache.js';
import { newFacades } from './facade.js';

export type { BackendCacheOptions, CacheDiagnostic, CacheState } from './cache.js';

export interface BackendCache {
  /** Reads of cached prefixes from memory; writes to the backend. */
  readonly cached: Backend;
  /** Reads and writes on the backend (writes remembered for the barrier). */
  readonly direct: Backend;
  /** `direct` whose `put`s are not remembered: for agents' heartbeats, which nobody reads back (see `newFacades`). */
  readonly heartbeats: Backend;
  /** `cold`, `ready` or `stale`. */
  state(): CacheState;
  /** Increments on every change applied to memory: a cheap key for memoising what is derived from it. */
  version(): number;
  /** How many times the cache was (re)initialised. */
  initialisations(): number;
  /** Resolves true once the cache is ready, or false after `timeoutMs`. */
  whenReady(timeoutMs: number): Promise<boolean>;
  /** Stops the watch; the facades then read from the backend. */
  close(): Promise<void>;
}

/**
 * Starts a cache and its watch loop (it does not wait for the first initialisation: see `whenReady`).
 *
 * @example
 * ```ts
 * const cache = startBackendCache({ backend, prefixes: ['/locks/'], onDiagnostic: (d) => log.info('cache', d) });
 * ```
 */
export function startBackendCache(options: BackendCacheOptions): BackendCache {
  const s = newCacheCore(options);
  const loop = runCache(s);
  const facades = newFacades(s);
  return {
    ...facades,
    state: () => s.state,
    version: () => s.version,
    initialisations: () => s.reinits,
    whenReady: (timeoutMs) => {
      if (s.state === 'ready') return Promise.resolve(true);
      return new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), timeoutMs);
        s.readyWaiters.push(() => {
          clearTimeout(timer);
          resolve(true);
        });
      });
    },
    async close() {
      if (s.closed) return;
      s.closed = true;
      s.state = 'cold';
      s.watcher?.close();
      s.wake?.();
      await loop;
    },
  };
}

export { newRemoteBackend, rangeWithin, type RemoteBackendOptions, type RemoteBackendSource } from './remote.js';
