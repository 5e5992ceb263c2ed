/**
 * A worker of `pnpm bench scale`: many simulated agents in one process, driven by the parent over IPC.
 * Each agent is real on the wire: it joins through a proxy with the shared token (the join of `core/api`: CA pin,
 * fresh keys, host certificates), then heartbeats with its own identity through that proxy's `teleport-auth`
 * passthrough, using the daemon's heartbeat code (`node` or `db_server`, at the daemon's period, started at a random
 * offset of it); some also keep a real reverse tunnel (`startAgentTunnels`, as the node and the db agent do).
 * Nothing is served over the tunnels: what is measured is what a fleet costs the cluster while idle.
 */

import { randomUUID } from 'node:crypto';
import diagnostics_channel from 'node:diagnostics_channel';
import { AUTH_VIA_PROXY_ALPN, joinCluster, newAuthClient, type AuthClient, type Identity } from '@teleport-ts/core/api';
import { systemClock } from '@teleport-ts/core/clock';
import { NotImplementedError } from '@teleport-ts/core/errors';
import { TUNNEL_CHANNEL, type TunnelDiagnostic, type TunnelPool } from '@teleport-ts/core/tunnel';
import type { Logger } from '../packages/daemon/src/logger.js';
import { clusterAndHostId } from '../packages/daemon/src/roles/agent.js';
import { startAgentTunnels } from '../packages/daemon/src/roles/agent-tunnels.js';
import { problemKey } from './_report.js';
import { newCertAuthorityCache } from '../packages/daemon/src/roles/db/cas.js';
import { loadDatabaseSpecs } from '../packages/daemon/src/roles/db/config.js';
import { DEFAULT_DB_HEARTBEAT, startDatabaseHeartbeats } from '../packages/daemon/src/roles/db/heartbeat.js';
import { DEFAULT_NODE_HEARTBEAT, startNodeHeartbeat } from '../packages/daemon/src/roles/ssh/heartbeat.js';

/** What the parent sends first. */
export interface WorkerPlan {
  worker: number;
  /** Index of this worker's first agent in the fleet (names are unique across workers). */
  first: number;
  count: number;
  /** How many of this worker's agents keep a reverse tunnel. */
  tunnels: number;
  proxyAddrs: string[];
  token: string;
  caPin: string;
  joinConcurrency: number;
  /** The tunnel pools' proxy discovery interval, ms; default the daemon's. */
  discoveryIntervalMs?: number;
  /** Source addresses the agents connect from, one each in turn (127.x.y.z: the proxies' per-address limits stay as shipped). */
  sourceAddrs: string[];
}

/** Messages from the parent after the plan. */
export type WorkerCommand = { cmd: 'join' } | { cmd: 'beat' } | { cmd: 'tunnels' } | { cmd: 'reset' } | { cmd: 'stats' } | { cmd: 'stop' };

/** What the worker answers. */
export interface WorkerStats {
  joined: number;
  tunnelsUp: number;
  beats: number;
  failures: number;
  /** Heartbeat latencies (ms) since the last reset. */
  latencies: number[];
  rssBytes: number;
  /** Failures seen since the start (tunnel diagnostics, the agents' warnings), by their text with numbers masked. */
  problems: Record<string, number>;
}

/** Pause between two tunnel starts in a worker. */
const TUNNEL_SPACING_MS = 50;

/** What went wrong in this worker, grouped by text (numbers masked: addresses, ports, attempts). */
const problems = new Map<string, number>();
function noteProblem(text: string): void {
  const key = problemKey(text, 200);
  problems.set(key, (problems.get(key) ?? 0) + 1);
}

diagnostics_channel.subscribe(TUNNEL_CHANNEL, (message) => {
  const d = message as TunnelDiagnostic;
  if ('reason' in d) noteProblem(`tunnel ${d.event}: ${d.reason}`);
  else if (d.event === 'keepalive-timeout') noteProblem(`tunnel keepalive-timeout (${d.side})`);
});

