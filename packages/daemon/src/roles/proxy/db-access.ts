/**
 * Wires database access into a running proxy: the reverse tunnel route (agents dial in) and the `teleport-postgres`
 * route (clients dial in), sharing one CA cache and one audit emitter.
 */

import { hostname } from 'node:os';
import { redact } from '@teleport-ts/core/errors';
import type { AuthClient, Identity } from '@teleport-ts/core/api';
import { parseIdentity } from '@teleport-ts/core/ca';
import type { Clock } from '@teleport-ts/core/clock';
import type { TunnelServer, TunnelServerOptions } from '@teleport-ts/core/tunnel';
import type { PreAuthDeadlines } from '../../http/deadlines.js';
import type { Logger } from '../../logger.js';
import { newServiceAuditEmitter } from '../db/audit.js';
import { newCertAuthorityCache, type CertAuthorityCache } from '../db/cas.js';
import type { ProtocolRegistry } from './alpn.js';
import { startLockWatcher } from '../lockwatcher.js';
import { registerDatabaseRoute } from './db.js';
import { newAgentRouter, type AgentRouter } from './agents.js';
import { registerSshRoute } from './ssh.js';
import { newAgentlessNodes, type AgentlessOptions } from './ssh-agentless.js';
import { startPeerServer, startProxyPeers } from './peering.js';
import { registerReverseTunnelRoute } from './tunnel.js';

export interface ProxyDatabaseAccessOptions {
  registry: ProtocolRegistry;
  /** The web listener's key and certificate chain. */
  webCertificate: { key: string; cert: string };
  /** The proxy's host identity (`Proxy` system role). */
  identity: Identity;
  auth: Pick<AuthClient, 'getCertAuthorities' | 'getDatabaseServers' | 'getNodes' | 'emitAuditEvents' | 'getLocks' | 'getProxies'> & AgentlessOptions['auth'];
  /** Where recordings of agentless nodes are spooled (under `log/upload/streaming/default`). */
  dataDir: string;
  /** How often locks are fetched (default 2 s). */
  lockRefreshMs?: number;
  clock: Clock;
  logger: Logger;
  tunnel?: Omit<TunnelServerOptions, 'clock' | 'onAgent' | 'onAgentGone'>;
  /** Deadlines before a client or an agent is identified (the proxy's). */
  deadlines?: PreAuthDeadlines;
  /** Proxy peering: listen for peers there, and forward to peers streams for agents without a tunnel here. */
  peering?: { listenAddr: string; publicAddr?: string; selfId: string };
}

export interface ProxyDatabaseAccess {
  tunnels: TunnelServer;
  /** Opens streams to agents: through their tunnel here, else (proxy peering) through a peer. Other routes (SSH) use it too. */
  agents: AgentRouter;
  /** `host:port` peers dial, when peering is on. */
  peerAddr?: string;
  /** Audit events queued for the auth server. */
  auditQueueDepth(): number;
  /** The proxy's identity was renewed (in place): the tunnel and peer listeners serve the new certificate. */
  renewIdentity(): void;
  /** A CA rotation moved: read the CAs again before the next check. */
  casChanged(): void;
  close(): Promise<void>;
}

/** The peer listener and the peers, when peering is on. */
async function startPeering(options: ProxyDatabaseAccessOptions, trust: { cas: CertAuthorityCache; clusterName: string }, tunnels: TunnelServer) {
  const peering = options.peering;
  if (peering === undefined) return undefined;
  const common = { identity: options.identity, cas: trust.cas, clusterName: trust.clusterName, log: options.logger };
  const server = await startPeerServer({ ...common, listenAddr: peering.listenAddr, tunnels });
  try {
    const peers = await startProxyPeers({ ...common, selfId: peering.selfId, auth: options.auth });
    const addr = peering.publicAddr ?? server.addr.replace(/^(0\.0\.0\.0|\[::\]):/, `${hostname()}:`);
    options.logger.info('proxy peering listener is up', { addr: server.addr, peer_addr: addr });
    return { server, peers, addr };
  } catch (err) {
    await server.close();
    throw err;
  }
}

/**
 * @example
 * ```ts
 * const access = await startProxyDatabaseAccess({ registry: proxy.registry, webCertificate: proxy.webCertificate, identity, auth, clock, logger });
 * // ...
 * await access.close();
 * ```
 */
export async function startProxyDatabaseAccess(options: ProxyDatabaseAccessOptions): Promise<ProxyDatabaseAccess> {
  const clusterName = parseIdentity(options.identity.cert).teleportCluster ?? options.identity.clusterName ?? '';
  const cas = newCertAuthorityCache({ auth: options.auth, clusterName, clock: options.clock, initial: { host: options.identity.caCerts } });
  const audit = newServiceAuditEmitter({ auth: options.auth, clock: options.clock, logger: options.logger });
  const tunnel = registerReverseTunnelRoute({
    registry: options.registry,
    identity: options.identity,
    cas,
    clusterName,
    clock: options.clock,
    log: options.logger,
    ...(options.tunnel ? { tunnel: options.tunnel } : {}),
    ...(options.deadlines ? { handshakeTimeoutMs: options.deadlines.handshakeMs } : {}),
  });
  const peering = await startPeering(options, { cas, clusterName }, tunnel.tunnels).catch(async (err: unknown) => {
    await tunnel.close();
    throw err;
  });
  const locks = startLockWatcher({
    auth: options.auth,
    clock: options.clock,
    ...(options.lockRefreshMs !== undefined ? { refreshMs: options.lockRefreshMs } : {}),
    onError: (err) => options.logger.warn('could not fetch locks, keeping the last known ones', { error: redact((err as Error).message) }),
  });
  const agents = newAgentRouter(tunnel.tunnels, peering?.peers);
  const db = registerDatabaseRoute({
    registry: options.registry,
    agents,
    auth: options.auth,
    cas,
    certificate: options.webCertificate,
    clusterName,
    log: options.logger,
    audit,
    locks,
    ...(options.deadlines ? { deadlines: options.deadlines } : {}),
  });
  // SSH to nodes: `teleport-proxy-ssh` connections, over the nodes' reverse tunnels, or served here for agentless ones.
  const agentless = newAgentlessNodes({ auth: options.auth, clusterName, dataDir: options.dataDir, locks, audit, clock: options.clock, logger: options.logger });
  const ssh = registerSshRoute({
    agentless,
    registry: options.registry,
    tunnels: tunnel.tunnels,
    auth: options.auth,
    cas,
    certificate: options.webCertificate,
    clusterName,
    log: options.logger,
    audit,
    locks,
    ...(options.deadlines ? { deadlines: options.deadlines } : {}),
  });
  return {
    tunnels: tunnel.tunnels,
    agents,
    ...(peering ? { peerAddr: peering.addr } : {}),
    auditQueueDepth: () => audit.depth(),
    renewIdentity() {
      tunnel.renewIdentity();
      peering?.server.renewIdentity();
    },
    casChanged() {
      cas.invalidate();
      agentless.casChanged();
    },
    async close() {
      locks.close();
      await ssh.close();
      await agentless.close();
      await db.close();
      await peering?.server.close();
      await peering?.peers.close();
      await tunnel.close();
      await audit.close();
    },
  };
}
