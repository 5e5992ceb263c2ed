/**
 * Streaming parsers for the typed messages after the startup phase (type byte + int32 length + body).
 *
 * They are built for a pass-through proxy: the messages worth seeing (queries and extended-protocol steps from the
 * client; cancel keys, errors and readiness from the server) are decoded, which means buffered, and capped by
 * `maxMessageLength`; everything else (DataRow, CopyData, password and SASL messages...) is handed back as byte runs
 * without being buffered or looked at. Concatenating every segment a parser returns reproduces its input exactly.
 */

import { malformed, tooLarge, bodyReader } from './buffer.js';
import { BACKEND_CODE, DEFAULT_MAX_MESSAGE_LENGTH, ERROR_FIELD_CODE, FRONTEND_CODE, HEADER_LENGTH, LEN_LENGTH, MAX_CANCEL_SECRET_KEY_LENGTH, MAX_LENGTH_FIELD } from './constants.js';
import type { BackendMessage, FrontendMessage, PgErrorFields } from './messages.js';

/** Options of the stream parsers. */
export interface MessageParserOptions {
  /**
   * Largest length field accepted for a message the parser decodes (and so buffers). Default
   * {@link DEFAULT_MAX_MESSAGE_LENGTH} (16 MiB). Pass-through messages are limited only by
   * {@link MAX_LENGTH_FIELD}, PostgreSQL's own limit, and never buffered.
   */
  maxMessageLength?: number;
}

/** One piece of parsed input, in input order. */
export type ParsedSegment<M> =
  /** Bytes of messages that are not decoded: forward them as they are. */
  | { kind: 'bytes'; bytes: Buffer }
  /** A decoded message and its exact bytes. */
  | { kind: 'message'; message: M; raw: Buffer };

/** A stateful, pure (no I/O) parser over one direction of a connection. */
export interface MessageStreamParser<M> {
  /**
   * Feeds the next chunk and returns what it completes. Buffers inside messages may share memory with the input:
   * copy what you keep. After a throw the parser is unusable and throws again.
   *
   * @throws BadParameterError `ERR_TP_PG_MALFORMED_MESSAGE`; LimitExceededError `ERR_TP_PG_MESSAGE_TOO_LARGE`.
   */
  push(chunk: Buffer): ParsedSegment<M>[];
  /** True between messages: a connection may end here cleanly. */
  readonly atMessageBoundary: boolean;
  /** Bytes currently buffered for an incomplete decoded message (bounded by `maxMessageLength` + 1). */
  readonly bufferedLength: number;
}

const FRONTEND_DECODED = new Set<number>(
  [FRONTEND_CODE.query, FRONTEND_CODE.parse, FRONTEND_CODE.bind, FRONTEND_CODE.execute, FRONTEND_CODE.describe, FRONTEND_CODE.close, FRONTEND_CODE.sync, FRONTEND_CODE.flush, FRONTEND_CODE.terminate].map((c) => c.charCodeAt(0)),
);

const BACKEND_DECODED = new Set<number>(
  [BACKEND_CODE.authentication, BACKEND_CODE.backendKeyData, BACKEND_CODE.errorResponse, BACKEND_CODE.noticeResponse, BACKEND_CODE.readyForQuery, BACKEND_CODE.parameterStatus, BACKEND_CODE.commandComplete].map((c) => c.charCodeAt(0)),
);

function describeTarget(byte: number, what: string): 'statement' | 'portal' {
  if (byte === 0x53) return 'statement'; // 'S'
  if (byte === 0x50) return 'portal'; // 'P'
  throw malformed(what);
}

/**
 * Decodes the body of a frontend message of a type the parser decodes; `undefined` for other types.
 *
 * @example
 * ```ts
 * decodeFrontendMessage('Q', Buffer.from('select 1\0')); // { type: 'query', text: 'select 1' }
 * ```
 */
