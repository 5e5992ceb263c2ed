import type { IncomingMessage } from 'node:http';
import { ConnectionProblemError, fromWireError, type WireError } from '@teleport-ts/core/errors';

/**
 * Reads a JSON API response: the parsed body for 2xx, else the server's `{ error: { kind, code, message } }` as the
 * same error kind, else a connection problem naming `peer` (e.g. `proxy host:3080`) and the HTTP status.
 */
export function readJsonResponse<T>(res: IncomingMessage, peer: string, onStreamError: (err: Error) => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('error', (err) => reject(onStreamError(err)));
    res.on('end', () => {
      const status = res.statusCode ?? 0;
      const unexpected = (): Error => new ConnectionProblemError(`unexpected response from ${peer}: HTTP ${status}`);
      const text = Buffer.concat(chunks).toString('utf8');
      let parsed: unknown;
      try {
        parsed = text === '' ? undefined : JSON.parse(text);
      } catch {
        reject(unexpected());
        return;
      }
      if (status >= 200 && status < 300) {
        resolve(parsed as T);
        return;
      }
      const wire = (parsed as { error?: WireError } | undefined)?.error;
      reject(wire && typeof wire.kind === 'string' && typeof wire.message === 'string' ? fromWireError(wire) : unexpected());
    });
  });
}
