/**
 * Proxy peering (`auth_service.tunnel_strategy.type: proxy_peering`): an agent keeps tunnels to only N proxies, so a
 * proxy that receives a connection for an agent it has no tunnel to forwards the stream to a peer proxy that has
 * one (the agent lists them in its heartbeat's `proxy_ids`). Peers talk mutual TLS on `peer_listen_addr` (3021)
 * with their host certificates (the Proxy role of this cluster both ways, the dialed peer's host id checked), and
 * the tunnel's own wire: the dialer opens `POST /v1/stream` with the stream's meta plus `forward_to` (the agent),
 * and the peer opens that stream on the agent's tunnel, answering with the agent's accept or refusal.
 */

import { connect as connectTls, createServer as createTlsServer, type TLSSocket } from 'node:tls';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { AuthClient, Identity } from '@teleport-ts/core/api';
import { derToPem } from '@teleport-ts/core/ca';
import { DEFAULT_PROXY_PEER_PORT, parseHostPort } from '@teleport-ts/core/config';
import { AccessDeniedError, BadParameterError, ConnectionProblemError, isTeleportError, redact } from '@teleport-ts/core/errors';
import { newTunnelServer, serveTunnelStreams, type TunnelServer, type TunnelStreamMeta } from '@teleport-ts/core/tunnel';
import { listenOrExplain } from '../../http/listen.js';
import type { CertAuthorityCache } from '../db/cas.js';
import { isIpAddress } from '../db/config.js';
import type { ProxyLogger } from './service.js';

/** ALPN of proxy peering connections. */
const PEER_ALPN = 'teleport-proxy-peer';
/** The meta key naming the agent a peer stream is for. */
const FORWARD_TO = 'forward_to';
/** How often the list of peers is read again. */
const PEER_LIST_REFRESH_MS = 3_000;
/** Limit on dialing a peer plus the tunnel handshake. */
const PEER_DIAL_TIMEOUT_MS = 5_000;

interface PeerTrust {
  identity: Pick<Identity, 'key' | 'cert'>;
  cas: CertAuthorityCache;
  clusterName: string;
}

/** The host id of a peer's certificate, once it is a Proxy host certificate of this cluster. */
async function verifyPeer(trust: PeerTrust, socket: TLSSocket, usage: 'clientAuth' | 'serverAuth'): Promise<string> {
  const peer = socket.getPeerCertificate();
  if (!peer?.raw) throw new AccessDeniedError('the peer presented no certificate');
  const { identity } = await trust.cas.verify('host', derToPem(peer.raw, 'CERTIFICATE'), usage);
  const suffix = `.${trust.clusterName}`;
  if (identity.roles.length !== 1 || identity.roles[0] !== 'Proxy' || identity.teleportCluster !== trust.clusterName || !identity.username.endsWith(suffix)) {
    throw new AccessDeniedError('the peer is not a proxy of this cluster');
  }
  return identity.username.slice(0, -suffix.length);
}

// --- the listening side ---

export interface PeerServerOptions extends PeerTrust {
  /** `proxy_service.peer_listen_addr`. */
  listenAddr: string;
  /** This proxy's agent tunnels, where forwarded streams go. */
  tunnels: Pick<TunnelServer, 'openStream'>;
  log: ProxyLogger;
}

export interface PeerServer {
  /** `host:port` bound. */
  addr: string;
  /** The proxy's identity was renewed: new peer connections get the new certificate. */
  renewIdentity(): void;
  close(): Promise<void>;
}

/** Opens the agent stream a peer asked for and relays it both ways. */
async function forwardPeerStream(tunnels: PeerServerOptions['tunnels'], meta: TunnelStreamMeta, stream: Duplex): Promise<void> {
  const { [FORWARD_TO]: target, ...rest } = meta;
  if (typeof target !== 'string' || target === '') throw new BadParameterError('a proxy peering stream must name the agent (forward_to)');
  const agent = await tunnels.openStream(target, rest as TunnelStreamMeta);
  agent.on('error', () => undefined);
  stream.on('error', () => undefined);
  pipeline(stream, agent).catch(() => agent.destroy());
  pipeline(agent, stream).catch(() => stream.destroy());
}

