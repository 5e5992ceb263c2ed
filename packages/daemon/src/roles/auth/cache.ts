/**
 * The auth server's cache (`core/cache`): the resources read on every request, held in memory and kept current by
 * the backend watch, so several auth servers on one backend see each other's writes within the watch latency and
 * keep answering reads while the backend is down.
 */

import type { Backend } from '@teleport-ts/core/backend';
import { startBackendCache, type BackendCache, type BackendCacheOptions } from '@teleport-ts/core/cache';
import type { Logger } from '../../logger.js';

/**
 * What is cached: CAs, users, roles, locks, join tokens, database servers, SSH nodes, proxies and the cluster
 * configuration (name, auth preference). Everything else (access requests, user tokens, audit) is read from the backend.
 */
const AUTH_CACHE_PREFIXES = [
  '/authorities/',
  '/web/users/',
  '/roles/',
  '/locks/',
  '/tokens/',
  '/db_servers/',
  '/nodes/',
  '/proxies/',
  '/cluster_configuration/',
] as const;

/** How long start-up waits for the first initialisation before serving with reads going to the backend. */
const CACHE_READY_TIMEOUT_MS = 15_000;

/** Tuning for tests; the defaults suit production. */
export type AuthCacheSettings = Pick<BackendCacheOptions, 'backoff' | 'healthyAfterMs' | 'staleReadTimeoutMs' | 'downProbeIntervalMs'>;

/**
 * Starts the cache and waits for its first initialisation (Teleport's auth is not ready before its cache is); if the
 * backend watch is not ready in time, the server starts anyway with reads going to the backend until it is.
 */
export async function startAuthCache(backend: Backend, logger: Logger, settings: AuthCacheSettings = {}): Promise<BackendCache> {
  const cache = startBackendCache({
    ...settings,
    backend,
    prefixes: AUTH_CACHE_PREFIXES,
    name: 'auth',
    onDiagnostic: (d) => {
      if (d.event === 'ready') logger.info('cache is ready', { attempt: d.attempt, items: d.items, ms: d.ms });
      else if (d.event === 'stale-read') logger.debug('backend unreachable, answered from the cache', { error: d.reason });
      else if (d.event === 'barrier-timeout') logger.warn('the backend watch did not deliver a write of this process in time; reading those resources from the backend meanwhile');
      else logger.warn(d.event === 'lost' ? 'cache lost the backend watch, re-initialising' : 'cache initialisation failed', { error: d.reason, retry_in_ms: d.retryInMs });
    },
  });
  if (!(await cache.whenReady(CACHE_READY_TIMEOUT_MS))) logger.warn('cache is not ready yet, reading from the backend meanwhile');
  return cache;
}
