/**
 * Who serves the SSH bytes that reach a node (from its reverse tunnel or its direct listener). The node's own SSH
 * server (`./server/`, `newNodeSshServer`) is one; until it is wired in, a node can hand every stream to an
 * OpenSSH server on this host (`upstreamSshHandler`), which is what the end-to-end tests of the routing path use.
 */

import net from 'node:net';
import type { Duplex } from 'node:stream';
import { parseHostPort } from '@teleport-ts/core/config';

/** The node's SSH server as the node sees it: it takes raw SSH byte streams. */
export interface SshStreamHandler {
  handle(stream: Duplex, remoteAddr: string): void;
  close(): Promise<void>;
}

/** Hands every stream to the SSH server at `addr` (`host:port`), byte for byte, both ways. */
export function upstreamSshHandler(addr: string): SshStreamHandler {
  const target = parseHostPort(addr, 22);
  const open = new Set<net.Socket>();
  return {
    handle(stream) {
      const upstream = net.connect({ host: target.host, port: target.port });
      upstream.setNoDelay(true);
      open.add(upstream);
      const done = (): void => {
        open.delete(upstream);
        upstream.destroy();
        stream.destroy();
      };
      upstream.once('error', done);
      stream.once('error', done);
      upstream.once('close', done);
      stream.once('close', done);
      stream.pipe(upstream);
      upstream.pipe(stream);
    },
    async close() {
      for (const socket of open) socket.destroy();
    },
  };
}
