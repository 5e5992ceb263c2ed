/**
 * The proxy's single public listener. It reads the ClientHello on the raw TCP socket (bounded, with a deadline),
 * then either passes the untouched bytes to a protocol that must see the client's own TLS (the auth API, whose
 * mTLS must reach the auth server) or terminates TLS here and dispatches by the negotiated ALPN protocol. Later
 * protocols (`teleport-postgres`, `teleport-ssh`, `teleport-reversetunnel`) plug in through {@link ProtocolRegistry}.
 */

import net from 'node:net';
import tls from 'node:tls';
import { isTeleportError } from '@teleport-ts/core/errors';
import { MAX_CLIENT_HELLO_BYTES, readClientHello, type ClientHello } from './clienthello.js';

/** ALPN protocol ids of Teleport's TLS routing. */
export const ALPN_PROTOCOLS = Object.freeze({
  http: 'http/1.1',
  auth: 'teleport-auth',
  postgres: 'teleport-postgres',
  ssh: 'teleport-ssh',
  reverseTunnel: 'teleport-reversetunnel',
});

/** Where a connection came from and what it asked for. */
interface ConnectionInfo {
  hello: ClientHello;
  remoteAddr: string;
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
  | { type: 'handshake-timeout'; remoteAddr: string }
  | { type: 'route-error'; remoteAddr: string; protocol: string; error: unknown };

export interface AlpnListenerOptions {
  /** TLS key and certificate chain (PEM) of the web listener. */
  certificate: { key: string; cert: string };
  /** Handles terminated connections that negotiated `http/1.1` or no ALPN at all. */
  web: (socket: tls.TLSSocket) => void;
  /** Deadline for the ClientHello and for the TLS handshake, ms. Default 10 s. */
  handshakeTimeoutMs?: number;
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
  tlsServer: tls.Server;
}

function peerKey(s: net.Socket): string {
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
    const protocol = socket.alpnProtocol;
    const route = typeof protocol === 'string' ? routes.get(protocol) : undefined;
    if (route?.tls === 'terminate') {
      const info = state.infos.get(peerKey(socket)) ?? { hello: { serverName: undefined, alpnProtocols: [] }, remoteAddr: socket.remoteAddress ?? '' };
      handOver(state.emit, route, socket, info);
      return;
    }
    options.web(socket);
  });
  tlsServer.on('tlsClientError', (_err, socket) => socket.destroy());
  return tlsServer;
}

/** After the ClientHello: a passthrough route gets the raw socket, anything else goes to the TLS server. */
function routeByHello(state: ListenerState, socket: net.Socket, info: ConnectionInfo): void {
  const route = info.hello.alpnProtocols.map((p) => state.routes.get(p)).find((r) => r !== undefined);
  if (route?.tls === 'passthrough') {
    handOver(state.emit, route, socket, info);
    return;
  }
  const key = peerKey(socket);
  state.infos.set(key, info);
  socket.once('close', () => state.infos.delete(key));
  state.tlsServer.emit('connection', socket);
}

/** Reads the ClientHello of a new raw connection (bounded, with a deadline), puts its bytes back and routes it. */
function acceptConnection(state: ListenerState, socket: net.Socket): void {
  state.sockets.add(socket);
  socket.once('close', () => state.sockets.delete(socket));
  socket.on('error', () => socket.destroy());
  const remoteAddr = socket.remoteAddress ?? '';
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
    routeByHello(state, socket, { hello: result.hello, remoteAddr });
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
    timeoutMs: options.handshakeTimeoutMs ?? 10_000,
    emit: options.onEvent ?? (() => {}),
    sockets: new Set(),
    infos: new Map(),
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

/**
 * A passthrough handler that splices the raw connection to `host:port` (bytes already read included).
 * Errors on either side close both.
 */
export function spliceTo(target: { host: string; port: number }, onError?: (err: Error) => void): (socket: net.Socket) => void {
  return (socket) => {
    const upstream = net.connect({ host: target.host, port: target.port });
    upstream.setNoDelay(true);
    socket.setNoDelay(true);
    const fail = (err: Error): void => {
      onError?.(err);
      socket.destroy();
      upstream.destroy();
    };
    upstream.once('error', fail);
    socket.once('error', fail);
    upstream.once('connect', () => {
      socket.pipe(upstream);
      upstream.pipe(socket);
      socket.resume();
    });
    socket.once('close', () => upstream.destroy());
    upstream.once('close', () => socket.destroy());
  };
}
