/**
 * The proxy end of reverse tunnels: for each agent connection accepted (TLS already verified by the caller), run
 * the opening side of the multiplexer (`mux.ts`) on that socket and open one stream per connection to forward.
 */

import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { systemClock, type Clock } from '../clock/index.js';
import { ConnectionProblemError, type TeleportError } from '../errors/index.js';
import { publishTunnelDiagnostic, reasonOf } from './diagnostics.js';
import { startMuxSession, type MuxSession, type MuxStream } from './mux.js';
import { DEFAULT_KEEPALIVE_INTERVAL_MS, DEFAULT_KEEPALIVE_TIMEOUT_MS, startKeepAlive } from './session.js';
import { decodeTunnelError, encodeTunnelMeta, TUNNEL_ERROR_CODES, type TunnelStreamMeta } from './wire.js';

/** Who is on the other end of a tunnel, as the caller authenticated it from the agent's host certificate. */
export interface TunnelAgentIdentity {
  /** The agent's host UUID (the `<uuid>` of its certificate's `<uuid>.<cluster>` common name): the agent id. */
  hostId: string;
  clusterName?: string;
  /** System roles from the certificate, e.g. `['Db']`. */
  systemRoles?: readonly string[];
}

/** A connected agent. */
export interface TunnelAgentInfo {
  id: string;
  identity: TunnelAgentIdentity;
  /** When its oldest live tunnel came up. */
  connectedAt: Date;
  /** Live tunnels from this agent (more than one briefly, while a reconnect overlaps a dying connection). */
  connections: number;
}

/** Options for {@link newTunnelServer}. */
export interface TunnelServerOptions {
  /** An agent's first live tunnel is up. */
  onAgent?: (agent: TunnelAgentInfo) => void;
  /** An agent's last tunnel closed. */
  onAgentGone?: (agent: TunnelAgentInfo) => void;
  clock?: Clock;
  /** PING interval. Default 15 s. */
  keepAliveIntervalMs?: number;
  /** A PING unanswered this long means the agent is gone. Default 15 s. */
  keepAliveTimeoutMs?: number;
  /** Limit on the tunnel handshake (the agent's HELLO) of a new tunnel. Default 10 s. */
  handshakeTimeoutMs?: number;
  /** Limit on the agent accepting or refusing a stream. Default 30 s. */
  openTimeoutMs?: number;
}

/** Options for {@link TunnelServer.openStream}. */
export interface OpenStreamOptions {
  signal?: AbortSignal;
  /** How long the agent has to accept the stream; defaults to the server's `openTimeoutMs`. */
  timeoutMs?: number;
  /** Open it to this process of the agent (one of {@link TunnelServer.instances}) rather than the least busy one. */
  instance?: string;
}

/** The proxy's registry of agent tunnels. */
export interface TunnelServer {
  /**
   * Takes over an accepted, authenticated TLS connection whose ALPN was {@link REVERSE_TUNNEL_ALPN}. The agent is
   * listed once the tunnel handshake completes and removed when the connection drops (or stops answering PINGs).
   */
  handleConnection(socket: TLSSocket, identity: TunnelAgentIdentity): void;
  /**
   * Opens a stream to an agent for one forwarded connection and resolves once the agent accepted it. The Duplex
   * carries raw bytes both ways with per-stream flow control.
   *
   * @throws ConnectionProblemError `ERR_TP_TUNNEL_AGENT_OFFLINE` (naming the agent) when it has no live tunnel,
   *   `ERR_TP_TUNNEL_STREAM_FAILED` when the tunnel breaks or the agent does not answer in time; the agent's own
   *   TeleportError (kind, code, message, hint) when it refuses the stream.
   */
  openStream(agentId: string, meta: TunnelStreamMeta, options?: OpenStreamOptions): Promise<Duplex>;
  /** Connected agents. */
  agents(): TunnelAgentInfo[];
  /** True when the agent has a live tunnel (one `openStream` would use). */
  hasAgent(agentId: string): boolean;
  /**
   * The agent's processes with a live tunnel here, by the instance id of their handshake (`db_service.workers`
   * runs several): what must reach every process, such as a CancelRequest, goes to each.
   */
  instances(agentId: string): string[];
  /** Drops every tunnel. */
  close(): Promise<void>;
}

