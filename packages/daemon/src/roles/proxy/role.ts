/**
 * Starting the proxy role inside `teleport-ts start`: where its host identity comes from, and which auth server
 * it talks to.
 * - Next to the auth service (`--roles=auth,proxy`): the proxy's `Proxy` host certificate is issued in process
 *   from the host CA at every start, and the proxy calls the local auth API with it.
 * - Alone (`--roles=proxy --auth-server=... --token=... --ca-pin=...`): it joins once with the token (the CA pin
 *   is checked, no trust on first use) and keeps its identity in `<data_dir>/proxy/`.
 */

import path from 'node:path';
import { newAuthClient, type AuthClient, type Identity } from '@teleport-ts/core/api';
import type { Clock } from '@teleport-ts/core/clock';
import { parseIdentity } from '@teleport-ts/core/ca';
import { DEFAULT_PROXY_PEER_PORT, type FileConfig } from '@teleport-ts/core/config';
import { BadParameterError } from '@teleport-ts/core/errors';
import type { Logger } from '../../logger.js';
import { issueLocalHostIdentity, type AuthServer } from '../auth/index.js';
import { loadOrCreateHostUuid } from '../auth/init.js';
import type { HttpsKeyPair } from './certificate.js';
import { startProxyDatabaseAccess, type ProxyDatabaseAccess, type ProxyDatabaseAccessOptions } from './db-access.js';
import { startProxyHeartbeat } from './heartbeat.js';
import { newAuthFallback } from './auth-fallback.js';
import { startProxyService, type ProxyService, type ProxyServiceOptions } from './service.js';
import { loadOrJoinIdentity } from '../join.js';
import { PROXY_CACHE_PREFIXES, startRemoteCache, withCachedReads, type RemoteCache, type RemoteCacheSettings } from '../remote-cache.js';
import { renewingAuthClient, startAgentRenewal, type IdentityRenewal, type RenewingAuthClient } from '../renewal.js';

/** Where a proxy that joined keeps its identity. */
const PROXY_IDENTITY_DIR = 'proxy';

export interface ProxyRoleOptions {
  dataDir: string;
  nodename: string;
  /** `proxy_service` settings. */
  proxy: {
    listenAddr?: string;
    publicAddrs: readonly string[];
    httpsKeyPairs?: readonly HttpsKeyPair[];
    /** `peer_listen_addr` (default `0.0.0.0:3021`) and `peer_public_addr`: used with `tunnel_strategy: proxy_peering`. */
    peerListenAddr?: string;
    peerPublicAddr?: string;
  };
  /** The auth service of this process, when it runs one. */
  auth?: AuthServer;
  /** How a proxy alone joins. `token` is a secret. */
  join: { token?: string; authServer?: string; caPins: readonly string[] };
  clock: Clock;
  logger: Logger;
  /** Deadlines before clients are identified, the per-address limits (tests shorten them, `connection_limits` sets the rate). */
  limits?: Pick<ProxyServiceOptions, 'deadlines' | 'maxPendingPerAddress' | 'rateLimit'>;
  /** Reverse tunnel keepalive and timeouts (tests shorten them). */
  tunnel?: ProxyDatabaseAccessOptions['tunnel'];
  /** The `proxy` heartbeat's TTL and interval, ms. */
  heartbeat?: { ttlMs?: number; intervalMs?: number };
  /** Cache tuning of a proxy alone (tests shorten the backoff). */
  cache?: RemoteCacheSettings;
}

/** How often a proxy alone re-reads the locks from its cache (a memory read): a new lock is in force within the watch latency plus this. */
const CACHED_LOCK_REFRESH_MS = 250;

/**
 * A proxy alone keeps a cache fed by the auth server's backend watch and reads routing and RBAC data from it (CAs,
 * roles, locks, database servers, nodes, proxies), so it keeps routing and checking sessions while the auth server
 * is unreachable, and answers tsh's reads on `teleport-auth` from it meanwhile. Next to an auth server the local auth
 * API already answers from that server's cache.
 */
