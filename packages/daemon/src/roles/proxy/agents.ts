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
  /** Just after this proxy (re)started under agent mesh: waits (a few seconds at most) until one of the agents has a tunnel here. */
  settle(agentIds: readonly string[]): Promise<void>;
}

/**
 * A proxy that started this recently (a restart) may take connections before the agents have dialed it again: under
 * agent mesh (no peer to forward to) a stream to an agent without a tunnel here waits a moment for it.
 */
const JUST_STARTED_MS = 20_000;
const AWAIT_AGENT_MS = 3_000;

/** Resolves once one of the agents has a tunnel here, or after `waitMs`. */
async function awaitAgent(tunnels: Pick<TunnelServer, 'hasAgent'>, agentIds: readonly string[], waitMs: number): Promise<void> {
  const deadline = performance.now() + waitMs;
  while (!agentIds.some((id) => tunnels.hasAgent(id)) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}

/**
 * {@link AgentRouter.settle} for a proxy that started at `startedAt`: for {@link JUST_STARTED_MS}, when none of the
 * agents has a tunnel here, waits up to {@link AWAIT_AGENT_MS} for one. Also used by the SSH route, which reaches
 * nodes through the tunnels directly.
 */
export function newTunnelSettler(tunnels: Pick<TunnelServer, 'hasAgent'>, startedAt = performance.now()): (agentIds: readonly string[]) => Promise<void> {
  return async (agentIds) => {
    if (!agentIds.some((id) => tunnels.hasAgent(id)) && performance.now() - startedAt < JUST_STARTED_MS) await awaitAgent(tunnels, agentIds, AWAIT_AGENT_MS);
  };
}

/**
 * @example `const agents = newAgentRouter(tunnels, peers); await agents.openStream(hostId, server.spec.proxy_ids, meta);`
 *
 * Without peers (agent mesh), for {@link JUST_STARTED_MS} after `startedAt` a stream to an agent that has no tunnel
 * here yet waits up to {@link AWAIT_AGENT_MS} for it: every agent dials every proxy, and those that lost their tunnel
 * when this proxy went down are dialing it again (the load balancer may send clients here a moment sooner).
 */
export function newAgentRouter(
  tunnels: Pick<TunnelServer, 'hasAgent' | 'openStream' | 'instances'>,
  peers: ProxyPeers | undefined,
  startedAt = performance.now(),
): AgentRouter {
  const instances = (agentId: string): (string | undefined)[] => (tunnels.hasAgent(agentId) ? tunnels.instances(agentId) : [undefined]);
  if (peers === undefined) {
    const settle = newTunnelSettler(tunnels, startedAt);
    return {
      reaches: (agentId) => tunnels.hasAgent(agentId),
      settle,
      instances,
      async openStream(agentId, _proxyIds, meta, options) {
        await settle([agentId]);
        return tunnels.openStream(agentId, meta, options);
      },
    };
  }
  return {
    instances,
    reaches: (agentId, proxyIds) => tunnels.hasAgent(agentId) || peers.reachable(proxyIds),
    settle: () => Promise.resolve(),
    openStream: (agentId, proxyIds, meta, options) =>
      tunnels.hasAgent(agentId)
        ? tunnels.openStream(agentId, meta, options)
        : peers.openStream(agentId, proxyIds ?? [], meta, options?.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
  };
}