export function decodeFrontendMessage(code: string, body: Buffer): FrontendMessage | undefined {
  switch (code) {
    case FRONTEND_CODE.query: {
      const r = bodyReader(body, 'Query message');
      const text = r.cstring();
      r.end();
      return { type: 'query', text };
    }
    case FRONTEND_CODE.parse: {
      const r = bodyReader(body, 'Parse message');
      const statement = r.cstring();
      const text = r.cstring();
      const count = r.uint16();
      const parameterTypes: number[] = [];
      for (let i = 0; i < count; i++) parameterTypes.push(r.uint32());
      r.end();
      return { type: 'parse', statement, text, parameterTypes };
    }
    case FRONTEND_CODE.bind: {
      const r = bodyReader(body, 'Bind message');
      const portal = r.cstring();
      const statement = r.cstring();
      const parameterFormats: number[] = [];
      for (let i = 0, n = r.uint16(); i < n; i++) parameterFormats.push(r.int16());
      const parameters: (Buffer | null)[] = [];
      for (let i = 0, n = r.uint16(); i < n; i++) {
        const length = r.int32();
        if (length === -1) parameters.push(null);
        else if (length < 0) throw malformed('Bind message');
        else parameters.push(r.bytes(length));
      }
      const resultFormats: number[] = [];
      for (let i = 0, n = r.uint16(); i < n; i++) resultFormats.push(r.int16());
      r.end();
      return { type: 'bind', portal, statement, parameterFormats, parameters, resultFormats };
    }
    case FRONTEND_CODE.execute: {
      const r = bodyReader(body, 'Execute message');
      const portal = r.cstring();
      const maxRows = r.uint32();
      r.end();
      return { type: 'execute', portal, maxRows };
    }
    case FRONTEND_CODE.describe:
    case FRONTEND_CODE.close: {
      const type = code === FRONTEND_CODE.describe ? 'describe' : 'close';
      const r = bodyReader(body, `${type === 'describe' ? 'Describe' : 'Close'} message`);
      const target = describeTarget(r.byte(), `${type} message`);
      const name = r.cstring();
      r.end();
      return { type, target, name };
    }
    case FRONTEND_CODE.sync:
    case FRONTEND_CODE.flush:
    case FRONTEND_CODE.terminate: {
      const type = code === FRONTEND_CODE.sync ? 'sync' : code === FRONTEND_CODE.flush ? 'flush' : 'terminate';
      bodyReader(body, `${type} message`).end();
      return { type };
    }
    default:
      return undefined;
  }
}

const ERROR_FIELD_NAMES = new Map<number, keyof PgErrorFields>(
  Object.entries(ERROR_FIELD_CODE).map(([name, c]) => [c.charCodeAt(0), name as keyof PgErrorFields]),
);

function decodeErrorFields(body: Buffer, what: string): PgErrorFields {
  const r = bodyReader(body, what);
  const fields: Partial<Record<keyof PgErrorFields, string>> = {};
  for (;;) {
    const code = r.byte();
    if (code === 0) break;
    const value = r.cstring();
    const name = ERROR_FIELD_NAMES.get(code);
    // Unknown field types must be ignored (the protocol may add more).
    if (name !== undefined) fields[name] = value;
  }
  r.end();
  return { ...fields, severity: fields.severity ?? fields.severityNonLocalized ?? '', code: fields.code ?? '', message: fields.message ?? '' };
}

/**
 * Decodes the body of a backend message of a type the parser decodes; `undefined` for other types.
 *
 * @example
 * ```ts
 * decodeBackendMessage('Z', Buffer.from('I')); // { type: 'readyForQuery', status: 'I' }
 * ```
 */
export function decodeBackendMessage(code: string, body: Buffer): BackendMessage | undefined {
  switch (code) {
    case BACKEND_CODE.authentication: {
      // Only the request code: SASL mechanism lists and challenges stay opaque.
      const r = bodyReader(body, 'Authentication message');
      return { type: 'authentication', code: r.int32() };
    }
    case BACKEND_CODE.backendKeyData: {
      const r = bodyReader(body, 'BackendKeyData message');
      const processId = r.int32();
      const secretLength = r.remaining();
      if (secretLength < 4 || secretLength > MAX_CANCEL_SECRET_KEY_LENGTH) throw malformed('BackendKeyData message');
      return { type: 'backendKeyData', processId, secretKey: Buffer.from(r.bytes(secretLength)) };
    }
    case BACKEND_CODE.errorResponse:
      return { type: 'errorResponse', fields: decodeErrorFields(body, 'ErrorResponse message') };
    case BACKEND_CODE.noticeResponse:
      return { type: 'noticeResponse', fields: decodeErrorFields(body, 'NoticeResponse message') };
    case BACKEND_CODE.readyForQuery: {
      const r = bodyReader(body, 'ReadyForQuery message');
      const status = String.fromCharCode(r.byte());
      r.end();
      if (status !== 'I' && status !== 'T' && status !== 'E') throw malformed('ReadyForQuery message');
      return { type: 'readyForQuery', status };
    }
    case BACKEND_CODE.parameterStatus: {
      const r = bodyReader(body, 'ParameterStatus message');
      const name = r.cstring();
      const value = r.cstring();
      r.end();
      return { type: 'parameterStatus', name, value };
    }
    case BACKEND_CODE.commandComplete: {
      const r = bodyReader(body, 'CommandComplete message');
      const tag = r.cstring();
      r.end();
      return { type: 'commandComplete', tag };
    }
    default:
      return undefined;
  }
}

