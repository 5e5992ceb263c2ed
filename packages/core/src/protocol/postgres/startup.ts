/**
 * The startup phase: the messages a client sends before any typed message (SSLRequest, GSSENCRequest,
 * CancelRequest, StartupMessage). They have no type byte, only a length and a request code, and the proxy reads
 * them from untrusted clients, so the length is checked against a cap before anything is buffered.
 */

import type { Readable } from 'node:stream';
import { ConnectionProblemError, NotImplementedError } from '../../errors/index.js';
import { bodyReader, malformed, PG_PROTOCOL_ERROR_CODES, tooLarge } from './buffer.js';
import {
  CANCEL_REQUEST_CODE,
  CANCEL_REQUEST_LENGTH_3_0,
  DEFAULT_MAX_STARTUP_MESSAGE_LENGTH,
  ENCRYPTION_REQUEST_LENGTH,
  GSSENC_REQUEST_CODE,
  MAX_CANCEL_REQUEST_LENGTH,
  SSL_REQUEST_CODE,
  STARTUP_HEADER_LENGTH,
} from './constants.js';
import type { StartupPhaseMessage } from './messages.js';

/** Options for {@link parseStartupMessage} and {@link readStartupMessage}. */
export interface StartupParseOptions {
  /** Largest accepted length field, in bytes. Default {@link DEFAULT_MAX_STARTUP_MESSAGE_LENGTH} (1 MiB). */
  maxMessageLength?: number;
}

/** One parsed startup-phase message and how many bytes of the input it used. */
export interface ParsedStartupMessage {
  message: StartupPhaseMessage;
  /** Bytes consumed from the start of the input (= the message's length field). */
  length: number;
}

const SPECIAL_CODE_MAJOR = 1234;

function maxLengthOf(options: StartupParseOptions): number {
  const max = options.maxMessageLength ?? DEFAULT_MAX_STARTUP_MESSAGE_LENGTH;
  if (!Number.isInteger(max) || max < MAX_CANCEL_REQUEST_LENGTH) {
    throw new TypeError(`maxMessageLength must be an integer >= ${MAX_CANCEL_REQUEST_LENGTH}`);
  }
  return max;
}

/**
 * Checks the 8-byte header of a startup-phase message (length + code) and returns the length, so a reader can
 * refuse an oversized or impossible message before buffering it. Throws `ERR_TP_PG_MALFORMED_MESSAGE`,
 * `ERR_TP_PG_MESSAGE_TOO_LARGE` or `ERR_TP_PG_UNSUPPORTED_PROTOCOL`.
 */
function checkStartupHeader(header: Buffer, maxLength: number): number {
  const length = header.readUInt32BE(0);
  if (length < STARTUP_HEADER_LENGTH) throw malformed('startup message length');
  if (length > maxLength) throw tooLarge('startup message', length, maxLength);
  const code = header.readUInt32BE(4);
  switch (code) {
    case SSL_REQUEST_CODE:
    case GSSENC_REQUEST_CODE:
      if (length !== ENCRYPTION_REQUEST_LENGTH) throw malformed('encryption request');
      return length;
    case CANCEL_REQUEST_CODE:
      if (length < CANCEL_REQUEST_LENGTH_3_0 || length > MAX_CANCEL_REQUEST_LENGTH) throw malformed('cancel request');
      return length;
    default: {
      const major = code >>> 16;
      if (major === SPECIAL_CODE_MAJOR) throw malformed('startup request code');
      if (major !== 3) {
        throw new NotImplementedError(`unsupported frontend protocol ${major}.${code & 0xffff}: only protocol 3 is supported`, {
          code: PG_PROTOCOL_ERROR_CODES.unsupportedProtocol,
        });
      }
      return length;
    }
  }
}

function decodeStartupMessage(message: Buffer): StartupPhaseMessage {
  const code = message.readUInt32BE(4);
  if (code === SSL_REQUEST_CODE) return { type: 'sslRequest' };
  if (code === GSSENC_REQUEST_CODE) return { type: 'gssEncRequest' };
  const body = bodyReader(message.subarray(STARTUP_HEADER_LENGTH), 'startup message');
  if (code === CANCEL_REQUEST_CODE) {
    const processId = body.int32();
    return { type: 'cancelRequest', processId, secretKey: Buffer.from(body.bytes(body.remaining())) };
  }
  const entries: [string, string][] = [];
  const seen = new Set<string>();
  for (;;) {
    const name = body.cstring();
    if (name === '') break;
    const value = body.cstring();
    // PostgreSQL lets a repeated parameter win silently; a proxy that checks the first `user` while the server
    // uses the last would be bypassed, so duplicates are refused.
    if (seen.has(name)) throw malformed('startup message (repeated parameter)');
    seen.add(name);
    entries.push([name, value]);
  }
  body.end();
  return {
    type: 'startupMessage',
    protocolVersion: { major: code >>> 16, minor: code & 0xffff },
    parameters: Object.fromEntries(entries),
  };
}

