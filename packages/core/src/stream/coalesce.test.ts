/**
 * coalesceWrites: the chunks a relay hands on in one turn of the event loop reach the destination socket as one
 * write (one `writev`), and a chunk of a later turn is not held back.
 */

import { once } from 'node:events';
import { createServer, connect, type Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { coalesceWrites } from './coalesce.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** A connected pair of real TCP sockets on loopback. */
async function socketPair(): Promise<{ sender: Socket; receiver: Socket }> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection');
  const sender = connect((server.address() as { port: number }).port, '127.0.0.1');
  await once(sender, 'connect');
  const [receiver] = (await accepted) as [Socket];
  cleanups.push(() => {
    sender.destroy();
    receiver.destroy();
    server.close();
  });
  return { sender, receiver };
}

/** Counts the writes the socket's stream machinery hands to the system: one `_writev` or `_write` each. */
function countWrites(socket: Socket): { writes: number; chunks: number } {
  const counts = { writes: 0, chunks: 0 };
  const writev = socket._writev!.bind(socket);
  const write = socket._write.bind(socket);
  socket._writev = (chunks, callback) => {
    counts.writes++;
    counts.chunks += chunks.length;
    writev(chunks, callback);
  };
  socket._write = (chunk, encoding, callback) => {
    counts.writes++;
    counts.chunks++;
    write(chunk, encoding, callback);
  };
  return counts;
}

describe('coalesceWrites', () => {
  it('turns the chunks of one turn into one write, byte-exact and in order; a later turn writes again', async () => {
    const { sender, receiver } = await socketPair();
    const source = new PassThrough();
    source.pipe(sender);
    coalesceWrites(source, sender);
    const counts = countWrites(sender);
    const received: Buffer[] = [];
    receiver.on('data', (b: Buffer) => received.push(b));

    for (let i = 0; i < 5; i++) source.write(Buffer.from(`chunk-${i};`));
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(counts).toEqual({ writes: 1, chunks: 5 });

    source.write(Buffer.from('later;'));
    const deadline = Date.now() + 5_000;
    while (Buffer.concat(received).toString() !== 'chunk-0;chunk-1;chunk-2;chunk-3;chunk-4;later;' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(Buffer.concat(received).toString()).toBe('chunk-0;chunk-1;chunk-2;chunk-3;chunk-4;later;');
    expect(counts.writes).toBe(2);
  });

  it('without it, the same chunks are written one by one (what the relays did before)', async () => {
    const { sender } = await socketPair();
    const source = new PassThrough();
    source.pipe(sender);
    const counts = countWrites(sender);
    for (let i = 0; i < 5; i++) source.write(Buffer.from(`chunk-${i};`));
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(counts.chunks).toBe(5);
    expect(counts.writes).toBeGreaterThan(1);
  });
});