interface Collecting {
  code: number;
  need: number;
  have: number;
  chunks: Buffer[];
}

/** One parser's state: what it decodes, and where it is in the stream. */
interface ParserState<M> {
  readonly decoded: ReadonlySet<number>;
  readonly decode: (code: string, body: Buffer) => M | undefined;
  readonly maxMessageLength: number;
  /** A header split across chunks, held until whole. */
  readonly header: Buffer;
  headerLength: number;
  /** Bytes of a pass-through message still to come (already handed back or to be handed back as runs). */
  skip: number;
  /** A decoded message being buffered across chunks. */
  collecting: Collecting | undefined;
  /** What the first failing push threw; every later push throws it again. */
  failure: unknown;
}

function newMessageStreamParser<M>(
  decoded: ReadonlySet<number>,
  decode: (code: string, body: Buffer) => M | undefined,
  options: MessageParserOptions,
): MessageStreamParser<M> {
  const maxMessageLength = options.maxMessageLength ?? DEFAULT_MAX_MESSAGE_LENGTH;
  if (!Number.isInteger(maxMessageLength) || maxMessageLength < LEN_LENGTH || maxMessageLength > MAX_LENGTH_FIELD) {
    throw new TypeError(`maxMessageLength must be an integer between ${LEN_LENGTH} and ${MAX_LENGTH_FIELD}`);
  }
  const p: ParserState<M> = {
    decoded,
    decode,
    maxMessageLength,
    header: Buffer.alloc(HEADER_LENGTH),
    headerLength: 0,
    skip: 0,
    collecting: undefined,
    failure: undefined,
  };
  return {
    push(chunk) {
      if (p.failure !== undefined) throw p.failure;
      try {
        return pushChunk(p, chunk);
      } catch (err) {
        p.failure = err;
        throw err;
      }
    },
    get atMessageBoundary() {
      return p.headerLength === 0 && p.skip === 0 && p.collecting === undefined;
    },
    get bufferedLength() {
      return p.headerLength + (p.collecting?.have ?? 0);
    },
  };
}

/** Validates a header; true when the message is decoded (and so buffered). */
function isDecoded(p: ParserState<unknown>, code: number, length: number): boolean {
  if (length < LEN_LENGTH) throw malformed(`message '${String.fromCharCode(code)}' length`);
  if (length > MAX_LENGTH_FIELD) throw tooLarge(`message '${String.fromCharCode(code)}'`, length, MAX_LENGTH_FIELD);
  if (!p.decoded.has(code)) return false;
  if (length > p.maxMessageLength) throw tooLarge(`message '${String.fromCharCode(code)}'`, length, p.maxMessageLength);
  return true;
}

function complete<M>(p: ParserState<M>, code: number, raw: Buffer): ParsedSegment<M> {
  const message = p.decode(String.fromCharCode(code), raw.subarray(HEADER_LENGTH));
  // Every code in `decoded` has a decoder; reaching here with undefined is a bug, not bad input.
  if (message === undefined) throw new TypeError(`no decoder for message '${String.fromCharCode(code)}'`);
  return { kind: 'message', message, raw };
}