/** The agents' logger: warnings and errors are counted (the parent prints them), the rest dropped. */
const quiet: Logger = {
  debug() {},
  info() {},
  warn: (message, fields) => noteProblem(`${message}${fields?.['error'] !== undefined ? `: ${String(fields['error'])}` : ''}`),
  error: (message, fields) => noteProblem(`${message}${fields?.['error'] !== undefined ? `: ${String(fields['error'])}` : ''}`),
  with: () => quiet,
  close: async () => {},
};

interface SimAgent {
  index: number;
  kind: 'node' | 'db';
  proxyAddr: string;
  /** The local address this agent connects from. */
  sourceAddr: string;
  hostUuid: string;
  identity?: Identity;
  auth?: AuthClient;
  stop?: () => void;
  tunnel?: TunnelPool;
}

interface WorkerState {
  plan: WorkerPlan;
  agents: SimAgent[];
  beats: number;
  failures: number;
  latencies: number[];
}

const kindOf = (index: number): 'node' | 'db' => (index % 2 === 0 ? 'node' : 'db');
const nameOf = (agent: SimAgent): string => `scale-${agent.kind}-${String(agent.index).padStart(5, '0')}`;

async function join(state: WorkerState, agent: SimAgent): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      agent.identity = await joinCluster({
        authAddr: agent.proxyAddr,
        alpnProtocols: AUTH_VIA_PROXY_ALPN,
        token: state.plan.token,
        caPins: [state.plan.caPin],
        hostUuid: agent.hostUuid,
        nodename: nameOf(agent),
        role: agent.kind === 'node' ? 'Node' : 'Db',
        timeoutMs: 60_000,
        localAddress: agent.sourceAddr,
      });
      return;
    } catch (err) {
      noteProblem(`join failed: ${(err as Error).message}`);
      if (attempt >= 4) throw err;
      await new Promise((r) => setTimeout(r, 1000 * (attempt + 1)));
    }
  }
}

async function joinAll(state: WorkerState): Promise<void> {
  let next = 0;
  const loop = async (): Promise<void> => {
    while (next < state.agents.length) await join(state, state.agents[next++]!);
  };
  await Promise.all(Array.from({ length: state.plan.joinConcurrency }, loop));
}

/** The agent's auth client, every call timed (a heartbeat is one call). */
function timedAuth(state: WorkerState, agent: SimAgent): AuthClient {
  const auth = newAuthClient({ addr: agent.proxyAddr, identity: agent.identity!, alpnProtocols: AUTH_VIA_PROXY_ALPN, timeoutMs: 30_000, localAddress: agent.sourceAddr });
  const timed = <A extends unknown[], R>(f: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      const t0 = performance.now();
      try {
        const r = await f(...args);
        state.latencies.push(performance.now() - t0);
        state.beats++;
        return r;
      } catch (err) {
        state.failures++;
        throw err;
      }
    };
  return { ...auth, upsertNode: timed(auth.upsertNode), upsertDatabaseServer: timed(auth.upsertDatabaseServer) };
}

async function startBeating(state: WorkerState, agent: SimAgent): Promise<void> {
  const auth = (agent.auth ??= timedAuth(state, agent));
  const { hostId } = clusterAndHostId(agent.identity!, agent.hostUuid);
  if (agent.kind === 'node') {
    const beat = startNodeHeartbeat({ auth, hostId, nodename: nameOf(agent), addr: '', labels: { env: 'scale' }, cmdLabels: () => ({}), heartbeat: DEFAULT_NODE_HEARTBEAT, logger: quiet });
    agent.stop = () => beat.close();
    return;
  }
  const databases = await loadDatabaseSpecs([{ name: nameOf(agent), protocol: 'postgres', uri: 'db.internal:5432', static_labels: { env: 'scale' } }]);
  const beats = startDatabaseHeartbeats({ auth, hostId, nodename: nameOf(agent), databases, heartbeat: DEFAULT_DB_HEARTBEAT, logger: quiet });
  agent.stop = () => beats.close();
}

