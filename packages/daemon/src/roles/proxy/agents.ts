/**
 * How the proxy reaches an agent: its own reverse tunnel from that agent when it has one, else (proxy peering) a
 * peer proxy the agent says it is connected to.
 */

import type { Duplex } from 'node:stream';
import type { OpenStreamOptions, TunnelServer, TunnelStreamMeta } from '@teleport-ts/core/tunnel';
import type { ProxyPeers } from './peering.js';

export interface AgentRouter {
  /** True when a stream to the agent could be opened now: a tunnel here, or a known peer among `proxyIds`. */
  reaches(agentId: string, proxyIds: readonly string[] | undefined): boolean;
  /** Opens a stream to the agent: through its tunnel here, else through a peer (see {@link ProxyPeers.openStream}). */
  openStream(agentId: string, proxyIds: readonly string[] | undefined, meta: TunnelStreamMeta, options?: OpenStreamOptions): Promise<Duplex>;
  /**
   * The agent's processes to open a stream to each (`OpenStreamOptions.instance`): those with a tunnel here, or
   * `[undefined]` (any one) through a peer, which picks one of them itself.
   */
  instances(agentId: string): (string | undefined)[];
}

/** @example `const agents = newAgentRouter(tunnels, peers); await agents.openStream(hostId, server.spec.proxy_ids, meta);` */
export function newAgentRouter(tunnels: Pick<TunnelServer, 'hasAgent' | 'openStream' | 'instances'>, peers: ProxyPeers | undefined): AgentRouter {
  const instances = (agentId: string): (string | undefined)[] => (tunnels.hasAgent(agentId) ? tunnels.instances(agentId) : [undefined]);
  if (peers === undefined) {
    return { reaches: (agentId) => tunnels.hasAgent(agentId), openStream: (agentId, _proxyIds, meta, options) => tunnels.openStream(agentId, meta, options), instances };
  }
  return {
    instances,
    reaches: (agentId, proxyIds) => tunnels.hasAgent(agentId) || peers.reachable(proxyIds),
    openStream: (agentId, proxyIds, meta, options) =>
      tunnels.hasAgent(agentId)
        ? tunnels.openStream(agentId, meta, options)
        : peers.openStream(agentId, proxyIds ?? [], meta, options?.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
  };
}
