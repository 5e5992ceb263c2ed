import { randomBytes } from 'node:crypto';
/**
 * The agent end of a reverse tunnel: dial OUT to the proxy, then run the accepting side of the multiplexer
 * (`mux.ts`) on that outbound socket, so the proxy can open one stream per connection it forwards.
 * The agent listens on nothing.
 */

import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { jitteredBackoff, type BackoffOptions } from '../backend/retry.js';
import { systemClock, type Clock } from '../clock/index.js';
import { ConnectionProblemError } from '../errors/index.js';
import { publishTunnelDiagnostic, reasonOf } from './diagnostics.js';
import { startMuxSession, type MuxSession, type MuxStream } from './mux.js';
import { DEFAULT_KEEPALIVE_INTERVAL_MS, DEFAULT_KEEPALIVE_TIMEOUT_MS, startKeepAlive } from './session.js';
import { decodeTunnelMeta, encodeTunnelError, REVERSE_TUNNEL_ALPN, TUNNEL_ERROR_CODES, type TunnelStreamMeta } from './wire.js';

/** Where the agent's reconnect loop is. */
export type TunnelAgentState = 'connecting' | 'connected' | 'backoff' | 'closed';

/** Default reconnect backoff: 125-250 ms after the first failure, doubling to 7.5-15 s. */
export const DEFAULT_TUNNEL_BACKOFF: Readonly<Required<Omit<BackoffOptions, 'random'>>> = Object.freeze({ baseMs: 250, maxMs: 15_000 });

/** A connection that stayed up this long resets the backoff; a proxy that accepts then drops keeps backing off. */
export const STABLE_CONNECTION_MS = 10_000;