/** Every agent starts beating at a random point of the period, as a fleet started over time does. */
function beatAll(state: WorkerState): void {
  for (const agent of state.agents) {
    const offset = Math.random() * DEFAULT_NODE_HEARTBEAT.intervalMs;
    setTimeout(() => void startBeating(state, agent), offset);
  }
}

function startTunnel(state: WorkerState, agent: SimAgent): void {
  const discoveryIntervalMs = state.plan.discoveryIntervalMs;
  const identity = agent.identity!;
  // Its heartbeat may not have started yet (a loaded worker's timers run late): the tunnel makes the client then.
  const auth = (agent.auth ??= timedAuth(state, agent));
  const { clusterName } = clusterAndHostId(identity, agent.hostUuid);
  const cas = newCertAuthorityCache({ auth, clusterName, clock: systemClock, initial: { host: identity.caCerts } });
  agent.tunnel = startAgentTunnels({
    proxyAddr: agent.proxyAddr,
    authAddr: agent.proxyAddr,
    auth,
    identity,
    cas,
    clusterName,
    clock: systemClock,
    logger: quiet,
    localAddress: agent.sourceAddr,
    onStream: () => {
      throw new NotImplementedError('a simulated agent serves nothing');
    },
    ...(discoveryIntervalMs !== undefined ? { tunnel: { discoveryIntervalMs } } : {}),
  });
}

function stats(state: WorkerState): WorkerStats {
  return {
    joined: state.agents.filter((a) => a.identity !== undefined).length,
    tunnelsUp: state.agents.reduce((n, a) => n + (a.tunnel?.connectedProxies().length ?? 0), 0),
    beats: state.beats,
    failures: state.failures,
    latencies: state.latencies,
    rssBytes: process.memoryUsage.rss(),
    problems: Object.fromEntries(problems),
  };
}

async function stop(state: WorkerState): Promise<void> {
  for (const agent of state.agents) agent.stop?.();
  await Promise.all(state.agents.map((a) => a.tunnel?.close()));
  await Promise.all(state.agents.map((a) => a.auth?.close()));
}

async function handle(state: WorkerState, message: WorkerCommand): Promise<unknown> {
  switch (message.cmd) {
    case 'join':
      await joinAll(state);
      return stats(state);
    case 'beat':
      beatAll(state);
      return {};
    case 'tunnels':
      // Over a few seconds, as agents started over time do: all at once from one address would meet the proxy's
      // limit of connections per address still in their handshake.
      for (const [i, agent] of state.agents.slice(0, state.plan.tunnels).entries()) setTimeout(() => startTunnel(state, agent), i * TUNNEL_SPACING_MS);
      return {};
    case 'reset':
      state.latencies = [];
      state.beats = 0;
      state.failures = 0;
      return {};
    case 'stats':
      return stats(state);
    case 'stop':
      await stop(state);
      return {};
  }
}

function main(): void {
  let state: WorkerState | undefined;
  // The parent is gone (stopped or crashed): so is the fleet.
  process.on('disconnect', () => process.exit(0));
  process.on('message', (message: { id: number; plan?: WorkerPlan } & Partial<WorkerCommand>) => {
    if (message.plan) {
      const plan = message.plan;
      const agents = Array.from({ length: plan.count }, (_, i): SimAgent => {
        const index = plan.first + i;
        const sourceAddr = plan.sourceAddrs[index % plan.sourceAddrs.length]!;
        return { index, kind: kindOf(index), proxyAddr: plan.proxyAddrs[index % plan.proxyAddrs.length]!, sourceAddr, hostUuid: randomUUID() };
      });
      state = { plan, agents, beats: 0, failures: 0, latencies: [] };
      process.send!({ id: message.id, result: {} });
      return;
    }
    handle(state!, message as WorkerCommand).then(
      (result) => process.send!({ id: message.id, result }),
      (err: unknown) => process.send!({ id: message.id, error: (err as Error).message }),
    );
  });
}

main();
