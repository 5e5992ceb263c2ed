/**
 * Port forwarding of `tsh ssh`: `-L [bind_addr:]port:host:hostport` listens here and opens a `direct-tcpip` channel
 * per connection; `-R [bind_addr:]port:host:hostport` asks the node to listen and connects here for each
 * `forwarded-tcpip` channel it opens.
 */

import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { Client } from '@teleport-ts/core/protocol/ssh';
import { BadParameterError, ConnectionProblemError } from '@teleport-ts/core/errors';

export interface ForwardSpec {
  bindAddr: string;
  port: number;
  host: string;
  hostPort: number;
}

function portOf(text: string | undefined, spec: string): number {
  const n = Number(text);
  if (text === undefined || !/^\d+$/.test(text) || !(n >= 0 && n < 65536)) throw new BadParameterError(`invalid port forwarding spec ${JSON.stringify(spec)}`);
  return n;
}

/** Parses `[bind_addr:]port:host:hostport` (IPv6 hosts in brackets). */
export function parseForwardSpec(spec: string): ForwardSpec {
  const parts = spec.match(/\[[^\]]*\]|[^:]+/g)?.map((p) => p.replace(/^\[(.*)\]$/, '$1')) ?? [];
  if (parts.length !== 3 && parts.length !== 4) throw new BadParameterError(`invalid port forwarding spec ${JSON.stringify(spec)}`, { hint: 'expected [bind_addr:]port:host:hostport' });
  const [bindAddr, port, host, hostPort] = parts.length === 4 ? parts : ['127.0.0.1', ...parts];
  return { bindAddr: bindAddr!, port: portOf(port, spec), host: host!, hostPort: portOf(hostPort, spec) };
}

function bothWays(a: Duplex, b: Duplex): void {
  a.pipe(b).pipe(a);
  a.on('error', () => b.destroy());
  b.on('error', () => a.destroy());
  a.on('close', () => b.destroy());
  b.on('close', () => a.destroy());
}

/** `-L`: a local listener whose connections go to `host:hostPort` as seen from the node. */
export function startLocalForward(client: Client, spec: ForwardSpec): Promise<net.Server> {
  const server = net.createServer((socket) => {
    client.forwardOut(socket.remoteAddress ?? '127.0.0.1', socket.remotePort ?? 0, spec.host, spec.hostPort, (err, channel) => {
      if (err) {
        socket.destroy();
        return;
      }
      bothWays(socket, channel);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new ConnectionProblemError(`failed to listen on ${spec.bindAddr}:${spec.port} for port forwarding: ${err.code ?? err.message}`)),
    );
    server.listen(spec.port, spec.bindAddr, () => resolve(server));
  });
}

/** `-R`: the node listens on `bindAddr:port`; its connections come here to `host:hostPort`. */
export async function startRemoteForward(client: Client, spec: ForwardSpec): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    client.forwardIn(spec.bindAddr, spec.port, (err) => {
      if (err) reject(new ConnectionProblemError(`the node refused remote port forwarding on ${spec.bindAddr}:${spec.port}: ${err.message}`));
      else resolve();
    });
  });
  client.on('tcp connection', (info, accept, reject) => {
    if (spec.port !== 0 && info.destPort !== spec.port) return;
    let accepted = false;
    const socket = net.connect(spec.hostPort, spec.host, () => {
      accepted = true;
      bothWays(socket, accept());
    });
    socket.once('error', () => {
      if (!accepted) reject();
    });
  });
}