/**
 * Parses one startup-phase message from the start of `input`. Returns `undefined` when more bytes are needed
 * (never before the length field has been checked against the cap), the message and its length otherwise; the
 * bytes after `length` belong to whatever follows. Pure: safe to fuzz.
 *
 * @throws BadParameterError `ERR_TP_PG_MALFORMED_MESSAGE` for a bad length, layout or request code;
 *   LimitExceededError `ERR_TP_PG_MESSAGE_TOO_LARGE` over the cap; NotImplementedError
 *   `ERR_TP_PG_UNSUPPORTED_PROTOCOL` for a protocol major version other than 3.
 *
 * @example
 * ```ts
 * const parsed = parseStartupMessage(serializeStartupMessage({ parameters: { user: 'alice' } }));
 * parsed?.message; // { type: 'startupMessage', protocolVersion: { major: 3, minor: 0 }, parameters: { user: 'alice' } }
 * ```
 */
export function parseStartupMessage(input: Buffer, options: StartupParseOptions = {}): ParsedStartupMessage | undefined {
  const maxLength = maxLengthOf(options);
  if (input.length < STARTUP_HEADER_LENGTH) {
    // A length field alone can already be refused.
    if (input.length >= 4) {
      const length = input.readUInt32BE(0);
      if (length < STARTUP_HEADER_LENGTH) throw malformed('startup message length');
      if (length > maxLength) throw tooLarge('startup message', length, maxLength);
    }
    return undefined;
  }
  const length = checkStartupHeader(input, maxLength);
  if (input.length < length) return undefined;
  return { message: decodeStartupMessage(input.subarray(0, length)), length };
}

/** What {@link readStartupMessage} read. */
export interface ReadStartupMessageResult {
  message: StartupPhaseMessage;
  /** The message's exact bytes, to replay to the database unchanged. */
  raw: Buffer;
}

/** Options for {@link readStartupMessage}. */
export interface ReadStartupMessageOptions extends StartupParseOptions {
  /** Gives up (rejecting with the signal's reason) when aborted, e.g. `AbortSignal.timeout(10_000)`. */
  signal?: AbortSignal;
}

/**
 * Reads exactly one startup-phase message from a stream (a socket, before anything is piped). Bytes after the
 * message are pushed back with `unshift`, so they are the next thing read or piped. The stream is left paused.
 * Memory is bounded by the cap: nothing is concatenated until the header has been checked.
 *
 * After answering an SSLRequest with `S`, a server must refuse bytes the client sent before the TLS handshake
 * (CVE-2021-23214): check `stream.readableLength === 0` before upgrading.
 *
 * @throws what {@link parseStartupMessage} throws; ConnectionProblemError `ERR_TP_PG_TRUNCATED` when the stream
 *   ends first; the stream's own error.
 *
 * @example
 * ```ts
 * let { message, raw } = await readStartupMessage(socket, { signal: AbortSignal.timeout(10_000) });
 * if (message.type === 'sslRequest') {
 *   socket.write(serializeEncryptionResponse(false));
 *   ({ message, raw } = await readStartupMessage(socket));
 * }
 * ```
 */
export function readStartupMessage(stream: Readable, options: ReadStartupMessageOptions = {}): Promise<ReadStartupMessageResult> {
  const maxLength = maxLengthOf(options);
  const { signal } = options;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    if (stream.destroyed || stream.readableEnded) {
      reject(new ConnectionProblemError('the client connection is already closed', { code: PG_PROTOCOL_ERROR_CODES.truncated }));
      return;
    }
    const chunks: Buffer[] = [];
    let total = 0;
    // Bytes needed before it is worth concatenating: the header first, then the whole message.
    let needed = STARTUP_HEADER_LENGTH;
    let settled = false;

    const finish = (err: unknown, result?: ReadStartupMessageResult) => {
      if (settled) return;
      settled = true;
      stream.removeListener('readable', onReadable);
      stream.removeListener('end', onEnd);
      stream.removeListener('close', onEnd);
      stream.removeListener('error', onError);
      signal?.removeEventListener('abort', onAbort);
      if (result === undefined) reject(err);
      else resolve(result);
    };
    const onEnd = () =>
      finish(new ConnectionProblemError('the client closed the connection before sending a complete startup message', { code: PG_PROTOCOL_ERROR_CODES.truncated }));
    const onError = (err: unknown) => finish(err);
    const onAbort = () => finish(signal?.reason);
    const onReadable = () => {
      for (;;) {
        if (settled) return;
        const chunk = stream.read() as Buffer | string | null;
        if (chunk === null) return;
        const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        chunks.push(bytes);
        total += bytes.length;
        // A length field over the cap is refused as soon as it is seen, before waiting for the rest.
        if (total < needed && !(needed === STARTUP_HEADER_LENGTH && total >= 4)) continue;
        const buffered = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
        chunks.length = 0;
        chunks.push(buffered);
        let parsed: ParsedStartupMessage | undefined;
        try {
          parsed = parseStartupMessage(buffered, { maxMessageLength: maxLength });
        } catch (err) {
          finish(err);
          return;
        }
        if (parsed === undefined) {
          needed = buffered.length >= STARTUP_HEADER_LENGTH ? buffered.readUInt32BE(0) : STARTUP_HEADER_LENGTH;
          continue;
        }
        const rest = buffered.subarray(parsed.length);
        finish(undefined, { message: parsed.message, raw: buffered.subarray(0, parsed.length) });
        if (rest.length > 0) stream.unshift(rest);
        return;
      }
    };
    stream.on('readable', onReadable);
    stream.once('end', onEnd);
    stream.once('close', onEnd);
    stream.once('error', onError);
    signal?.addEventListener('abort', onAbort, { once: true });
    // Data may already be buffered (e.g. after an unshift by a previous read).
    if (stream.readableLength > 0) onReadable();
  });
}
