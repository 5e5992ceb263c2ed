/**
 * The peer address of a TLS connection, for logs, that survives the connection: a client that resets during the
 * handshake leaves a TLSSocket whose `remoteAddress` is gone by the time `tlsClientError` fires (it logged
 * `remote_addr: ""`). {@link rememberPeers} records the address of every raw socket a TLS server is handed.
 */

import type { Socket } from 'node:net';
import type { Server as TlsServer, TLSSocket } from 'node:tls';

const peers = new WeakMap<object, string>();

/** `IP:port` (`[IPv6]:port`, an IPv4-mapped address as plain IPv4), or `''` when the socket does not know it. */
export function formatPeer(address: string | undefined, port: number | undefined): string {
  if (!address) return '';
  const ip = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1] ?? address;
  const host = ip.includes(':') ? `[${ip}]` : ip;
  return port ? `${host}:${port}` : host;
}

/** Records the address of every socket `server` receives (listened or handed over with `emit('connection')`). */
export function rememberPeers(server: TlsServer): void {
  server.on('connection', (raw: Socket) => {
    peers.set(raw, formatPeer(raw.remoteAddress, raw.remotePort));
  });
}

/** The peer of a TLS socket of a server passed to {@link rememberPeers}, even after the connection is gone. */
export function peerOf(socket: TLSSocket | Socket): string {
  const live = formatPeer(socket.remoteAddress, socket.remotePort);
  if (live !== '') return live;
  // Node keeps the wrapped raw socket as `_parent` on a server-side TLSSocket.
  const parent = (socket as { _parent?: unknown })._parent;
  return (typeof parent === 'object' && parent !== null ? peers.get(parent) : undefined) ?? peers.get(socket) ?? '';
}