/**
 * Listens for peer proxies.
 *
 * @example
 * ```ts
 * const server = await startPeerServer({ listenAddr: '0.0.0.0:3021', identity, cas, clusterName, tunnels, log });
 * ```
 */
export async function startPeerServer(options: PeerServerOptions): Promise<PeerServer> {
  const sockets = new Set<Socket>();
  const closing = new AbortController();
  const server = createTlsServer(
    { key: options.identity.key, cert: options.identity.cert, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2', ALPNProtocols: [PEER_ALPN], handshakeTimeout: 10_000 },
    (socket: TLSSocket) => {
      socket.on('error', () => undefined);
      verifyPeer(options, socket, 'clientAuth').then(
        () => serveTunnelStreams(socket, { onStream: (meta, stream) => forwardPeerStream(options.tunnels, meta, stream), signal: closing.signal }),
        (err: unknown) => {
          options.log.warn('refused a proxy peering connection', { remote_addr: socket.remoteAddress ?? '', error: redact((err as Error).message) });
          socket.destroy();
        },
      );
    },
  );
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('tlsClientError', (_err, socket) => socket.destroy());
  const listen = parseHostPort(options.listenAddr, DEFAULT_PROXY_PEER_PORT);
  await listenOrExplain(server, listen, 'proxy_service.peer_listen_addr');
  const bound = server.address();
  const port = typeof bound === 'object' && bound !== null ? bound.port : listen.port;
  return {
    addr: `${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${port}`,
    renewIdentity: () => server.setSecureContext({ key: options.identity.key, cert: options.identity.cert }),
    close: () =>
      new Promise<void>((resolve) => {
        closing.abort();
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}

// --- the dialing side ---

export interface ProxyPeersOptions extends PeerTrust {
  /** This proxy's host id (never its own peer). */
  selfId: string;
  auth: Pick<AuthClient, 'getProxies'>;
  log: ProxyLogger;
}

/** Streams to agents through peer proxies. */
export interface ProxyPeers {
  /** True when one of `proxyIds` is a known peer (not this proxy): a stream could go through it. */
  reachable(proxyIds: readonly string[] | undefined): boolean;
  /**
   * Opens a stream to `agentId` through the first peer of `proxyIds` that takes it.
   *
   * @throws ConnectionProblemError when no peer could be reached; the agent's refusal as the agent sent it.
   */
  openStream(agentId: string, proxyIds: readonly string[], meta: TunnelStreamMeta, options?: { timeoutMs?: number }): Promise<Duplex>;
  close(): Promise<void>;
}

interface PeersState extends ProxyPeersOptions {
  /** Peer id -> `host:port`. */
  addrs: Map<string, string>;
  registry: TunnelServer;
  /** Dials in progress, by peer id. */
  dialing: Map<string, Promise<void>>;
  /** Resolves the dials waiting for a peer's tunnel handshake. */
  waiting: Map<string, () => void>;
  timer: NodeJS.Timeout | undefined;
  closed: boolean;
}

async function refreshPeers(state: PeersState): Promise<void> {
  try {
    const proxies = await state.auth.getProxies();
    state.addrs = new Map(proxies.filter((p) => p.spec.peer_addr && p.metadata.name !== state.selfId).map((p) => [p.metadata.name, p.spec.peer_addr!]));
  } catch (err) {
    state.log.warn('could not read the list of peer proxies, keeping the last one', { error: redact((err as Error).message) });
  }
}

/** Dials a peer and hands the socket to the registry; resolves once its tunnel session is up. */
async function dialPeer(state: PeersState, peerId: string, addr: string): Promise<void> {
  const { host, port } = parseHostPort(addr, DEFAULT_PROXY_PEER_PORT);
  const socket = connectTls({
    host,
    port,
    key: state.identity.key,
    cert: state.identity.cert,
    rejectUnauthorized: false,
    ALPNProtocols: [PEER_ALPN],
    ...(isIpAddress(host) ? {} : { servername: host }),
  });
  const timeout = AbortSignal.timeout(PEER_DIAL_TIMEOUT_MS);
  try {
    await new Promise<void>((resolve, reject) => {
      timeout.addEventListener('abort', () => reject(new ConnectionProblemError(`peer proxy at ${addr} did not answer in time`)), { once: true });
      socket.once('error', reject);
      socket.once('secureConnect', () => resolve());
    });
    socket.removeAllListeners('error');
    socket.on('error', () => undefined);
    const id = await verifyPeer(state, socket, 'serverAuth');
    if (id !== peerId) throw new AccessDeniedError(`the proxy at ${addr} is not the peer ${peerId}`);
    const up = new Promise<void>((resolve, reject) => {
      state.waiting.set(peerId, resolve);
      timeout.addEventListener('abort', () => reject(new ConnectionProblemError(`peer proxy at ${addr} did not complete the handshake`)), { once: true });
      socket.once('close', () => reject(new ConnectionProblemError(`peer proxy at ${addr} closed the connection`)));
    });
    state.registry.handleConnection(socket, { hostId: peerId, clusterName: state.clusterName, systemRoles: ['Proxy'] });
    await up;
  } catch (err) {
    socket.destroy();
    throw err;
  } finally {
    state.waiting.delete(peerId);
  }
}

/** A live session to the peer, dialed once for every caller waiting on it. */
async function ensurePeer(state: PeersState, peerId: string): Promise<void> {
  if (state.registry.hasAgent(peerId)) return;
  const addr = state.addrs.get(peerId);
  if (addr === undefined) throw new ConnectionProblemError(`proxy ${peerId} is not a known peer`);
  let dial = state.dialing.get(peerId);
  if (dial === undefined) {
    dial = dialPeer(state, peerId, addr).finally(() => state.dialing.delete(peerId));
    state.dialing.set(peerId, dial);
  }
  await dial;
}

async function openPeerStream(state: PeersState, agentId: string, proxyIds: readonly string[], meta: TunnelStreamMeta, timeoutMs?: number): Promise<Duplex> {
  let last: unknown = new ConnectionProblemError(`agent "${agentId}" is not connected to any reachable proxy`, {
    hint: 'check that the agent is running and that the proxies reach each other on peer_listen_addr',
  });
  for (const peerId of proxyIds) {
    if (peerId === state.selfId || !state.addrs.has(peerId)) continue;
    try {
      await ensurePeer(state, peerId);
      return await state.registry.openStream(peerId, { ...meta, [FORWARD_TO]: agentId }, timeoutMs === undefined ? {} : { timeoutMs });
    } catch (err) {
      last = err;
      // The agent answered (refused): another peer would get the same answer.
      if (isTeleportError(err) && err.kind !== 'connection-problem') break;
    }
  }
  throw last;
}

/**
 * The dialing side of peering: peers from the `proxy` heartbeats, one multiplexed connection per peer, dialed when
 * first needed and again after it broke.
 *
 * @example
 * ```ts
 * const peers = await startProxyPeers({ selfId, auth, identity, cas, clusterName, log });
 * const stream = await peers.openStream(agentId, server.spec.proxy_ids ?? [], meta);
 * ```
 */
export async function startProxyPeers(options: ProxyPeersOptions): Promise<ProxyPeers> {
  const waiting = new Map<string, () => void>();
  const state: PeersState = {
    ...options,
    addrs: new Map(),
    registry: newTunnelServer({ onAgent: (peer) => waiting.get(peer.id)?.() }),
    dialing: new Map(),
    waiting,
    timer: undefined,
    closed: false,
  };
  await refreshPeers(state);
  const tick = (): void => {
    state.timer = setTimeout(() => void refreshPeers(state).finally(() => state.closed || tick()), PEER_LIST_REFRESH_MS);
    state.timer.unref();
  };
  tick();
  return {
    reachable: (proxyIds) => (proxyIds ?? []).some((id) => id !== state.selfId && state.addrs.has(id)),
    openStream: (agentId, proxyIds, meta, opts = {}) => openPeerStream(state, agentId, proxyIds, meta, opts.timeoutMs),
    async close() {
      state.closed = true;
      clearTimeout(state.timer);
      await state.registry.close();
    },
  };
}
