import { createServer, connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { isTeleportError } from '../../errors/index.js';
import { newCancelKeyRegistry, sendCancelRequest } from './cancel.js';
import { parseStartupMessage } from './startup.js';

describe('CancelKeyRegistry', () => {
  it('issues random keys and finds the target only with the exact secret', () => {
    const registry = newCancelKeyRegistry<string>();
    const a = registry.register('backend-a');
    const b = registry.register('backend-b');
    expect(registry.size).toBe(2);
    expect(a.key.processId).not.toBe(b.key.processId);
    expect(a.key.processId).toBeGreaterThan(0);
    expect(a.key.processId).toBeLessThan(2 ** 31);
    expect(a.key.secretKey).toHaveLength(4);
    expect(registry.lookup(a.key)).toBe('backend-a');
    expect(registry.lookup(b.key)).toBe('backend-b');

    const wrongSecret = Buffer.from(a.key.secretKey);
    wrongSecret[0] = wrongSecret[0]! ^ 1;
    expect(registry.lookup({ processId: a.key.processId, secretKey: wrongSecret })).toBeUndefined();
    expect(registry.lookup({ processId: a.key.processId, secretKey: Buffer.concat([a.key.secretKey, Buffer.alloc(1)]) })).toBeUndefined();
    expect(registry.lookup({ processId: b.key.processId, secretKey: a.key.secretKey })).toBeUndefined();
    expect(registry.lookup({ processId: 0, secretKey: a.key.secretKey })).toBeUndefined();
  });

  it('hands out a copy of the secret: mutating it does not change the registry', () => {
    const registry = newCancelKeyRegistry<number>();
    const issued = registry.register(1);
    const original = Buffer.from(issued.key.secretKey);
    issued.key.secretKey.fill(0);
    expect(registry.lookup({ processId: issued.key.processId, secretKey: original })).toBe(1);
  });

  it('forgets a key on release (idempotently)', () => {
    const registry = newCancelKeyRegistry<string>();
    const issued = registry.register('x');
    issued.release();
    issued.release();
    expect(registry.size).toBe(0);
    expect(registry.lookup(issued.key)).toBeUndefined();
  });

  it('issues longer secrets for protocol 3.2 sessions', () => {
    const registry = newCancelKeyRegistry<string>();
    const issued = registry.register('x', { secretKeyLength: 32 });
    expect(issued.key.secretKey).toHaveLength(32);
    expect(registry.lookup(issued.key)).toBe('x');
    expect(() => registry.register('y', { secretKeyLength: 3 })).toThrow(TypeError);
  });

  it('is bounded', () => {
    const registry = newCancelKeyRegistry<number>({ maxEntries: 3 });
    const keys = [1, 2, 3].map((n) => registry.register(n));
    let error: unknown;
    try {
      registry.register(4);
    } catch (err) {
      error = err;
    }
    expect(isTeleportError(error) && error.code).toBe('ERR_TP_PG_TOO_MANY_CANCEL_KEYS');
    keys[0]!.release();
    expect(() => registry.register(4)).not.toThrow();
  });
});

describe('sendCancelRequest', () => {
  it('writes the 16-byte CancelRequest and resolves when the server closes', async () => {
    const received: Buffer[] = [];
    const server = createServer((socket: Socket) => {
      socket.on('data', (d: Buffer) => {
        received.push(d);
        if (Buffer.concat(received).length >= 16) socket.end();
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    try {
      const key = { processId: 1234, secretKey: Buffer.from([5, 6, 7, 8]) };
      await sendCancelRequest(connect({ host: '127.0.0.1', port }), key);
      expect(parseStartupMessage(Buffer.concat(received))).toEqual({ message: { type: 'cancelRequest', ...key }, length: 16 });
    } finally {
      server.close();
    }
  });

  it('fails with a ConnectionProblemError when nothing listens', async () => {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    server.close();
    await once(server, 'close');
    await expect(sendCancelRequest(connect({ host: '127.0.0.1', port }), { processId: 1, secretKey: Buffer.alloc(4) })).rejects.toMatchObject({
      kind: 'connection-problem',
    });
  });
});