interface Tunnel {
  session: MuxSession;
  socket: TLSSocket;
  connectedAt: Date;
  stopKeepAlive: () => void;
}

interface AgentEntry {
  identity: TunnelAgentIdentity;
  /** Oldest first; see {@link liveTunnel} for which one a stream takes. */
  tunnels: Tunnel[];
}

const offline = (agentId: string) =>
  new ConnectionProblemError(`agent "${agentId}" is not connected to this proxy through a reverse tunnel`, {
    code: TUNNEL_ERROR_CODES.agentOffline,
    hint: 'check that the agent is running and can reach the proxy',
  });

/**
 * Creates the proxy's tunnel registry.
 *
 * @example
 * ```ts
 * const tunnels = newTunnelServer({ onAgent: (a) => inventory.markOnline(a.id) });
 * // in the ALPN router, for 'teleport-reversetunnel', after verifying the host certificate:
 * tunnels.handleConnection(tlsSocket, { hostId, clusterName, systemRoles: ['Db'] });
 * // for a database connection routed to that agent:
 * const stream = await tunnels.openStream(hostId, { service: 'orders', protocol: 'postgres', identity });
 * await pipeline(clientSocket, stream, clientSocket);
 * ```
 */
export function newTunnelServer(options: TunnelServerOptions = {}): TunnelServer {
  const s: TunnelServerState = {
    options,
    clock: options.clock ?? systemClock,
    keepAliveIntervalMs: options.keepAliveIntervalMs ?? DEFAULT_KEEPALIVE_INTERVAL_MS,
    keepAliveTimeoutMs: options.keepAliveTimeoutMs ?? DEFAULT_KEEPALIVE_TIMEOUT_MS,
    handshakeTimeoutMs: options.handshakeTimeoutMs ?? 10_000,
    openTimeoutMs: options.openTimeoutMs ?? 30_000,
    agents: new Map(),
    pending: new Set(),
    closed: false,
  };
  return {
    handleConnection: (socket, identity) => handleConnection(s, socket, identity),
    openStream: (agentId, meta, openOptions) => openStream(s, agentId, meta, openOptions),
    agents: () => [...s.agents].map(([id, entry]) => agentInfo(s, id, entry)),
    hasAgent: (agentId) => liveTunnel(s, agentId) !== undefined,
    instances: (agentId) => [...new Set((s.agents.get(agentId)?.tunnels ?? []).filter(isLive).map((t) => t.session.peerInstance))],
    close: () => closeTunnelServer(s),
  };
}

/** The registry's state, shared by the steps below. */
interface TunnelServerState {
  readonly options: TunnelServerOptions;
  readonly clock: Clock;
  readonly keepAliveIntervalMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly handshakeTimeoutMs: number;
  readonly openTimeoutMs: number;
  readonly agents: Map<string, AgentEntry>;
  /** Sessions still in their handshake. */
  readonly pending: Set<MuxSession>;
  closed: boolean;
}

function agentInfo(s: TunnelServerState, id: string, entry: AgentEntry): TunnelAgentInfo {
  return {
    id,
    identity: entry.identity,
    connectedAt: entry.tunnels[0]?.connectedAt ?? s.clock.now(),
    connections: entry.tunnels.length,
  };
}

/**
 * The tunnel a new stream to the agent takes. Tunnels from one agent process (the instance id of its handshake):
 * the newest, since an older one is a connection the process replaced (a reconnect whose old socket the proxy has
 * not seen die yet, a renewal). Across the agent's processes (`db_service.workers`): the one with the fewest open
 * streams, the newest on a tie, so sessions spread over the workers.
 */