async function proxyReads(options: ProxyRoleOptions, client: AuthClient, identity: Identity) {
  if (options.auth) return { reads: client, cache: undefined, fallback: undefined };
  const cache: RemoteCache = await startRemoteCache({
    auth: client,
    prefixes: PROXY_CACHE_PREFIXES,
    name: 'proxy',
    clock: options.clock,
    logger: options.logger,
    ...(options.cache ? { settings: options.cache } : {}),
  });
  const clusterName = parseIdentity(identity.cert).teleportCluster ?? identity.clusterName ?? '';
  const handshakeMs = options.limits?.deadlines?.handshakeMs ?? 10_000;
  const fallback = newAuthFallback({ identity, clusterName, reads: cache.reads, clock: options.clock, log: options.logger, handshakeMs });
  return { reads: withCachedReads(client, cache.reads), cache, fallback };
}

/** A `Proxy` host identity issued by the auth service of this process. */
export async function colocatedProxyIdentity(auth: AuthServer, dialAddr: string): Promise<Identity> {
  return issueLocalHostIdentity(auth.context, 'Proxy', dialAddr);
}

async function joinedProxyIdentity(options: ProxyRoleOptions): Promise<Identity> {
  return loadOrJoinIdentity({
    dir: path.join(options.dataDir, PROXY_IDENTITY_DIR),
    join: options.join,
    missingFlags: {
      message: 'a proxy without a local auth service needs --auth-server, --token and --ca-pin to join the cluster',
      hint: 'on the auth server: tctl tokens add --type=proxy, and tctl status for the CA pin',
    },
    register: {
      role: 'Proxy',
      hostUuid: await loadOrCreateHostUuid(options.dataDir),
      nodename: options.nodename,
      additionalPrincipals: options.proxy.publicAddrs.map((a) => a.replace(/:\d+$/, '')),
    },
    logger: options.logger,
    joinedMessage: 'proxy joined the cluster',
  });
}

/** The proxy's host UUID, from its certificate's `<uuid>.<cluster>` name. */
function hostIdOf(identity: Identity): string {
  const cert = parseIdentity(identity.cert);
  const suffix = `.${cert.teleportCluster ?? identity.clusterName ?? ''}`;
  return cert.username.endsWith(suffix) ? cert.username.slice(0, -suffix.length) : cert.username;
}

/** Peering settings when the cluster's tunnel strategy is `proxy_peering` (asked of the auth server). */
async function peeringSettings(auth: AuthClient, section: ProxyRoleOptions['proxy'], selfId: string, logger: Logger) {
  const strategy = await auth.getTunnelStrategy();
  if (strategy.type !== 'proxy_peering') return undefined;
  logger.info('tunnel strategy is proxy_peering', { agent_connection_count: strategy.agent_connection_count ?? 1 });
  return {
    listenAddr: section.peerListenAddr ?? `0.0.0.0:${DEFAULT_PROXY_PEER_PORT}`,
    ...(section.peerPublicAddr !== undefined ? { publicAddr: section.peerPublicAddr } : {}),
    selfId,
  };
}

/** The proxy's identity renews itself: the tunnel and peer listeners serve the new certificate to new connections. */
function startProxyRenewal(
  options: ProxyRoleOptions,
  o: { identity: Identity; authAddr: string; renewing: RenewingAuthClient; access: Pick<ProxyDatabaseAccess, 'renewIdentity' | 'casChanged'> },
): IdentityRenewal {
  const local = options.auth;
  return startAgentRenewal({
    identity: o.identity,
    role: 'Proxy',
    nodename: options.nodename,
    clusterName: parseIdentity(o.identity.cert).teleportCluster ?? o.identity.clusterName ?? '',
    auth: o.renewing,
    ...(local ? { local: () => colocatedProxyIdentity(local, o.authAddr) } : { dir: path.join(options.dataDir, PROXY_IDENTITY_DIR) }),
    additionalPrincipals: options.proxy.publicAddrs.map((a) => a.replace(/:\d+$/, '')),
    onNewCert: () => o.access.renewIdentity(),
    onCasChanged: () => o.access.casChanged(),
    clock: options.clock,
    logger: options.logger,
  });
}

