/**
 * The cache of a process without a backend of its own (a proxy alone, a db agent, an SSH node), after Teleport's
 * proxy and agent caches: `core/cache` over the auth server's backend watch (`newRemoteBackend`), initialised from
 * the auth server's range reads plus the watch, re-initialised on watch loss with jittered backoff (the cache's
 * own loop, which does not reload in a loop), and read on every request instead of the auth API. While the auth
 * server is unreachable, reads answer from the last state the watch showed: routing and RBAC keep working.
 */

import type { AuthClient, DatabaseServer, ProxyServer } from '@teleport-ts/core/api';
import { compareDatabaseServers, DatabaseServerSchema, ProxyServerSchema } from '@teleport-ts/core/api';
import { newRemoteBackend, startBackendCache, type BackendCache, type BackendCacheOptions, type CacheDiagnostic } from '@teleport-ts/core/cache';
import type { CertAuthorityType } from '@teleport-ts/core/ca';
import type { Clock } from '@teleport-ts/core/clock';
import { parseWith } from '@teleport-ts/core/schema';
import { decodedPerItem, decodeJson, getAllWithPrefix, newAccessService, newLockService, newTrustService } from '@teleport-ts/core/services';
import { compareNodes, parseNode, type NodeServer } from '@teleport-ts/core/types';
import type { Logger } from '../logger.js';

/** What a proxy reads on every request: CAs, roles, locks, database servers, nodes, proxies, cluster configuration. */
export const PROXY_CACHE_PREFIXES = ['/authorities/', '/roles/', '/locks/', '/db_servers/', '/nodes/', '/proxies/', '/cluster_configuration/'] as const;
/**
 * What an agent (db, SSH node) checks sessions with (CAs, roles, locks, cluster configuration), and the proxies'
 * heartbeats its reverse tunnels follow (a new proxy is dialed as soon as it heartbeats, not at the next poll).
 */
export const AGENT_CACHE_PREFIXES = ['/authorities/', '/roles/', '/locks/', '/proxies/', '/cluster_configuration/'] as const;

/** The reads a cache answers, with the auth client's signatures. */
export type CachedReads = Pick<AuthClient, 'getCertAuthorities' | 'getDatabaseServers' | 'getNodes' | 'getLocks' | 'getProxies' | 'getRole'>;

export interface RemoteCache {
  readonly cache: BackendCache;
  readonly reads: CachedReads;
  /** Calls `listener` after every change of memory under `prefix` (and after every (re)load); returns the unsubscribe. */
  subscribe(prefix: string, listener: () => void): () => void;
  close(): Promise<void>;
}

/** Tuning for tests; the defaults suit production. */
export type RemoteCacheSettings = Pick<BackendCacheOptions, 'backoff' | 'healthyAfterMs' | 'staleReadTimeoutMs' | 'downProbeIntervalMs' | 'resumeJitterMs'>;

/**
 * Agents' caches (db, node, their tunnels' proxy list): after losing a live watch they reload after a random 0-3 s.
 * An auth server whose backend watch resets, or that dies, ends the streams of every agent on it at once; spread out,
 * a fleet of 10,000 comes back at about 3,000 reloads/s instead of all within 100 ms (Teleport spreads watcher
 * resumes over 10 s; shorter here because an agent learns of a restarted proxy through this watch). Proxies keep
 * the plain backoff: there are few of them.
 */
export const AGENT_CACHE_SETTINGS: RemoteCacheSettings = Object.freeze({ resumeJitterMs: 3_000 });

/** How long start-up waits for the first initialisation (reads go to the auth server until then). */
const READY_TIMEOUT_MS = 5_000;

function logDiagnostic(logger: Logger, d: CacheDiagnostic): void {
  if (d.event === 'ready') logger.info('cache is ready', { cache: d.name, attempt: d.attempt, items: d.items, ms: d.ms });
  else if (d.event === 'stale-read') logger.debug('auth server unreachable, answered from the cache', { cache: d.name, error: d.reason });
  else if (d.event === 'lost' || d.event === 'init-failed') {
    logger.warn(d.event === 'lost' ? 'cache lost the auth server watch, re-initialising' : 'cache initialisation failed', { cache: d.name, error: d.reason, retry_in_ms: d.retryInMs });
  }
}

function withExpiry<T extends { metadata: { expires?: string } }>(value: T, expires: Date | undefined): T {
  if (expires) value.metadata.expires = expires.toISOString();
  return value;
}

const byName = (a: { metadata: { name: string } }, b: { metadata: { name: string } }): number => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0);

/**
 * Database servers and nodes, checked once per heartbeat rather than on every read: a proxy reads them to route every
 * database connection and `tsh ssh`, and with thousands of agents a full parse of each on every read cost tens of ms.
 */