function liveTunnel(s: TunnelServerState, agentId: string, instance?: string): Tunnel | undefined {
  const tunnels = s.agents.get(agentId)?.tunnels;
  if (tunnels === undefined) return undefined;
  if (instance !== undefined) return tunnels.findLast((t) => isLive(t) && t.session.peerInstance === instance);
  let best: Tunnel | undefined;
  const seen = new Set<string>();
  for (let i = tunnels.length - 1; i >= 0; i--) {
    const t = tunnels[i]!;
    if (!isLive(t) || seen.has(t.session.peerInstance)) continue;
    seen.add(t.session.peerInstance);
    if (best === undefined || t.session.streamCount < best.session.streamCount) best = t;
  }
  return best;
}

function isLive(t: Tunnel): boolean {
  return !t.session.closed && !t.session.goingAway;
}

// --- accepting a tunnel ---

/** Starts the opening side of the multiplexer on an agent's socket; the tunnel is listed once the handshake completes. */
function handleConnection(s: TunnelServerState, socket: TLSSocket, identity: TunnelAgentIdentity): void {
  const agentId = identity.hostId;
  if (typeof agentId !== 'string' || agentId === '') throw new TypeError('a tunnel agent identity needs a hostId');
  if (s.closed) {
    socket.destroy();
    return;
  }
  socket.setNoDelay(true);
  socket.on('error', (err) => publishTunnelDiagnostic({ event: 'session-error', side: 'proxy', agentId, reason: reasonOf(err) }));
  let tunnel: Tunnel | undefined;
  const handshakeTimer = setTimeout(() => session.destroy(), s.handshakeTimeoutMs);
  handshakeTimer.unref();
  const session: MuxSession = startMuxSession(
    socket,
    {
      onEstablished: () => {
        clearTimeout(handshakeTimer);
        s.pending.delete(session);
        if (s.closed) session.destroy();
        else tunnel = registerTunnel(s, identity, session, socket);
      },
      onClose: () => {
        clearTimeout(handshakeTimer);
        s.pending.delete(session);
        if (tunnel !== undefined) {
          tunnel.stopKeepAlive();
          unregisterTunnel(s, agentId, tunnel);
        }
      },
    },
    1,
  );
  s.pending.add(session);
}

/** A handshake completed: list the tunnel under its agent and keep it alive with PINGs. */
function registerTunnel(s: TunnelServerState, identity: TunnelAgentIdentity, session: MuxSession, socket: TLSSocket): Tunnel {
  const agentId = identity.hostId;
  const tunnel: Tunnel = { session, socket, connectedAt: s.clock.now(), stopKeepAlive: () => undefined };
  let entry = s.agents.get(agentId);
  const first = entry === undefined;
  if (entry === undefined) {
    entry = { identity, tunnels: [] };
    s.agents.set(agentId, entry);
  }
  entry.identity = identity;
  entry.tunnels.push(tunnel);
  publishTunnelDiagnostic({ event: 'connected', side: 'proxy', agentId });
  tunnel.stopKeepAlive = startKeepAlive(session, {
    intervalMs: s.keepAliveIntervalMs,
    timeoutMs: s.keepAliveTimeoutMs,
    onTimeout: () => {
      publishTunnelDiagnostic({ event: 'keepalive-timeout', side: 'proxy', agentId, timeoutMs: s.keepAliveTimeoutMs });
      session.destroy();
    },
  });
  if (first) s.options.onAgent?.(agentInfo(s, agentId, entry));
  return tunnel;
}

