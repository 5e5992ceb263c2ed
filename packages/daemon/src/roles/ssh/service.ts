/**
 * The node service (`teleport-ts start --roles=node`): it joins the cluster once with a `--type=node` token (checking
 * the CA pin) and keeps its host identity (TLS and an SSH host certificate) in `<data_dir>/node/`, heartbeats its
 * `node` resource with its static and dynamic labels, keeps a reverse tunnel to the proxy up and, by default, listens
 * on nothing. Every SSH connection the proxy forwards over the tunnel (or that reaches `listen_addr` in direct mode)
 * is handed to the node's SSH server as a raw byte stream.
 */

import net from 'node:net';
import type { Duplex } from 'node:stream';
import { AUTH_VIA_PROXY_ALPN, newAuthClient, type AuthClient, type Identity } from '@teleport-ts/core/api';
import { systemClock, type Clock } from '@teleport-ts/core/clock';
import { parseHostPort, type CommandLabelConfig } from '@teleport-ts/core/config';
import { NotImplementedError, redact } from '@teleport-ts/core/errors';
import type { TunnelAgentOptions, TunnelPool, TunnelStreamMeta } from '@teleport-ts/core/tunnel';
import { listenOrExplain } from '../../http/listen.js';
import type { Logger } from '../../logger.js';
import { clusterAndHostId } from '../agent.js';
import { startAgentTunnels } from '../agent-tunnels.js';
import { loadOrCreateHostUuid, type AuthServer } from '../auth/index.js';
import { newCertAuthorityCache, type CertAuthorityCache } from '../db/cas.js';
import type { SshStreamHandler } from './handler.js';
import { DEFAULT_NODE_HEARTBEAT, startNodeHeartbeat, type NodeHeartbeat } from './heartbeat.js';
import { issueNodeIdentityInProcess, NODE_LOCAL_PRINCIPALS, nodeIdentityDir, obtainNodeIdentity } from './identity.js';
import { renewingAuthClient, startAgentRenewal, type IdentityRenewal, type RenewingAuthClient } from '../renewal.js';
import { startDynamicLabels, type DynamicLabels } from './labels.js';
import { parseSshStreamMeta } from './wire.js';

export interface NodeServiceOptions {
  dataDir: string;
  nodename: string;
  /** How a node without a local auth service joins; `token` (a secret) is needed only for the first start. */
  join: { token?: string; authServer?: string; caPins: readonly string[] };
  auth?: AuthServer;
  /** The reverse tunnel's proxy; default the join address or the proxy the cluster advertises. */
  proxyAddr?: string;
  labels: Readonly<Record<string, string>>;
  commands: readonly CommandLabelConfig[];
  /** Direct mode: also accept SSH connections here (`host:port`). */
  listenAddr?: string;
  /** Makes the node's SSH server once the identity is known; default the node's own (`./node-server.ts`). */
  sshServer?: (identity: NodeIdentityInfo) => SshStreamHandler;
  clock?: Clock;
  logger: Logger;
  heartbeat?: { ttlMs?: number; intervalMs?: number };
  tunnel?: Pick<TunnelAgentOptions, 'backoff' | 'keepAliveIntervalMs' | 'keepAliveTimeoutMs'>;
}

/** What the node's SSH server is made from. */
export interface NodeIdentityInfo {
  identity: Identity;
  hostId: string;
  clusterName: string;
  nodename: string;
  auth: AuthClient;
  /** The node's data dir (session recordings are spooled under it). */
  dataDir: string;
  /** The node's labels now, static and dynamic. */
  labels: () => Record<string, string>;
}

export interface NodeService {
  readonly hostId: string;
  readonly clusterName: string;
  /** `host:port` of the direct listener, when there is one. */
  readonly listenAddr: string | undefined;
  /** Resolves once the tunnel is up and the node was announced once. */
  readonly ready: Promise<void>;
  readonly tunnelState: TunnelPool['state'];
  close(): Promise<void>;
}

/** The node's side of the tunnel: SSH streams for this node go to its SSH server. */
function onTunnelStream(handler: SshStreamHandler, hostId: string, logger: Logger): TunnelAgentOptions['onStream'] {
  return (rawMeta: TunnelStreamMeta, stream: Duplex) => {
    const meta = parseSshStreamMeta(rawMeta);
    if (meta.service !== hostId) throw new NotImplementedError('this stream is for another node');
    logger.info('SSH connection through the reverse tunnel', { user: meta.user, remote_addr: meta.clientAddr });
    handler.handle(stream, meta.clientAddr);
  };
}

/** The direct listener (`ssh_service.listen_addr`). */
async function listenDirect(addr: string, handler: SshStreamHandler): Promise<{ server: net.Server; addr: string }> {
  const listen = parseHostPort(addr, 3022);
  const server = net.createServer((socket) => {
    socket.on('error', () => socket.destroy());
    handler.handle(socket, `${socket.remoteAddress ?? ''}:${socket.remotePort ?? 0}`);
  });
  await listenOrExplain(server, listen, 'ssh_service.listen_addr');
  const bound = server.address();
  const port = typeof bound === 'object' && bound !== null ? bound.port : listen.port;
  return { server, addr: `${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${port}` };
}

