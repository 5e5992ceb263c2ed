/**
 * The proxy's single public listener. It reads the ClientHello on the raw TCP socket (bounded, with a deadline),
 * then either passes the untouched bytes to a protocol that must see the client's own TLS (the auth API, whose
 * mTLS must reach the auth server) or terminates TLS here and dispatches by the negotiated ALPN protocol. Later
 * protocols (`teleport-postgres`, `teleport-ssh`, `teleport-reversetunnel`) plug in through {@link ProtocolRegistry}.
 */

import net from 'node:net';
import tls from 'node:tls';
import { isTeleportError, LimitExceededError, toWireError } from '@teleport-ts/core/errors';
import { DEFAULT_PRE_AUTH_DEADLINES, tooManyPendingMessage, type PendingConnections } from '../../http/deadlines.js';
import { MAX_CLIENT_HELLO_BYTES, readClientHello, type ClientHello } from './clienthello.js';

/** ALPN protocol ids of Teleport's TLS routing. */
export const ALPN_PROTOCOLS = Object.freeze({
  http: 'http/1.1',
  auth: 'teleport-auth',
  postgres: 'teleport-postgres',
  ssh: 'teleport-ssh',
  /** SSH to a node through the proxy, after a one-line JSON route request (see `./ssh.ts`). */
  proxySsh: 'teleport-proxy-ssh',
  reverseTunnel: 'teleport-reversetunnel',
});

/** Where a connection came from and what it asked for. */
interface ConnectionInfo {
  hello: ClientHello;
  remoteAddr: string;
  /**
   * Frees the connection's slot among its address's connections that have not identified themselves; a route calls
   * it once the client did (a request head, a verified startup message, an agent's certificate). Idempotent.
   */
  established: () => void;
}

/**
 * A protocol served on the proxy port.
 * - `passthrough`: gets the raw TCP socket; the ClientHello bytes are still unread on it.
 * - `terminate`: gets the proxy's TLS socket after the handshake, with `alpnProtocol` set to `protocol`.
 */
type ProtocolRoute =
  | { protocol: string; tls: 'passthrough'; handle(socket: net.Socket, info: ConnectionInfo): void }
  | { protocol: string; tls: 'terminate'; handle(socket: tls.TLSSocket, info: ConnectionInfo): void };

/** The plug-in point for protocols of later roles. */
export interface ProtocolRegistry {
  /** Adds a protocol; returns a function that removes it. Throws `TypeError` when the protocol is taken. */
  register(route: ProtocolRoute): () => void;
  /** Registered protocol ids, `http/1.1` included. */
  protocols(): string[];
}

/** Events worth a log line; the listener itself never prints. */
type AlpnListenerEvent =
  | { type: 'bad-client-hello'; remoteAddr: string; message: string }
  | { type: 'too-many-pending'; remoteAddr: string; message: string }
  | { type: 'handshake-timeout'; remoteAddr: string }
  | { type: 'route-error'; remoteAddr: string; protocol: string; error: unknown };

export interface AlpnListenerOptions {
  /** TLS key and certificate chain (PEM) of the web listener. */
  certificate: { key: string; cert: string };
  /** Handles terminated connections that negotiated `http/1.1` or no ALPN at all. */
  web: (socket: tls.TLSSocket, info: ConnectionInfo) => void;
  /** Deadline for the ClientHello and for the TLS handshake, ms. Default 10 s. */
  handshakeTimeoutMs?: number;
  /** Connections per source address not yet identified; over it, an HTTP client gets a 429, others are closed. */
  pending?: PendingConnections;
  onEvent?: (event: AlpnListenerEvent) => void;
}

export interface AlpnListener extends ProtocolRegistry {
  server: net.Server;
  /** Stops accepting and destroys open connections. */
  close(): Promise<void>;
}

/** The listener's state: routes, open sockets, and what the raw side learnt of connections handed to TLS. */
interface ListenerState {
  options: AlpnListenerOptions;
  routes: Map<string, ProtocolRoute>;
  timeoutMs: number;
  emit: (event: AlpnListenerEvent) => void;
  sockets: Set<net.Socket>;
  /** ConnectionInfo of raw sockets handed to the TLS server, by remote address and port (same on both sockets). */
  infos: Map<string, ConnectionInfo>;
  /** Raw sockets over the per-address limit, by the same key: refused once their protocol is known. */
  refused: Map<string, string>;
  tlsServer: tls.Server;
}

