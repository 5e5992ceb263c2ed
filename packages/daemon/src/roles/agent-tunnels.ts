/**
 * An agent's reverse tunnels (db agents today; SSH nodes the same way): the pool of `core/tunnel/pool.ts` dialing
 * the proxy address it was given (often a load balancer), told by the cluster which proxies are live and which
 * tunnel strategy applies (`GET /proxies`, `GET /networking/tunnelstrategy`, through the same address).
 */

import type { AuthClient, Identity } from '@teleport-ts/core/api';
import type { Clock } from '@teleport-ts/core/clock';
import { startTunnelPool, type TunnelAgentOptions, type TunnelPool, type TunnelPoolTarget } from '@teleport-ts/core/tunnel';
import type { Logger } from '../logger.js';
import type { CertAuthorityCache } from './db/cas.js';
import { reverseTunnelDialer } from './tunnel-dial.js';

export interface AgentTunnelsOptions {
  /** The proxy address (a proxy or a load balancer); without it, `authAddr` then the proxy the cluster advertises. */
  proxyAddr?: string;
  /** Where the agent reaches the auth API (the auth server, or a proxy in front of it). */
  authAddr: string;
  auth: Pick<AuthClient, 'ping' | 'getProxies' | 'getTunnelStrategy'>;
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

/** What the pool should reach: the live proxies, and N of them with proxy peering. */
function discoverProxies(auth: AgentTunnelsOptions['auth']): () => Promise<TunnelPoolTarget> {
  return async () => {
    const [proxies, strategy] = await Promise.all([auth.getProxies(), auth.getTunnelStrategy()]);
    const proxyIds = proxies.map((p) => p.metadata.name);
    return strategy.type === 'proxy_peering' ? { proxyIds, connectionCount: strategy.agent_connection_count ?? 1 } : { proxyIds };
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
  return startTunnelPool({
    connect: reverseTunnelDialer({ candidates: proxyCandidates(options), identity: options.identity, cas: options.cas, clusterName: options.clusterName }),
    discover: discoverProxies(options.auth),
    onProxiesChanged: (proxyIds) => {
      options.logger.info('reverse tunnels are up', { proxies: proxyIds.join(',') });
      options.onProxiesChanged?.(proxyIds);
    },
    onStream: options.onStream,
    clock: options.clock,
    ...options.tunnel,
  });
}
