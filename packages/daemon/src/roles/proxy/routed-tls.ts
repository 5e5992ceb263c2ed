/**
 * The TLS server behind one ALPN route of the proxy's port (the ALPN listener hands it connections; it never listens
 * itself): mTLS requested but checked by the route after its first message, so that a refusal reaches the client in
 * the route's own protocol (a PostgreSQL error, the SSH route's answer line).
 */

import type { Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { peerKey, type ProtocolRegistry } from './alpn.js';
import { peerOf, rememberPeers } from './peer.js';
import type { ProxyLogger } from './service.js';

export interface RoutedTlsServerOptions {
  certificate: { key: string; cert: string };
  alpn: string;
  handshakeMs: number;
  /** What the route serves, in log lines: `database`, `SSH`. */
  what: string;
  log: ProxyLogger;
  /** Serves one client after the handshake; a rejection is logged and the socket destroyed. */
  serve: (socket: TLSSocket) => Promise<void>;
}

export function newRoutedTlsServer(options: RoutedTlsServerOptions): TlsServer {
  const { log, what } = options;
  const server = createTlsServer(
    {
      key: options.certificate.key,
      cert: options.certificate.cert,
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
      ALPNProtocols: [options.alpn],
      handshakeTimeout: options.handshakeMs,
    },
    (socket: TLSSocket) => {
      options.serve(socket).catch((err: unknown) => {
        log.warn(`${what} connection failed`, { error: err instanceof Error ? err.message : String(err) });
        socket.destroy();
      });
    },
  );
  rememberPeers(server);
  server.on('tlsClientError', (err, socket) => {
    log.info(`${what} client TLS handshake failed`, { remote_addr: peerOf(socket), error: err.message });
    socket.destroy();
  });
  return server;
}

/**
 * Hands the proxy port's connections for `protocol` (raw, TLS not yet terminated) to `server`, remembering each
 * connection's `established` callback under its peer key (the route calls it once the client is identified).
 * `close()` unregisters the protocol and destroys the connections still open.
 */
export function routeToTlsServer(options: { registry: ProtocolRegistry; protocol: string; server: TlsServer; established: Map<string, () => void> }): { close(): Promise<void> } {
  const { server, established } = options;
  const sockets = new Set<Socket>();
  const unregister = options.registry.register({
    protocol: options.protocol,
    tls: 'passthrough',
    handle: (socket, info) => {
      sockets.add(socket);
      const key = peerKey(socket);
      established.set(key, info.established);
      socket.once('close', () => {
        sockets.delete(socket);
        established.delete(key);
      });
      server.emit('connection', socket);
    },
  });
  return {
    async close() {
      unregister();
      for (const socket of sockets) socket.destroy();
    },
  };
}
