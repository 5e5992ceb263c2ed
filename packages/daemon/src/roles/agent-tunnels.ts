/**
 * An agent's reverse tunnels (db agents and SSH nodes): the pool of `core/tunnel/pool.ts` dialing the proxy address
 * it was given (often a load balancer), told which proxies are live by their heartbeats on the auth server's
 * backend watch (`/proxies/`, as Teleport's agents follow a proxy watcher): a proxy is dialed as soon as its first
 * heartbeat arrives and its tunnel dropped once its heartbeat is gone, with no polling of the auth server. The
 * tunnel strategy (`GET /networking/tunnelstrategy`) and, as a fallback, the proxies are asked again every few
 * minutes (jittered): 10,000 agents cost the auth server tens of requests a second, not thousands.
 */

import type { AuthClient, Identity } from '@teleport-ts/core/api';
import type { Clock } from '@teleport-ts/core/clock';
import { startTunnelPool, type TunnelAgentOptions, type TunnelPool, type TunnelPoolTarget } from '@teleport-ts/core/tunnel';
import type { Logger } from '../logger.js';
import type { CertAuthorityCache } from './db/cas.js';
import { AGENT_CACHE_SETTINGS, openRemoteCache, type RemoteCache } from './remote-cache.js';
import { reverseTunnelDialer } from './tunnel-dial.js';

export interface AgentTunnelsOptions {
  /** The proxy address (a proxy or a load balancer); without it, `authAddr` then the proxy the cluster advertises. */
  proxyAddr?: string;
  /** Where the agent reaches the auth API (the auth server, or a proxy in front of it). */
  authAddr: string;
  auth: Pick<AuthClient, 'ping' | 'getTunnelStrategy' | 'getBackendItems' | 'watchBackend'>;
  /** The agent's cache of the auth server's watch, if it follows `/proxies/`; else the tunnels open their own. */
  cache?: RemoteCache;
  identity: Pick<Identity, 'key' | 'cert'>;
  /** The host CA, to check each proxy's certificate. */
  cas: CertAuthorityCache;
  clusterName: string;
  clock: Clock;
  logger: Logger;
  /** Serves one stream a proxy opened. */
  onStream: TunnelAgentOptions['onStream'];
  /** The proxies with a live tunnel changed (put them in the agent's heartbeats: proxy peering routes by them). */
  onProxiesChanged?: (proxyIds: readonly string[]) => void;
  /** Local address the tunnels are dialed from (`pnpm bench scale` spreads its agents over 127.x.y.z). */
  localAddress?: string;
  /** Reconnect, keepalive and discovery settings. */
  tunnel?: Pick<TunnelAgentOptions, 'backoff' | 'keepAliveIntervalMs' | 'keepAliveTimeoutMs'> & { discoveryIntervalMs?: number };
}

/**
 * The addresses the tunnels may dial: `proxyAddr` when given, else the auth address (a proxy, or an auth server that
 * refuses the tunnel) and the proxy the cluster advertises (asked once, again after a failure).
 */
function proxyCandidates(options: AgentTunnelsOptions): () => Promise<readonly string[]> {
  let pending: Promise<readonly string[]> | undefined;
  return () => {
    if (options.proxyAddr !== undefined) return Promise.resolve([options.proxyAddr]);
    pending ??= options.auth
      .ping()
      .then((ping) => [options.authAddr, ...(ping.proxyPublicAddr ? [ping.proxyPublicAddr] : [])])
      .catch(() => {
        pending = undefined;
        return [options.authAddr];
      });
    return pending;
  };
}

/** Without a watch, or as its fallback: how often the pool asks which proxies are live. */
export const WATCHED_DISCOVERY_INTERVAL_MS = 5 * 60_000;

/**
 * What the pool should reach: the live proxies (from the watch-fed cache: memory, not a request), and N of them with
 * proxy peering (the strategy, static configuration of the auth server, asked again once per discovery interval).
 */
function discoverProxies(auth: AgentTunnelsOptions['auth'], cache: RemoteCache, intervalMs: number): () => Promise<TunnelPoolTarget> {
  let strategy: { value: Awaited<ReturnType<AuthClient['getTunnelStrategy']>>; at: number } | undefined;
  return async () => {
    const now = performance.now();
    const [proxies, current] = await Promise.all([
      cache.reads.getProxies(),
      strategy !== undefined && now - strategy.at < intervalMs * 0.75 ? strategy.value : auth.getTunnelStrategy(),
    ]);
    if (strategy?.value !== current) strategy = { value: current, at: now };
    const proxyIds = proxies.map((p) => p.metadata.name);
    return current.type === 'proxy_peering' ? { proxyIds, connectionCount: current.agent_connection_count ?? 1 } : { proxyIds };
  };
}

/**
 * Starts the agent's tunnels: one to each proxy (agent mesh) or N (proxy peering).
 *
 * @example
 * ```ts
 * const tunnels = startAgentTunnels({ proxyAddr: 'lb.example.com:443', authAddr, auth, identity, cas, clusterName, clock, logger, onStream });
 * await tunnels.ready;
 * ```
 */
export function startAgentTunnels(options: AgentTunnelsOptions): TunnelPool {
  const own = options.cache === undefined ? openRemoteCache({ auth: options.auth, prefixes: ['/proxies/'], name: 'tunnels', clock: options.clock, logger: options.logger, settings: AGENT_CACHE_SETTINGS }) : undefined;
  const cache = options.cache ?? own!;
  const intervalMs = options.tunnel?.discoveryIntervalMs ?? WATCHED_DISCOVERY_INTERVAL_MS;
  const pool = startTunnelPool({
    connect: reverseTunnelDialer({
      candidates: proxyCandidates(options),
      identity: options.identity,
      cas: options.cas,
      clusterName: options.clusterName,
      ...(options.localAddress !== undefined ? { localAddress: options.localAddress } : {}),
    }),
    discover: discoverProxies(options.auth, cache, intervalMs),
    onProxiesChanged: (proxyIds) => {
      options.logger.info('reverse tunnels are up', { proxies: proxyIds.join(',') });
      options.onProxiesChanged?.(proxyIds);
    },
    onStream: options.onStream,
    clock: options.clock,
    ...options.tunnel,
    discoveryIntervalMs: intervalMs,
  });
  const unsubscribe = cache.subscribe('/proxies/', () => pool.rediscover());
  return {
    get state() {
      return pool.state;
    },
    ready: pool.ready,
    connectedProxies: () => pool.connectedProxies(),
    rediscover: () => pool.rediscover(),
    renew: () => pool.renew(),
    async close() {
      unsubscribe();
      await pool.close();
      await own?.close();
    },
  };
}