const cachedDatabaseServer = decodedPerItem((item) => withExpiry(parseWith(DatabaseServerSchema, decodeJson(item), 'cached database server'), item.expires));
const cachedNode = decodedPerItem((item) => {
  const raw = decodeJson(item) as { metadata?: Record<string, unknown> };
  return parseNode({ ...raw, metadata: { ...raw.metadata, ...(item.expires ? { expires: item.expires.toISOString() } : {}) } });
});

/** The auth client's reads, answered by the cache (the same shapes as the auth API's answers to a proxy). */
function cachedReads(cache: BackendCache): CachedReads {
  const b = cache.cached;
  const trust = newTrustService(b);
  const locks = newLockService(b);
  const access = newAccessService(b);
  return {
    getCertAuthorities: async (type: CertAuthorityType) => (await trust.getCertAuthorities(type)).map((s) => s.ca),
    getLocks: () => locks.getLocks(),
    getRole: (name) => access.getRole(name),
    async getDatabaseServers(): Promise<DatabaseServer[]> {
      const servers = (await getAllWithPrefix(b, '/db_servers/')).map(cachedDatabaseServer);
      return servers.sort(compareDatabaseServers);
    },
    async getNodes(): Promise<NodeServer[]> {
      return (await getAllWithPrefix(b, '/nodes/')).map(cachedNode).sort(compareNodes);
    },
    async getProxies(): Promise<ProxyServer[]> {
      const items = await getAllWithPrefix(b, '/proxies/');
      return items.map((item) => withExpiry(parseWith(ProxyServerSchema, decodeJson(item), 'cached proxy'), item.expires)).sort(byName);
    },
  };
}

export interface RemoteCacheOptions {
  auth: Pick<AuthClient, 'getBackendItems' | 'watchBackend'>;
  prefixes: readonly string[];
  name: string;
  clock: Clock;
  logger: Logger;
  settings?: RemoteCacheSettings;
  onDiagnostic?: (d: CacheDiagnostic) => void;
}

/**
 * Starts the cache over `auth`'s backend watch without waiting: until its first initialisation, reads go to the
 * auth server (the remote backend's range reads).
 *
 * @example
 * ```ts
 * const remote = openRemoteCache({ auth: client, prefixes: AGENT_CACHE_PREFIXES, name: 'node', clock, logger });
 * const role = await remote.reads.getRole('access');
 * ```
 */
export function openRemoteCache(options: RemoteCacheOptions): RemoteCache {
  const backend = newRemoteBackend({
    source: { range: (start, end, limit) => options.auth.getBackendItems(start, end, limit), watch: (prefixes, signal) => options.auth.watchBackend(prefixes, signal) },
    clock: options.clock,
    prefixes: options.prefixes,
    peer: 'the auth server',
  });
  const listeners = new Set<{ prefix: string; listener: () => void }>();
  const cache = startBackendCache({
    ...options.settings,
    backend,
    prefixes: options.prefixes,
    name: options.name,
    onDiagnostic: (d) => {
      logDiagnostic(options.logger, d);
      options.onDiagnostic?.(d);
    },
    onChange: (key) => {
      for (const l of listeners) if (key === undefined || key.startsWith(l.prefix)) l.listener();
    },
  });
  return {
    cache,
    reads: cachedReads(cache),
    subscribe(prefix, listener) {
      const entry = { prefix, listener };
      listeners.add(entry);
      return () => listeners.delete(entry);
    },
    close: () => cache.close(),
  };
}

/**
 * {@link openRemoteCache}, then waits (a few seconds at most) for the first initialisation.
 *
 * @example
 * ```ts
 * const remote = await startRemoteCache({ auth: client, prefixes: PROXY_CACHE_PREFIXES, name: 'proxy', clock, logger });
 * const servers = await remote.reads.getDatabaseServers();
 * ```
 */
export async function startRemoteCache(options: RemoteCacheOptions): Promise<RemoteCache> {
  const remote = openRemoteCache(options);
  if (!(await remote.cache.whenReady(READY_TIMEOUT_MS))) options.logger.warn('cache is not ready yet, reading from the auth server meanwhile', { cache: options.name });
  return remote;
}

/** An auth client whose per-request reads come from the cache; everything else goes to `auth`. */
export function withCachedReads<T extends object>(auth: T, reads: CachedReads): T & CachedReads {
  // Forwarded, not spread: the auth client may be a renewing client whose methods move to a new client on renewal.
  return new Proxy(auth, {
    get: (target, prop) => (Object.hasOwn(reads, prop) ? (reads as Record<PropertyKey, unknown>)[prop] : Reflect.get(target, prop)),
  }) as T & CachedReads;
}
