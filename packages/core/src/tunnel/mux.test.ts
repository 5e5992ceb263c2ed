/**
 * The multiplexer's wire seen from a hand-written peer on a real TLS socket: the proxy drops a peer that does not
 * speak it (an agent of the HTTP/2 tunnel) and one that sends more than the flow-control window it was granted, and
 * sends what a stream writes in one tick as one DATA frame.
 */

import { once } from 'node:events';
import type { TLSSocket } from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { newTunnelServer, type TunnelServer } from './server.js';
import { STREAM_WINDOW_BYTES } from './session.js';
import { dialProxy, makeTunnelPki, startProxyListener, type ProxyListener, type TunnelPki } from './testing.js';

let pki: TunnelPki;
beforeAll(async () => {
  pki = await makeTunnelPki();
});

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function proxy(): Promise<{ tunnels: TunnelServer; listener: ProxyListener }> {
  const tunnels = newTunnelServer();
  const listener = await startProxyListener({ pki, tunnels });
  cleanups.push(
    () => tunnels.close(),
    () => listener.close(),
  );
  return { tunnels, listener };
}

function frame(type: number, id: number, payload: Buffer = Buffer.alloc(0), declaredLength = payload.length): Buffer {
  const header = Buffer.alloc(9);
  header[0] = type;
  header.writeUInt32BE(id, 1);
  header.writeUInt32BE(declaredLength, 5);
  return Buffer.concat([header, payload]);
}

const HELLO = frame(0, 0, Buffer.concat([Buffer.from('teleport-tunnel-mux/1', 'latin1'), Buffer.from([0, 0, 0, 1])]));

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('tunnel multiplexer wire', () => {
  it('drops a peer that speaks HTTP/2 (an agent of the first tunnel protocol) without listing it', async () => {
    const { tunnels, listener } = await proxy();
    const socket: TLSSocket = await dialProxy(pki, () => listener.port)(new AbortController().signal);
    const closed = once(socket, 'close');
    socket.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
    await closed;
    expect(tunnels.hasAgent(pki.agent.hostId)).toBe(false);
  });

  /** A hand-written agent peer: TLS to the proxy, HELLO, and stream 1 (the proxy's first OPEN) accepted. */
  async function peerWithStream() {
    const { tunnels, listener } = await proxy();
    const socket: TLSSocket = await dialProxy(pki, () => listener.port)(new AbortController().signal);
    const received: Buffer[] = [];
    socket.on('data', (d: Buffer) => received.push(d));
    const closed = once(socket, 'close');
    socket.write(HELLO);
    await waitFor(() => tunnels.hasAgent(pki.agent.hostId), 'the proxy to list the agent');
    const opening = tunnels.openStream(pki.agent.hostId, { service: 'db' });
    await waitFor(() => Buffer.concat(received).includes(Buffer.from([1, 0, 0, 0, 1])), 'the OPEN frame');
    socket.write(frame(2, 1));
    return { tunnels, socket, stream: await opening, received, closed };
  }

  it('lists a peer after its HELLO, and drops it when it sends more DATA than the window it was granted', async () => {
    const { tunnels, socket, stream, closed } = await peerWithStream();
    // Stream 1 is accepted: overrun its window by one byte.
    stream.on('error', () => undefined);
    socket.write(frame(4, 1, Buffer.alloc(1024), STREAM_WINDOW_BYTES + 1));
    await closed;
    await waitFor(() => !tunnels.hasAgent(pki.agent.hostId), 'the proxy to drop the agent');
    await waitFor(() => stream.destroyed, 'the stream to close');
  });

  it('sends the writes of one tick on a stream as one DATA frame (small and large chunks), byte-exact', async () => {
    const { stream, received } = await peerWithStream();
    received.length = 0;

    const chunks = [Buffer.alloc(100, 1), Buffer.alloc(8192, 2), Buffer.alloc(10, 3), Buffer.alloc(20_000, 4)];
    for (const c of chunks) stream.write(c);
    const total = chunks.reduce((n, c) => n + c.length, 0);
    await waitFor(() => Buffer.concat(received).length >= 9 + total, 'the DATA');
    const wire = Buffer.concat(received);
    // One frame: type DATA (4), stream 1, the length of everything written in that tick, then the bytes in order.
    expect([wire[0], wire.readUInt32BE(1), wire.readUInt32BE(5)]).toEqual([4, 1, total]);
    expect(wire.subarray(9, 9 + total).equals(Buffer.concat(chunks))).toBe(true);
    expect(wire.length).toBe(9 + total);
    stream.destroy();
  });
});
