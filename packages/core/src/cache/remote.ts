import { rangeEnd, validateKey } from '../backend/keys.js';
import type { Backend, BackendEvent, GetRangeResult, Item, WatchOptions, Watcher } from '../backend/types.js';
import { QueueWatcher } from '../backend/watcher.js';
import type { Clock } from '../clock/index.js';
import { BadParameterError, ConnectionProblemError, NotFoundError, isTeleportError } from '../errors/index.js';

/**
 * Where a remote backend reads: the auth server's scoped range reads and watch stream (`GET /v1/backend/items`,
 * `GET /v1/backend/watch` through `core/api`), or anything with the same contract.
 */
export interface RemoteBackendSource {
  /** Items with `start <= key < end`, ascending, at most `limit`. */
  range(start: string, end: string, limit?: number): Promise<Item[]>;
  /** The watch: `init` once the stream sees every change under `prefixes`, then puts and deletes in commit order. */
  watch(prefixes: readonly string[], signal: AbortSignal): AsyncIterable<BackendEvent>;
}

export interface RemoteBackendOptions {
  source: RemoteBackendSource;
  clock: Clock;
  /** The prefixes the source serves to this process: watchers follow only these (a cache's barrier key is dropped). */
  prefixes: readonly string[];
  /** A label for error messages, e.g. `auth server 10.0.0.1:3025`. */
  peer?: string;
}

const readOnly = (): never => {
  throw new BadParameterError('this backend is a read-only view of the auth server', { hint: 'write through the auth API' });
};

/** Runs the source's watch into a queue watcher until either side ends. */
function pumpWatch(options: RemoteBackendOptions, watcher: QueueWatcher, prefixes: readonly string[]): void {
  const abort = new AbortController();
  void watcher.done.then(() => abort.abort());
  void (async () => {
    let reason: Error | undefined;
    try {
      for await (const event of options.source.watch(prefixes, abort.signal)) watcher.push(event);
      reason = new ConnectionProblemError(`the watch stream of ${options.peer ?? 'the auth server'} ended`);
    } catch (err) {
      reason = isTeleportError(err) ? err : new ConnectionProblemError(`the watch stream of ${options.peer ?? 'the auth server'} failed`);
    }
    watcher.closeWith(abort.signal.aborted ? undefined : reason);
  })();
}

/**
 * A read-only {@link Backend} over an auth server's API, so that a process without a backend of its own (a proxy,
 * a db agent, an SSH node) can run a `core/cache` cache fed by the auth server's watch, as Teleport's proxies run
 * their cache over the auth API: `getRange` is the list call of initialisation, `newWatcher` the watch stream.
 * Reads fail with `connection-problem` while the auth server is unreachable, which the cache answers from memory.
 *
 * @example
 * ```ts
 * const remote = newRemoteBackend({ source: { range: (s, e, l) => auth.getBackendItems(s, e, l), watch: (p, sig) => auth.watchBackend(p, sig) }, clock, prefixes });
 * const cache = startBackendCache({ backend: remote, prefixes });
 * ```
 */
export function newRemoteBackend(options: RemoteBackendOptions): Backend {
  const served = [...options.prefixes];
  const getRange = async (start: string, end: string, limit?: number): Promise<GetRangeResult> => ({ items: await options.source.range(start, end, limit) });
  return {
    kind: 'remote',
    clock: options.clock,
    async get(key) {
      validateKey(key);
      const item = (await options.source.range(key, `${key}\u0000`, 1))[0];
      if (item === undefined || item.key !== key) throw new NotFoundError(`key ${JSON.stringify(key)} is not found`);
      return item;
    },
    getRange,
    async newWatcher(watch?: WatchOptions): Promise<Watcher> {
      const asked = watch?.prefixes && watch.prefixes.length > 0 ? watch.prefixes : served;
      // Only what the source serves is asked for; a key outside (a cache's barrier) never comes back.
      const prefixes = asked.filter((a) => served.some((p) => a.startsWith(p)));
      if (prefixes.length === 0) throw new BadParameterError('the watch asks for nothing the auth server serves to this process');
      const watcher = new QueueWatcher({ ...watch, prefixes });
      pumpWatch(options, watcher, prefixes);
      return watcher;
    },
    create: readOnly,
    put: readOnly,
    update: readOnly,
    compareAndSwap: readOnly,
    conditionalUpdate: readOnly,
    conditionalDelete: readOnly,
    delete: readOnly,
    deleteRange: readOnly,
    keepAlive: readOnly,
    atomicWrite: readOnly,
    close: async () => {},
  };
}

/** Whether `[start, end)` lies inside `prefix` (the range reads a remote source may serve). */
export function rangeWithin(prefix: string, start: string, end: string): boolean {
  return start.startsWith(prefix) && (end === rangeEnd(prefix) || end.startsWith(prefix));
}
