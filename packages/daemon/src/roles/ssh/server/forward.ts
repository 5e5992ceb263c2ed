/**
 * Port forwarding (`ssh -L`: `direct-tcpip` channels; `ssh -R`: `tcpip-forward` requests, bound to loopback as
 * sshd's `GatewayPorts no`) and agent forwarding (`ssh -A`: a socket only the login's account can use, each
 * connection to it opening an `auth-agent@openssh.com` channel back to the client).
 */

import { chmod, chown, mkdtemp, rm } from 'node:fs/promises';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import type { Client, Connection, TcpipRequestInfo } from 'ssh2';
import type { HostAccount } from './users.js';

/** Joins two streams both ways, ending each when the other ends, destroying both on an error. */
export function splice(a: Duplex, b: Duplex): void {
  a.pipe(b);
  b.pipe(a);
  const destroy = (): void => {
    a.destroy();
    b.destroy();
  };
  a.on('error', destroy);
  b.on('error', destroy);
  a.on('close', () => b.end());
  b.on('close', () => a.end());
}

/** Dials `host:port` for a `direct-tcpip` channel; resolves with the socket once connected. */
export function dialTcp(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.removeListener('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** Opens a `direct-tcpip` channel through `client` (relay mode: the node dials `destIP:destPort`). */
export function forwardOut(client: Client, info: TcpipRequestInfo): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    client.forwardOut(info.srcIP, info.srcPort, info.destIP, info.destPort, (err, channel) => (err ? reject(err) : resolve(channel)));
  });
}

/** Maps a requested `-R` bind address to loopback, as sshd with `GatewayPorts no`. */
export function loopbackBindAddress(requested: string): string {
  return requested === '::1' || requested === '[::1]' ? '::1' : '127.0.0.1';
}

/** A `tcpip-forward` listener: each connection opens a `forwarded-tcpip` channel to the client. */
export function listenForward(connection: Connection, bindAddr: string, bindPort: number): Promise<Server> {
  const server = createServer((socket) => {
    connection.forwardOut(bindAddr, (server.address() as { port: number }).port, socket.remoteAddress ?? '', socket.remotePort ?? 0, (err, channel) => {
      if (err) return socket.destroy();
      splice(socket, channel);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(bindPort, loopbackBindAddress(bindAddr), () => {
      server.removeListener('error', reject);
      resolve(server);
    });
  });
}

/** An agent socket for one session. */
export interface AgentForward {
  socketPath: string;
  close(): Promise<void>;
}

/** Listens on a fresh socket in a private directory owned by the account; connections go to the client's agent. */
export async function startAgentForward(connection: Connection & { openssh_authAgent?: (cb: (err: Error | undefined, ch: Duplex) => void) => void }, account: HostAccount): Promise<AgentForward> {
  const dir = await mkdtemp(join(tmpdir(), 'teleport-agent-'));
  const socketPath = join(dir, 'agent.sock');
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    connection.openssh_authAgent!((err, channel) => {
      if (err) return socket.destroy();
      splice(socket, channel);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  await chmod(socketPath, 0o600);
  if (process.getuid?.() === 0) {
    await chown(dir, account.uid, account.gid);
    await chown(socketPath, account.uid, account.gid);
  }
  return {
    socketPath,
    close: async () => {
      // Clients of the socket (ssh-add, a forwarded ssh) may hold it open: close() would wait for them.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