/** A listed tunnel closed: drop it, and the agent with its last tunnel. */
function unregisterTunnel(s: TunnelServerState, agentId: string, tunnel: Tunnel): void {
  const entry = s.agents.get(agentId);
  if (entry === undefined) return;
  entry.tunnels = entry.tunnels.filter((t) => t !== tunnel);
  publishTunnelDiagnostic({ event: 'disconnected', side: 'proxy', agentId, reason: s.closed ? 'closed' : 'connection lost' });
  if (entry.tunnels.length === 0) {
    s.agents.delete(agentId);
    s.options.onAgentGone?.({ ...agentInfo(s, agentId, entry), connectedAt: tunnel.connectedAt });
  }
}

// --- opening a stream (per forwarded connection: keep it lean) ---

function openStream(s: TunnelServerState, agentId: string, meta: TunnelStreamMeta, openOptions: OpenStreamOptions = {}): Promise<Duplex> {
  let metaHeader: string;
  try {
    metaHeader = encodeTunnelMeta(meta);
  } catch (err) {
    return Promise.reject(err);
  }
  const tunnel = liveTunnel(s, agentId, openOptions.instance);
  if (tunnel === undefined) return Promise.reject(offline(agentId));
  const failed = (why: string, cause?: unknown) =>
    new ConnectionProblemError(`reverse tunnel to agent "${agentId}" failed while opening a stream to "${meta.service}": ${why}`, {
      code: TUNNEL_ERROR_CODES.streamFailed,
      ...(cause === undefined ? {} : { cause }),
    });
  const stream = tunnel.session.open(metaHeader);
  return awaitAgentAnswer({
    tunnel,
    stream,
    agentId,
    service: meta.service,
    failed,
    signal: openOptions.signal,
    timeoutMs: openOptions.timeoutMs ?? s.openTimeoutMs,
  });
}

interface PendingStream {
  tunnel: Tunnel;
  stream: MuxStream;
  agentId: string;
  service: string;
  failed: (why: string, cause?: unknown) => ConnectionProblemError;
  signal: AbortSignal | undefined;
  timeoutMs: number;
}

/** Resolves with the stream once the agent accepts it; rejects on refusal, reset, timeout or the caller's abort. */
function awaitAgentAnswer(p: PendingStream): Promise<Duplex> {
  const { tunnel, stream, agentId, service, failed, signal, timeoutMs } = p;
  return new Promise<Duplex>((resolve, reject) => {
    // A timer and the caller's signal, not AbortSignal.timeout + AbortSignal.any: two signals and a DOMException
    // per stream add up at hundreds of new sessions per second.
    const timer = setTimeout(() => onAbort(), timeoutMs);
    let settled = false;
    const settle = (err: TeleportError | unknown | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      stream.onAnswer = undefined;
      stream.removeListener('close', onClose);
      if (err === undefined) {
        resolve(stream);
        return;
      }
      if (!stream.destroyed) stream.destroy();
      publishTunnelDiagnostic({ event: 'stream-refused', side: 'proxy', agentId, service, reason: reasonOf(err) });
      reject(err);
    };
    const onAbort = () => settle(signal?.aborted ? signal.reason : failed(`the agent did not answer within ${timeoutMs} ms`));
    const onAnswer = (refusal: Buffer | undefined) => {
      if (refusal === undefined) settle(undefined);
      else settle(decodeTunnelError(refusal.toString('latin1'), `agent "${agentId}" refused the stream to "${service}"`));
    };
    const onClose = () => settle(tunnel.session.closed ? failed('the tunnel closed') : failed('the stream was reset'));
    stream.on('error', (err) => {
      publishTunnelDiagnostic({ event: 'stream-error', side: 'proxy', agentId, service, reason: reasonOf(err) });
      settle(failed(reasonOf(err), err));
    });
    stream.onAnswer = onAnswer;
    stream.once('close', onClose);
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted === true) onAbort();
  });
}

// --- closing ---

async function closeTunnelServer(s: TunnelServerState): Promise<void> {
  s.closed = true;
  const sessions = [...s.pending, ...[...s.agents.values()].flatMap((e) => e.tunnels.map((t) => t.session))];
  for (const session of sessions) session.destroy();
  await Promise.resolve();
}
