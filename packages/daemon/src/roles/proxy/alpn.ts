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
export interface ConnectionInfo {
  hello: ClientHello;
  remoteAddr: string;
}

/**
 * A protocol served on the proxy port.
 * - `passthrough`: gets the raw TCP socket; the ClientHello bytes are still unread on it.
 * - `terminate`: gets the proxy's TLS socket after the handshake, with `alpnProtocol` set to `protocol`.
 */
export type ProtocolRoute =
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
export type AlpnListenerEvent =
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

/**
 * @example
 * ```ts
 * const listener = newAlpnListener({ certificate, web: (s) => httpServer.emit('connection', s) });
 * listener.register({ protocol: 'teleport-auth', tls: 'passthrough', handle: (s) => spliceTo(authAddr, s) });
 * listener.server.listen(3080);
 * ```
 */
export function newAlpnListener(options: AlpnListenerOptions): AlpnListener {
  const routes = new Map<string, ProtocolRoute>();
  const timeoutMs = options.handshakeTimeoutMs ?? 10_000;
  const emit = options.onEvent ?? (() => {});
  const sockets = new Set<net.Socket>();
  // ConnectionInfo of raw sockets handed to the TLS server, by remote address and port (same on both sockets).
  const infos = new Map<string, ConnectionInfo>();
  const peerKey = (s: net.Socket): string => `${s.remoteAddress ?? ''}|${s.remotePort ?? 0}`;

  const tlsServer = tls.createServer({
    key: options.certificate.key,
    cert: options.certificate.cert,
    minVersion: 'TLSv1.2',
    handshakeTimeout: timeoutMs,
    // Only protocols the client offered and we serve; a client offering none of them gets a fatal alert (RFC 7301).
    ALPNCallback: ({ protocols }) => protocols.find((p) => p === ALPN_PROTOCOLS.http || routes.get(p)?.tls === 'terminate'),
  });
  tlsServer.on('secureConnection', (socket: tls.TLSSocket) => {
    const protocol = socket.alpnProtocol;
    const route = typeof protocol === 'string' ? routes.get(protocol) : undefined;
    if (route?.tls === 'terminate') {
      const info = infos.get(peerKey(socket)) ?? { hello: { serverName: undefined, alpnProtocols: [] }, remoteAddr: socket.remoteAddress ?? '' };
      try {
        route.handle(socket, info);
      } catch (error) {
        emit({ type: 'route-error', remoteAddr: info.remoteAddr, protocol: route.protocol, error });
        socket.destroy();
      }
      return;
    }
    options.web(socket);
  });
  tlsServer.on('tlsClientError', (_err, socket) => socket.destroy());

  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const remoteAddr = socket.remoteAddress ?? '';
    let buffered: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => {
      emit({ type: 'handshake-timeout', remoteAddr });
      socket.destroy();
    }, timeoutMs);
    const onData = (chunk: Buffer): void => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      let result;
      try {
        result = readClientHello(buffered);
      } catch (err) {
        clearTimeout(timer);
        socket.off('data', onData);
        emit({ type: 'bad-client-hello', remoteAddr, message: isTeleportError(err) ? err.message : String(err) });
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
      const info: ConnectionInfo = { hello: result.hello, remoteAddr };
      const route = result.hello.alpnProtocols.map((p) => routes.get(p)).find((r) => r !== undefined);
      if (route?.tls === 'passthrough') {
        try {
          route.handle(socket, info);
        } catch (error) {
          emit({ type: 'route-error', remoteAddr, protocol: route.protocol, error });
          socket.destroy();
        }
        return;
      }
      const key = peerKey(socket);
      infos.set(key, info);
      socket.once('close', () => infos.delete(key));
      tlsServer.emit('connection', socket);
    };
    socket.on('data', onData);
  });

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