/** The key that names a connection on both its raw and its TLS socket (they share the remote address and port). */
export function peerKey(s: net.Socket): string {
  return `${s.remoteAddress ?? ''}|${s.remotePort ?? 0}`;
}

/** Hands a socket to its route; a route that throws gets the socket closed and an event. */
function handOver(emit: ListenerState['emit'], route: ProtocolRoute, socket: net.Socket, info: ConnectionInfo): void {
  try {
    // A terminate route is only ever handed the TLS socket (see newTerminatingServer).
    (route.handle as (socket: net.Socket, info: ConnectionInfo) => void)(socket, info);
  } catch (error) {
    emit({ type: 'route-error', remoteAddr: info.remoteAddr, protocol: route.protocol, error });
    socket.destroy();
  }
}

function infoOf(state: Omit<ListenerState, 'tlsServer'>, socket: net.Socket): ConnectionInfo {
  return state.infos.get(peerKey(socket)) ?? { hello: { serverName: undefined, alpnProtocols: [] }, remoteAddr: socket.remoteAddress ?? '', established: () => {} };
}

/** A 429 in our wire format, then the end: an HTTP client over the per-address limit reads why. */
function refuseHttp(socket: tls.TLSSocket, message: string): void {
  const body = JSON.stringify({ error: toWireError(new LimitExceededError(message, { code: 'ERR_TP_RATE_LIMITED' })) });
  socket.end(`HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}

/** The TLS server of terminated protocols: dispatches by the negotiated ALPN protocol, `http/1.1` or none to the web. */
function newTerminatingServer(state: Omit<ListenerState, 'tlsServer'>): tls.Server {
  const { options, routes } = state;
  const tlsServer = tls.createServer({
    key: options.certificate.key,
    cert: options.certificate.cert,
    minVersion: 'TLSv1.2',
    handshakeTimeout: state.timeoutMs,
    // Only protocols the client offered and we serve; a client offering none of them gets a fatal alert (RFC 7301).
    ALPNCallback: ({ protocols }) => protocols.find((p) => p === ALPN_PROTOCOLS.http || routes.get(p)?.tls === 'terminate'),
  });
  tlsServer.on('secureConnection', (socket: tls.TLSSocket) => {
    const refusal = state.refused.get(peerKey(socket));
    if (refusal !== undefined) {
      refuseHttp(socket, refusal);
      return;
    }
    const protocol = socket.alpnProtocol;
    const route = typeof protocol === 'string' ? routes.get(protocol) : undefined;
    if (route?.tls === 'terminate') {
      handOver(state.emit, route, socket, infoOf(state, socket));
      return;
    }
    options.web(socket, infoOf(state, socket));
  });
  tlsServer.on('tlsClientError', (_err, socket) => socket.destroy());
  return tlsServer;
}

/** After the ClientHello: a passthrough route gets the raw socket, anything else goes to the TLS server. */
function routeByHello(state: ListenerState, socket: net.Socket, info: ConnectionInfo): void {
  const route = info.hello.alpnProtocols.map((p) => state.routes.get(p)).find((r) => r !== undefined);
  const key = peerKey(socket);
  const refusal = state.refused.get(key);
  if (route?.tls === 'passthrough') {
    // A refused connection of a protocol that is not HTTP is closed: the event names the reason.
    if (refusal !== undefined) socket.destroy();
    else handOver(state.emit, route, socket, info);
    return;
  }
  state.infos.set(key, info);
  socket.once('close', () => state.infos.delete(key));
  state.tlsServer.emit('connection', socket);
}

/** Counts the connection among its address's unidentified ones; over the limit it is marked refused (and told once its protocol is known). */
function admit(state: ListenerState, socket: net.Socket, remoteAddr: string): () => void {
  const pending = state.options.pending;
  const release = pending?.admit(remoteAddr);
  if (pending !== undefined && release === undefined) {
    const key = peerKey(socket);
    const message = tooManyPendingMessage(remoteAddr, pending.max);
    state.refused.set(key, message);
    socket.once('close', () => state.refused.delete(key));
    state.emit({ type: 'too-many-pending', remoteAddr, message });
    return () => {};
  }
  if (release !== undefined) socket.once('close', release);
  return release ?? (() => {});
}

/** Reads the ClientHello of a new raw connection (bounded, with a deadline), puts its bytes back and routes it. */
function acceptConnection(state: ListenerState, socket: net.Socket): void {
  state.sockets.add(socket);
  socket.once('close', () => state.sockets.delete(socket));
  socket.on('error', () => socket.destroy());
  const remoteAddr = socket.remoteAddress ?? '';
  const established = admit(state, socket, remoteAddr);
  let buffered: Buffer = Buffer.alloc(0);
  const timer = setTimeout(() => {
    state.emit({ type: 'handshake-timeout', remoteAddr });
    socket.destroy();
  }, state.timeoutMs);
  const onData = (chunk: Buffer): void => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    let result;
    try {
      result = readClientHello(buffered);
    } catch (err) {
      clearTimeout(timer);
      socket.off('data', onData);
      state.emit({ type: 'bad-client-hello', remoteAddr, message: isTeleportError(err) ? err.message : String(err) });
      socket.destroy();
      return;
    }
    if (!result.done) {
      if (buffered.length > MAX_CLIENT_HELLO_BYTES) socket.destroy();
      return;
    }
    clearTimeout(timer);
    socket.off('data', onData);
    socket.pause();
    socket.unshift(buffered);
    routeByHello(state, socket, { hello: result.hello, remoteAddr, established });
  };
  socket.on('data', onData);
}

/**
 * @example
 * ```ts
 * const listener = newAlpnListener({ certificate, web: (s) => httpServer.emit('connection', s) });
 * listener.register({ protocol: 'teleport-auth', tls: 'passthrough', handle: (s) => spliceTo(authAddr, s) });
 * listener.server.listen(3080);
 * ```
 */
export function newAlpnListener(options: AlpnListenerOptions): AlpnListener {
  const base: Omit<ListenerState, 'tlsServer'> = {
    options,
    routes: new Map(),
    timeoutMs: options.handshakeTimeoutMs ?? DEFAULT_PRE_AUTH_DEADLINES.handshakeMs,
    emit: options.onEvent ?? (() => {}),
    sockets: new Set(),
    infos: new Map(),
    refused: new Map(),
  };
  const state: ListenerState = { ...base, tlsServer: newTerminatingServer(base) };
  const { routes, sockets } = state;
  const server = net.createServer((socket) => acceptConnection(state, socket));
  return {
    server,
    register(route) {
      if (route.protocol === ALPN_PROTOCOLS.http || routes.has(route.protocol)) {
        throw new TypeError(`ALPN protocol ${route.protocol} is already registered`);
      }
      routes.set(route.protocol, route);
      return () => {
        if (routes.get(route.protocol) === route) routes.delete(route.protocol);
      };
    },
    protocols: () => [ALPN_PROTOCOLS.http, ...routes.keys()],
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

/** How long the auth server may take to accept a passthrough connection before the fallback serves it. */
const SPLICE_CONNECT_TIMEOUT_MS = 3_000;

/**
 * A passthrough handler that splices the raw connection to `host:port` (bytes already read included).
 * Errors on either side close both. With `fallback`, a connection the target does not accept (refused, unreachable,
 * no answer in 3 s) is handed to it untouched instead (nothing was read from it yet).
 */
export function spliceTo(target: { host: string; port: number }, onError?: (err: Error) => void, fallback?: (socket: net.Socket) => void): (socket: net.Socket) => void {
  return (socket) => {
    const upstream = net.connect({ host: target.host, port: target.port });
    upstream.setNoDelay(true);
    socket.setNoDelay(true);
    let connected = false;
    const timer = fallback ? setTimeout(() => upstream.destroy(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' })), SPLICE_CONNECT_TIMEOUT_MS) : undefined;
    const fail = (err: Error): void => {
      clearTimeout(timer);
      if (!connected && fallback && !socket.destroyed) {
        upstream.removeAllListeners('close');
        socket.off('error', fail);
        // The fallback's TLS layer reports its own errors; the raw socket must still never throw one.
        socket.on('error', () => socket.destroy());
        fallback(socket);
        return;
      }
      onError?.(err);
      socket.destroy();
      upstream.destroy();
    };
    upstream.once('error', fail);
    socket.once('error', fail);
    upstream.once('connect', () => {
      connected = true;
      clearTimeout(timer);
      socket.pipe(upstream);
      upstream.pipe(socket);
      socket.resume();
    });
    socket.once('close', () => upstream.destroy());
    upstream.once('close', () => {
      if (connected || !fallback) socket.destroy();
    });
  };
}
