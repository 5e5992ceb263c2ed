/** A minimal PostgreSQL protocol client for e2e tests: sends the startup message, collects decoded backend messages. */

import net from 'node:net';
import { newBackendParser, serializeStartupMessage, type BackendMessage } from '@teleport-ts/core/protocol/postgres';

export function pgSession(port: number, parameters: Record<string, string>) {
  const socket = net.connect({ host: '127.0.0.1', port });
  const parser = newBackendParser();
  const messages: BackendMessage[] = [];
  socket.on('error', () => {});
  socket.on('data', (chunk: Buffer) => {
    for (const seg of parser.push(chunk)) if (seg.kind === 'message') messages.push(seg.message);
  });
  socket.once('connect', () => socket.write(serializeStartupMessage({ parameters })));
  const until = async (pred: (m: BackendMessage) => boolean, timeoutMs = 10_000): Promise<BackendMessage> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = messages.find(pred);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`timed out; got ${JSON.stringify(messages)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return { socket, messages, until };
}