/** Settles with `promise`, or rejects when `signal` aborts first (destroying the socket if it arrives later). */
function untilAborted(promise: Promise<TLSSocket>, signal: AbortSignal): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      reject(signal.reason);
      promise.then((late) => late.destroy(), () => undefined);
    };
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (socket) => {
        signal.removeEventListener('abort', onAbort);
        if (signal.aborted) socket.destroy();
        resolve(socket);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

/** This process's instance id in tunnel handshakes (see {@link TunnelAgentOptions.instance}). */
const PROCESS_INSTANCE = randomBytes(8).toString('hex');

/** Options for {@link startTunnelAgent}. */
export interface TunnelAgentOptions {
  /**
   * Dials the proxy and completes TLS with the agent's host certificate, offering ALPN
   * {@link REVERSE_TUNNEL_ALPN} and verifying the proxy's certificate. Resolves once the handshake is done.
   * `signal` aborts when the agent is closed meanwhile.
   */
  connect: (signal: AbortSignal) => Promise<TLSSocket>;
  /**
   * Serves one forwarded connection. The stream is a byte Duplex (flow control applies: honour `write()`
   * returning false). Return (or resolve) to accept: the proxy's `openStream` then resolves. Throw (or reject)
   * before writing to refuse: a TeleportError reaches the proxy with its kind, code, message and hint; any other
   * error becomes a generic ConnectionProblemError. Errors on the stream are reported on the diagnostics
   * channel; attach your own handler (`pipeline` does) to act on them.
   */
  onStream: (meta: TunnelStreamMeta, stream: Duplex) => void | Promise<void>;
  /** For connection ages (backoff reset). Default the system clock. */
  clock?: Clock;
  /** Reconnect backoff; default {@link DEFAULT_TUNNEL_BACKOFF}. */
  backoff?: BackoffOptions;
  /** PING interval. Default 15 s. */
  keepAliveIntervalMs?: number;
  /** A PING unanswered this long means the proxy is gone: drop the connection and reconnect. Default 15 s. */
  keepAliveTimeoutMs?: number;
  /** Limit on dialing plus the tunnel handshake. Default 30 s. */
  connectTimeoutMs?: number;
  /** Streams the proxy may have open at once (more are reset). Default 10 000. */
  maxConcurrentStreams?: number;
  /**
   * Which process of the agent this is, sent to the proxy in the tunnel handshake: the proxy spreads streams over
   * the tunnels of an agent's processes (worker processes sharing one identity) and, among one process's
   * tunnels, uses the newest. Default a random id per process.
   */
  instance?: string;
}

/** A running agent. */
export interface TunnelAgent {
  readonly state: TunnelAgentState;
  /** Resolves when the first tunnel is up; rejects only if the agent is closed before that. */
  readonly ready: Promise<void>;
  /** Stops reconnecting and drops the tunnel (and every stream on it). Resolves when everything is closed. */
  close(): Promise<void>;
}

/**
 * Starts an agent that keeps one reverse tunnel to the proxy up: it dials, serves streams, notices a dead proxy by
 * an unanswered PING, and reconnects with jittered exponential backoff until closed.
 *
 * @example
 * ```ts
 * const agent = startTunnelAgent({
 *   connect: () => connectTls({ host: proxyHost, port: 3080, key, cert, ca: hostCaCert, ALPNProtocols: [REVERSE_TUNNEL_ALPN] }),
 *   onStream: (meta, stream) => {
 *     if (!databases.has(meta.service)) throw new NotFoundError(`database "${meta.service}" is not served by this agent`);
 *     void serveDatabaseConnection(meta, stream);
 *   },
 * });
 * await agent.ready;
 * // on shutdown
 * await agent.close();
 * ```
 */
export function startTunnelAgent(options: TunnelAgentOptions): TunnelAgent {
  const closing = new AbortController();
  const ready = newReadyLatch();
  const settings = resolveAgentSettings(options, closing.signal, ready.resolve);
  const link: ProxyLink = { state: 'connecting', current: undefined, wakeUp: undefined };
  const done = keepLinkUp(settings, link);

  return {
    get state() {
      return link.state;
    },
    ready: ready.promise,
    async close() {
      if (!closing.signal.aborted) {
        closing.abort(new ConnectionProblemError('the tunnel agent is closed'));
        ready.reject(new ConnectionProblemError('the tunnel agent was closed before it connected'));
        dropLink(link);
      }
      await done;
    },
  };
}

/** What every tunnel of an agent shares: its options with defaults filled, and the agent's lifetime. */
export interface AgentSettings {
  readonly connect: TunnelAgentOptions['connect'];
  readonly onStream: TunnelAgentOptions['onStream'];
  readonly clock: Clock;
  readonly backoff: BackoffOptions;
  readonly keepAliveIntervalMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly maxConcurrentStreams: number;
  readonly instance: string;
  /** Aborts when the agent closes. */
  readonly closing: AbortSignal;
  /** A tunnel came up (the agent is ready once one has). */
  readonly onConnected: () => void;
}

/** One tunnel to one proxy, kept up by {@link keepLinkUp}. */
export interface ProxyLink {
  state: TunnelAgentState;
  /** The live connection, while there is one. */
  current: { socket: TLSSocket; session?: MuxSession } | undefined;
  /** Ends the backoff wait early (set while waiting). */
  wakeUp: (() => void) | undefined;
}

export function resolveAgentSettings(options: TunnelAgentOptions, closing: AbortSignal, onConnected: () => void): AgentSettings {
  return {
    connect: options.connect,
    onStream: options.onStream,
    clock: options.clock ?? systemClock,
    backoff: { ...DEFAULT_TUNNEL_BACKOFF, ...options.backoff },
    keepAliveIntervalMs: options.keepAliveIntervalMs ?? DEFAULT_KEEPALIVE_INTERVAL_MS,
    keepAliveTimeoutMs: options.keepAliveTimeoutMs ?? DEFAULT_KEEPALIVE_TIMEOUT_MS,
    connectTimeoutMs: options.connectTimeoutMs ?? 30_000,
    maxConcurrentStreams: options.maxConcurrentStreams ?? 10_000,
    instance: options.instance ?? PROCESS_INSTANCE,
    closing,
    onConnected,
  };
}

/** A promise settled once: resolved by the first tunnel, or rejected by a close before it. */
export function newReadyLatch(): { promise: Promise<void>; resolve: () => void; reject: (err: unknown) => void } {
  let settled = false;
  let resolveReady!: () => void;
  let rejectReady!: (err: unknown) => void;
  const promise = new Promise<void>((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  // Nobody has to await `ready`; a close before the first connection must not become an unhandled rejection.
  promise.catch(() => undefined);
  return {
    promise,
    resolve: () => {
      if (settled) return;
      settled = true;
      resolveReady();
    },
    reject: (err) => {
      if (settled) return;
      settled = true;
      rejectReady(err);
    },
  };
}

/** Drops a link's connection and ends its backoff wait, so its loop sees the agent closed. */
export function dropLink(link: ProxyLink): void {
  link.wakeUp?.();
  link.current?.session?.destroy();
  link.current?.socket.destroy();
}

/** The reconnect loop of one link: run a tunnel, back off with jitter, again, until the agent closes. */
async function keepLinkUp(a: AgentSettings, link: ProxyLink): Promise<void> {
  let attempt = 0;
  while (!a.closing.aborted) {
    link.state = 'connecting';
    let connectedAt: Date | undefined;
    try {
      connectedAt = await runTunnel(a, link, attempt);
    } catch (err) {
      publishTunnelDiagnostic({ event: 'connect-failed', side: 'agent', attempt, reason: reasonOf(err) });
    }
    link.current = undefined;
    if (a.closing.aborted) break;
    if (connectedAt !== undefined && a.clock.now().getTime() - connectedAt.getTime() >= STABLE_CONNECTION_MS) attempt = 0;
    const delayMs = jitteredBackoff(attempt, a.backoff);
    attempt++;
    link.state = 'backoff';
    publishTunnelDiagnostic({ event: 'backoff', side: 'agent', attempt, delayMs });
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, delayMs);
      link.wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    link.wakeUp = undefined;
  }
  link.state = 'closed';
}

/** Dials and runs one tunnel until it closes. Resolves with when it was established, if it was. */
async function runTunnel(a: AgentSettings, link: ProxyLink, attempt: number): Promise<Date | undefined> {
  publishTunnelDiagnostic({ event: 'connecting', side: 'agent', attempt });
  const attemptAbort = AbortSignal.any([a.closing, AbortSignal.timeout(a.connectTimeoutMs)]);
  const socket = await dialProxy(a, link, attemptAbort);
  if (socket === undefined) return undefined;
  return serveTunnelSocket(a, link, socket, attemptAbort);
}

/**
 * Runs the accepting side of the multiplexer on a dialed socket (ALPN checked) until the connection closes: streams
 * go to `onStream`, PINGs keep it alive. Resolves with when the tunnel was established, if it was; throws when the
 * peer never completed the tunnel handshake.
 */
export async function serveTunnelSocket(a: AgentSettings, link: ProxyLink, socket: TLSSocket, handshakeAbort: AbortSignal): Promise<Date | undefined> {
  let established!: (ok: boolean) => void;
  const handshake = new Promise<boolean>((resolve) => (established = resolve));
  let onClosed!: () => void;
  const closed = new Promise<void>((resolve) => (onClosed = resolve));
  const session = startMuxSession(
    socket,
    {
      onEstablished: () => established(true),
      onOpen: (stream, meta) => serveStream(a.onStream, stream, meta),
      maxStreams: a.maxConcurrentStreams,
      instance: a.instance,
      onClose: () => {
        established(false);
        onClosed();
      },
    },
    2,
  );
  link.current = { socket, session };
  const onAbort = () => established(false);
  handshakeAbort.addEventListener('abort', onAbort, { once: true });
  const ok = await handshake;
  handshakeAbort.removeEventListener('abort', onAbort);
  if (!ok) {
    session.destroy();
    await closed;
    if (a.closing.aborted) return undefined;
    throw new ConnectionProblemError('the proxy did not complete the reverse tunnel handshake');
  }
  const connectedAt = a.clock.now();
  link.state = 'connected';
  publishTunnelDiagnostic({ event: 'connected', side: 'agent' });
  a.onConnected();
  const stopKeepAlive = startKeepAlive(session, {
    intervalMs: a.keepAliveIntervalMs,
    timeoutMs: a.keepAliveTimeoutMs,
    onTimeout: () => {
      publishTunnelDiagnostic({ event: 'keepalive-timeout', side: 'agent', timeoutMs: a.keepAliveTimeoutMs });
      session.destroy();
    },
  });
  await closed;
  stopKeepAlive();
  publishTunnelDiagnostic({ event: 'disconnected', side: 'agent', reason: a.closing.aborted ? 'closed' : 'connection lost' });
  return connectedAt;
}

/** Dials the proxy and checks the negotiated ALPN; undefined when the agent closed meanwhile. */
async function dialProxy(a: AgentSettings, link: ProxyLink, signal: AbortSignal): Promise<TLSSocket | undefined> {
  const socket = await untilAborted(a.connect(signal), signal);
  // A reset after the handshake must not crash the agent: the session notices the close and we reconnect.
  socket.on('error', (err) => publishTunnelDiagnostic({ event: 'session-error', side: 'agent', reason: reasonOf(err) }));
  link.current = { socket };
  if (a.closing.aborted) {
    socket.destroy();
    return undefined;
  }
  if (socket.alpnProtocol !== REVERSE_TUNNEL_ALPN) {
    socket.destroy();
    throw new ConnectionProblemError(`the proxy did not negotiate ALPN "${REVERSE_TUNNEL_ALPN}"`, { code: TUNNEL_ERROR_CODES.badAlpn });
  }
  // Database protocols are chatty request/response: never hold a small frame back waiting for an ACK.
  socket.setNoDelay(true);
  return socket;
}

/** Serves one stream the proxy opened: decode its meta, hand it to `onStream`, answer. */
function serveStream(onStream: TunnelAgentOptions['onStream'], stream: MuxStream, rawMeta: Buffer): void {
  let service = '';
  stream.on('error', (err) => publishTunnelDiagnostic({ event: 'stream-error', side: 'agent', service, reason: reasonOf(err) }));
  const refuse = (err: unknown) => {
    publishTunnelDiagnostic({ event: 'stream-refused', side: 'agent', service, reason: reasonOf(err) });
    if (stream.destroyed) return;
    if (stream.accepted) stream.destroy();
    else stream.refuse(encodeTunnelError(err, service));
  };
  let meta: TunnelStreamMeta;
  try {
    meta = decodeTunnelMeta(rawMeta.toString('latin1'));
  } catch (err) {
    refuse(err);
    return;
  }
  service = meta.service;
  new Promise<void>((resolve) => resolve(onStream(meta, stream))).then(
    () => stream.accept(),
    (err: unknown) => refuse(err),
  );
}