interface RunningNode {
  renewal: IdentityRenewal;
  heartbeat: NodeHeartbeat;
  labels: DynamicLabels;
  tunnel: TunnelPool;
  handler: SshStreamHandler;
  direct: net.Server | undefined;
  auth: AuthClient;
  logger: Logger;
}

async function closeNode(node: RunningNode): Promise<void> {
  await node.renewal.close();
  node.heartbeat.close();
  node.labels.close();
  await node.tunnel.close();
  if (node.direct) await new Promise<void>((resolve) => node.direct!.close(() => resolve()));
  await node.handler.close();
  await node.auth.close();
  node.logger.info('node service stopped');
}

/** The node's identity renews itself: new tunnels and a new SSH host certificate for new connections. */
function startNodeRenewal(
  options: NodeServiceOptions,
  o: { identity: Identity; clusterName: string; authAddr: string; renewing: RenewingAuthClient; handler: SshStreamHandler; tunnel: TunnelPool; cas: CertAuthorityCache; clock: Clock },
): IdentityRenewal {
  const local = options.auth;
  const direct = options.listenAddr !== undefined;
  return startAgentRenewal({
    identity: o.identity,
    role: 'Node',
    nodename: options.nodename,
    clusterName: o.clusterName,
    auth: o.renewing,
    ...(local ? { local: () => issueNodeIdentityInProcess(local, { nodename: options.nodename, direct }) } : { dir: nodeIdentityDir(options.dataDir) }),
    ...(direct ? { additionalPrincipals: NODE_LOCAL_PRINCIPALS } : {}),
    onNewCert: () => {
      o.handler.renewHostCert?.(o.identity.sshKey!, o.identity.sshCert!);
      o.tunnel.renew();
    },
    onCasChanged: () => {
      o.cas.invalidate();
      o.handler.refreshTrust?.();
    },
    clock: o.clock,
    logger: options.logger,
  });
}

/**
 * Starts the node. Resolves once it has its identity (the tunnel and the first heartbeat follow: await `ready`).
 *
 * @example
 * ```ts
 * const node = await startNodeService({ dataDir, nodename: 'web-1', labels: { env: 'dev' }, commands: [], logger,
 *   join: { token, authServer: 'proxy.example.com:3080', caPins: ['sha256:...'] } });
 * await node.ready;
 * ```
 */
export async function startNodeService(options: NodeServiceOptions): Promise<NodeService> {
  const clock = options.clock ?? systemClock;
  const { logger } = options;
  const hostUuid = await loadOrCreateHostUuid(options.dataDir);
  const { identity, authAddr } = await obtainNodeIdentity({ ...options, hostUuid, direct: options.listenAddr !== undefined });
  const { clusterName, hostId } = clusterAndHostId(identity, hostUuid);
  const renewing = renewingAuthClient(() => newAuthClient({ addr: authAddr, identity, alpnProtocols: AUTH_VIA_PROXY_ALPN }));
  const auth: AuthClient = renewing.client;
  const beats: { heartbeat?: NodeHeartbeat } = {};
  const labels = startDynamicLabels(options.commands, () => beats.heartbeat?.now());
  const allLabels = (): Record<string, string> => ({ ...options.labels, ...Object.fromEntries(Object.entries(labels.current()).map(([k, l]) => [k, l.result])) });
  const info: NodeIdentityInfo = { identity, hostId, clusterName, nodename: options.nodename, auth, dataDir: options.dataDir, labels: allLabels };
  // The SSH server (ssh2, node-pty) loads only when a node runs.
  const handler = options.sshServer ? options.sshServer(info) : (await import('./node-server.js')).clusterSshServer(info, { clock, logger });
  const direct = options.listenAddr === undefined ? undefined : await listenDirect(options.listenAddr, handler);
  // The first announcement carries the dynamic labels' first results (each command has a deadline).
  await labels.firstRun;
  const heartbeat = (beats.heartbeat = startNodeHeartbeat({
    auth,
    hostId,
    nodename: options.nodename,
    addr: direct?.addr ?? '',
    labels: options.labels,
    cmdLabels: labels.current,
    heartbeat: { ...DEFAULT_NODE_HEARTBEAT, ...options.heartbeat },
    logger,
  }));
  const cas = newCertAuthorityCache({ auth, clusterName, clock, initial: { host: identity.caCerts } });
  const tunnel = startAgentTunnels({ proxyAddr: options.proxyAddr, auth, authAddr, identity, cas, clusterName, clock, onStream: onTunnelStream(handler, hostId, logger), logger, tunnel: options.tunnel });
  const renewal = startNodeRenewal(options, { identity, clusterName, authAddr, renewing, handler, tunnel, cas, clock });
  const ready = Promise.all([tunnel.ready, heartbeat.firstAnnounced]).then(() => undefined);
  ready.catch((err: unknown) => logger.warn('node did not become ready', { error: redact((err as Error).message) }));
  logger.info('node service is up', { host_id: hostId, auth_server: authAddr, ...(direct ? { listen_addr: direct.addr } : {}) });
  let closing: Promise<void> | undefined;
  const running: RunningNode = { renewal, heartbeat, labels, tunnel, handler, direct: direct?.server, auth, logger };
  return {
    hostId,
    clusterName,
    listenAddr: direct?.addr,
    ready,
    get tunnelState() {
      return tunnel.state;
    },
    close: () => (closing ??= closeNode(running)),
  };
}