/** The per-chunk loop (hot: runs once per message on every proxied connection). */
function pushChunk<M>(p: ParserState<M>, chunk: Buffer): ParsedSegment<M>[] {
  const out: ParsedSegment<M>[] = [];
  let pos = 0;
  // Start of the current run of pass-through bytes in `chunk`.
  let runStart = 0;
  const flushRun = (end: number) => {
    if (end > runStart) out.push({ kind: 'bytes', bytes: chunk.subarray(runStart, end) });
    runStart = end;
  };
  while (pos < chunk.length) {
    if (p.skip > 0) {
      const n = Math.min(p.skip, chunk.length - pos);
      p.skip -= n;
      pos += n;
      continue;
    }
    if (p.collecting !== undefined) {
      const c = p.collecting;
      const n = Math.min(c.need - c.have, chunk.length - pos);
      c.chunks.push(chunk.subarray(pos, pos + n));
      c.have += n;
      pos += n;
      runStart = pos;
      if (c.have === c.need) {
        p.collecting = undefined;
        out.push(complete(p, c.code, Buffer.concat(c.chunks, c.need)));
      }
      continue;
    }
    if (p.headerLength === 0 && chunk.length - pos >= HEADER_LENGTH) {
      const code = chunk[pos]!;
      const length = chunk.readUInt32BE(pos + 1);
      if (!isDecoded(p, code, length)) {
        pos += HEADER_LENGTH;
        p.skip = length - LEN_LENGTH;
        continue;
      }
      flushRun(pos);
      const total = length + 1;
      if (chunk.length - pos >= total) {
        out.push(complete(p, code, chunk.subarray(pos, pos + total)));
        pos += total;
      } else {
        p.collecting = { code, need: total, have: chunk.length - pos, chunks: [chunk.subarray(pos)] };
        pos = chunk.length;
      }
      runStart = pos;
      continue;
    }
    // A header split across chunks: hold its bytes until it is whole.
    if (p.headerLength === 0) flushRun(pos);
    pos = takeSplitHeader(p, chunk, pos, out);
    runStart = pos;
  }
  flushRun(chunk.length);
  return out;
}

/** Copies header bytes from `chunk[pos..]`; once the header is whole, starts its message. Returns the new position. */
function takeSplitHeader<M>(p: ParserState<M>, chunk: Buffer, pos: number, out: ParsedSegment<M>[]): number {
  const n = Math.min(HEADER_LENGTH - p.headerLength, chunk.length - pos);
  chunk.copy(p.header, p.headerLength, pos, pos + n);
  p.headerLength += n;
  if (p.headerLength < HEADER_LENGTH) return pos + n;
  p.headerLength = 0;
  const code = p.header[0]!;
  const length = p.header.readUInt32BE(1);
  const held = Buffer.from(p.header);
  if (!isDecoded(p, code, length)) {
    out.push({ kind: 'bytes', bytes: held });
    p.skip = length - LEN_LENGTH;
  } else if (length === LEN_LENGTH) out.push(complete(p, code, held));
  else p.collecting = { code, need: length + 1, have: HEADER_LENGTH, chunks: [held] };
  return pos + n;
}

/**
 * A parser for what a client sends after the startup phase. Decodes Query, Parse, Bind, Execute, Describe, Close,
 * Sync, Flush and Terminate; passes everything else (password/SASL responses, CopyData, FunctionCall...) through.
 *
 * @example
 * ```ts
 * const parser = newFrontendParser({ maxMessageLength: 1024 * 1024 });
 * for (const segment of parser.push(chunk)) {
 *   if (segment.kind === 'message' && segment.message.type === 'query') audit(segment.message.text);
 * }
 * ```
 */
export function newFrontendParser(options: MessageParserOptions = {}): MessageStreamParser<FrontendMessage> {
  return newMessageStreamParser(FRONTEND_DECODED, decodeFrontendMessage, options);
}

/**
 * A parser for what a server sends. Decodes Authentication (request code only), BackendKeyData, ErrorResponse,
 * NoticeResponse, ReadyForQuery, ParameterStatus and CommandComplete; passes row data and the rest through.
 *
 * @example
 * ```ts
 * const parser = newBackendParser();
 * const keys = parser.push(chunk).flatMap((s) => (s.kind === 'message' && s.message.type === 'backendKeyData' ? [s.message] : []));
 * ```
 */
export function newBackendParser(options: MessageParserOptions = {}): MessageStreamParser<BackendMessage> {
  return newMessageStreamParser(BACKEND_DECODED, decodeBackendMessage, options);
}
