/**
 * The TLS server behind one ALPN route of the proxy's port (the ALPN listener hands it connections; it never listens
 * itself): mTLS requested but checked by the route after its first message, so that a refusal reaches the client in
 * the route's own protocol (a PostgreSQL error, the SSH route's answer line).
 */

import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
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