/** The proxy service's part of a teleport.yaml, from the role's settings. */
function proxyFileConfig(section: ProxyRoleOptions['proxy']): FileConfig {
  return {
    version: 'v3',
    teleport: {},
    proxy_service: {
      ...(section.listenAddr !== undefined ? { web_listen_addr: section.listenAddr } : {}),
      public_addr: [...section.publicAddrs],
    },
  };
}

/**
 * Starts the proxy role with its identity and auth client. The returned `close` also closes the client.
 *
 * @example
 * ```ts
 * const proxy = await startProxyRole({ dataDir, nodename, proxy: { publicAddrs: [] }, auth, join, clock, logger });
 * ```
 */
export async function startProxyRole(options: ProxyRoleOptions): Promise<ProxyService> {
  const authAddr = options.auth?.dialAddr ?? options.join.authServer;
  if (authAddr === undefined) {
    throw new BadParameterError('the proxy needs an auth server', { hint: 'run it with --roles=auth,proxy, or pass --auth-server' });
  }
  const identity = options.auth ? await colocatedProxyIdentity(options.auth, authAddr) : await joinedProxyIdentity(options);
  const renewing = renewingAuthClient(() => newAuthClient({ addr: authAddr, identity }));
  const client: AuthClient = renewing.client;
  const section = options.proxy;
  const config = proxyFileConfig(section);
  let cache: RemoteCache | undefined;
  try {
    const cached = await proxyReads(options, client, identity);
    const { reads, fallback } = cached;
    cache = cached.cache;
    const selfId = hostIdOf(identity);
    const peering = await peeringSettings(client, section, selfId, options.logger);
    const proxy = await startProxyService({
      config,
      dataDir: options.dataDir,
      authClient: client,
      caReads: reads,
      authAddr,
      clock: options.clock,
      log: options.logger,
      ...options.limits,
      ...(fallback ? { authFallback: fallback } : {}),
      ...(options.auth ? { localAuth: options.auth } : {}),
      ...(section.httpsKeyPairs && section.httpsKeyPairs.length > 0 ? { httpsKeyPairs: section.httpsKeyPairs } : {}),
    });
    // Database access: agents' reverse tunnels and clients' `teleport-postgres` connections.
    const access = await startProxyDatabaseAccess({
      registry: proxy.registry,
      webCertificate: proxy.webCertificate,
      identity,
      auth: reads,
      ...(cache ? { lockRefreshMs: CACHED_LOCK_REFRESH_MS } : {}),
      // Its own spool: a node of the same process uploads `<data_dir>/log/upload` with its own uploader.
      dataDir: path.join(options.dataDir, PROXY_IDENTITY_DIR),
      clock: options.clock,
      logger: options.logger,
      ...(options.tunnel ? { tunnel: options.tunnel } : {}),
      ...(peering ? { peering } : {}),
      deadlines: proxy.deadlines,
    }).catch(async (err: unknown) => {
      await proxy.close();
      throw err;
    });
    const heartbeat = startProxyHeartbeat({
      auth: client,
      name: selfId,
      hostname: options.nodename,
      publicAddr: section.publicAddrs[0] ?? proxy.publicAddr,
      ...(access.peerAddr !== undefined ? { peerAddr: access.peerAddr } : {}),
      ...(options.heartbeat ? { heartbeat: options.heartbeat } : {}),
      log: options.logger,
    });
    const renewal = startProxyRenewal(options, { identity, authAddr, renewing, access });
    return {
      ...proxy,
      connectedAgents: () => access.tunnels.agents().length,
      auditQueueDepth: () => access.auditQueueDepth(),
      ...(cache ? { cache: cache.cache } : {}),
      close: async () => {
        await renewal.close();
        await heartbeat.close();
        await access.close();
        await proxy.close();
        fallback?.close();
        await cache?.close();
        await client.close();
      },
    };
  } catch (err) {
    await cache?.close();
    await client.close();
    throw err;
  }
}
