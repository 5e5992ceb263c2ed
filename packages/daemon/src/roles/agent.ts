/**
 * What every agent (the db agent, the node) does the same way around its identity and its reverse tunnel: reads
 * the cluster and its host id from its certificate, finds the proxy to tunnel to, and keeps the tunnel up.
 */

import type { AuthClient, Identity } from '@teleport-ts/core/api';
import { parseIdentity } from '@teleport-ts/core/ca';
import type { Clock } from '@teleport-ts/core/clock';
import { startTunnelAgent, type TunnelAgent, type TunnelAgentOptions } from '@teleport-ts/core/tunnel';
import type { Logger } from '../logger.js';
import type { CertAuthorityCache } from './db/cas.js';
import { reverseTunnelDialer } from './db/dial.js';

/** The cluster's name and this agent's host id, as its certificate says (the host UUID when it does not). */
export function clusterAndHostId(identity: Identity, hostUuid: string): { clusterName: string; hostId: string } {
  const certIdentity = parseIdentity(identity.cert);
  const clusterName = certIdentity.teleportCluster ?? identity.clusterName ?? '';
  const suffix = `.${clusterName}`;
  const hostId = certIdentity.username.endsWith(suffix) ? certIdentity.username.slice(0, -suffix.length) : hostUuid;
  return { clusterName, hostId };
}

/**
 * The proxies the reverse tunnel may dial: `proxyAddr` when given, else the auth address (a proxy, or an auth server
 * that refuses the tunnel) and the proxy the cluster advertises (asked once, again after a failure).
 */
function proxyCandidates(proxyAddr: string | undefined, auth: Pick<AuthClient, 'ping'>, authAddr: string): () => Promise<readonly string[]> {
  let pending: Promise<readonly string[]> | undefined;
  return () => {
    if (proxyAddr !== undefined) return Promise.resolve([proxyAddr]);
    pending ??= auth
      .ping()
      .then((ping) => [authAddr, ...(ping.proxyPublicAddr ? [ping.proxyPublicAddr] : [])])
      .catch(() => {
        pending = undefined;
        return [authAddr];
      });
    return pending;
  };
}

/** What {@link startAgentTunnel} needs. */
export interface AgentTunnelOptions {
  /** The proxy to tunnel to; default the auth address or the proxy the cluster advertises. */
  proxyAddr?: string | undefined;
  auth: Pick<AuthClient, 'ping'>;
  authAddr: string;
  identity: Identity;
  cas: CertAuthorityCache;
  clusterName: string;
  clock: Clock;
  onStream: TunnelAgentOptions['onStream'];
  logger: Logger;
  /** Reconnect and keepalive settings. */
  tunnel?: Pick<TunnelAgentOptions, 'backoff' | 'keepAliveIntervalMs' | 'keepAliveTimeoutMs'> | undefined;
}

/** The reverse tunnel to the proxy, serving every stream the proxy opens through `onStream`. */
export function startAgentTunnel(options: AgentTunnelOptions): TunnelAgent {
  let loggedAddr: string | undefined;
  return startTunnelAgent({
    connect: reverseTunnelDialer({
      candidates: proxyCandidates(options.proxyAddr, options.auth, options.authAddr),
      identity: options.identity,
      cas: options.cas,
      clusterName: options.clusterName,
      onConnected: (addr) => {
        if (addr !== loggedAddr) options.logger.info('reverse tunnel to the proxy is up', { proxy: addr });
        loggedAddr = addr;
      },
    }),
    onStream: options.onStream,
    clock: options.clock,
    ...options.tunnel,
  });
}
