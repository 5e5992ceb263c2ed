/**
 * Transform streams for a pass-through proxy: they watch one direction of a PostgreSQL connection with the stream
 * parsers and forward the bytes. Errors (malformed input, over the cap, a throwing callback) fail the stream, so a
 * `pipeline` tears the connection down.
 */

import { Transform } from 'node:stream';
import type { BackendKey, BackendMessage, FrontendMessage } from './messages.js';
import { newBackendParser, newFrontendParser, type MessageParserOptions } from './parser.js';
import { serializeBackendKeyData } from './serializer.js';

/** Options for {@link frontendMessageTap}. */
export interface FrontendMessageTapOptions extends MessageParserOptions {
  /** Called, in order and before the bytes are forwarded, for every decoded message. */
  onMessage: (message: FrontendMessage) => void;
  /**
   * Called once when the client's bytes cannot be parsed (malformed, over the cap). With it, the tap forwards
   * nothing more and drops what follows instead of failing the stream, so the caller can let the client finish
   * sending, end the tap's output (`tap.push(null)`: the server sees the client go) and tell the client why. Without
   * it, the error fails the stream.
   */
  onProtocolError?: (err: Error) => void;
}

/**
 * A pass-through Transform for the client -> server direction (after the startup phase): every byte is forwarded
 * unmodified and each Query / Parse / Bind / Execute / Sync / Terminate... is reported, e.g. for
 * `db.session.query` audit events of simple and extended-protocol statements.
 *
 * @example
 * ```ts
 * await pipeline(clientSocket, frontendMessageTap({ onMessage: (m) => { if (m.type === 'query') audit(m.text); } }), dbSocket);
 * ```
 */
export function frontendMessageTap(options: FrontendMessageTapOptions): Transform {
  const parser = newFrontendParser(options);
  let failed = false;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      if (failed) {
        callback();
        return;
      }
      try {
        for (const segment of parser.push(chunk)) if (segment.kind === 'message') options.onMessage(segment.message);
      } catch (err) {
        if (options.onProtocolError === undefined) {
          callback(err as Error);
          return;
        }
        // Bytes of complete messages in this chunk are not forwarded: the session ends at the last whole chunk.
        failed = true;
        options.onProtocolError(err as Error);
        callback();
        return;
      }
      callback(null, chunk);
    },
  });
}

/** Options for {@link backendMessageTap}. */
export interface BackendMessageTapOptions extends MessageParserOptions {
  /** Called, in order, for every decoded message as the server sent it (before any rewrite). */
  onMessage?: (message: BackendMessage) => void;
  /**
   * Replaces the cancel key the client sees: given the server's real key, return the key to send instead
   * (typically from a {@link CancelKeyRegistry}). The message is re-serialized; all other bytes pass unmodified.
   */
  rewriteBackendKeyData?: (serverKey: BackendKey) => BackendKey;
}

/**
 * A Transform for the server -> client direction: forwards bytes, reports decoded messages and can rewrite
 * BackendKeyData so the client only ever holds a proxy-issued cancel key.
 *
 * @example
 * ```ts
 * const tap = backendMessageTap({
 *   rewriteBackendKeyData: (serverKey) => {
 *     const issued = registry.register({ serverKey, dial });
 *     clientSocket.once('close', issued.release);
 *     return issued.key;
 *   },
 * });
 * await pipeline(dbSocket, tap, clientSocket);
 * ```
 */
export function backendMessageTap(options: BackendMessageTapOptions = {}): Transform {
  const parser = newBackendParser(options);
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      try {
        const segments = parser.push(chunk);
        if (options.rewriteBackendKeyData === undefined) {
          if (options.onMessage !== undefined) for (const s of segments) if (s.kind === 'message') options.onMessage(s.message);
          callback(null, chunk);
          return;
        }
        for (const segment of segments) {
          if (segment.kind === 'bytes') {
            this.push(segment.bytes);
            continue;
          }
          options.onMessage?.(segment.message);
          if (segment.message.type === 'backendKeyData') {
            const { processId, secretKey } = segment.message;
            this.push(serializeBackendKeyData(options.rewriteBackendKeyData({ processId, secretKey })));
          } else {
            this.push(segment.raw);
          }
        }
      } catch (err) {
        callback(err as Error);
        return;
      }
      callback();
    },
  });
}
