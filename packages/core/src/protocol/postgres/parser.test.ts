import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { isTeleportError } from '../../errors/index.js';
import { BACKEND_CODE, FRONTEND_CODE, MAX_LENGTH_FIELD, SQLSTATE } from './constants.js';
import type { BackendMessage, FrontendMessage } from './messages.js';
import { newBackendParser, newFrontendParser, type MessageStreamParser, type ParsedSegment } from './parser.js';
import {
  serializeAuthenticationCleartextPassword,
  serializeAuthenticationOk,
  serializeBackendKeyData,
  serializeBind,
  serializeCommandComplete,
  serializeDataRow,
  serializeDescribe,
  serializeErrorResponse,
  serializeExecute,
  serializeParameterStatus,
  serializeParse,
  serializePasswordMessage,
  serializeQuery,
  serializeReadyForQuery,
  serializeSync,
  serializeTerminate,
} from './serializer.js';
import { backendMessageTap, frontendMessageTap } from './tap.js';

// ---- named fixture helpers ------------------------------------------------------------------------------------

/** A typed message with an arbitrary code and body (for types we do not serialize, and for malformed input). */
function rawMessage(code: string, body: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(5);
  header.write(code, 0, 'latin1');
  header.writeUInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

/** Only the 5-byte header of a message claiming `length`. */
function headerClaiming(code: string, length: number): Buffer {
  const header = Buffer.alloc(5);
  header.write(code, 0, 'latin1');
  header.writeUInt32BE(length, 1);
  return header;
}

/** A CopyData message ('d') of `size` bytes: passed through, never decoded. */
const copyData = (size: number) => rawMessage(FRONTEND_CODE.copyData, Buffer.alloc(size, 0x61));

/** What psql sends for `\copy ... from stdin` and a session around it, plus an extended-protocol round. */
function frontendSession(): { bytes: Buffer; decoded: FrontendMessage[] } {
  const bigParameter = randomBytes(20_000);
  const parts = [
    serializePasswordMessage('s3cret'),
    serializeQuery('select 1'),
    serializeParse({ statement: 's1', text: 'insert into t values ($1, $2)', parameterTypes: [23, 17] }),
    serializeBind({ statement: 's1', parameterFormats: [0, 1], parameters: ['42', bigParameter] }),
    serializeDescribe({ target: 'portal' }),
    serializeExecute(),
    serializeSync(),
    serializeQuery('copy t from stdin'),
    copyData(70_000),
    copyData(3),
    rawMessage(FRONTEND_CODE.copyDone),
    serializeTerminate(),
  ];
  const decoded: FrontendMessage[] = [
    { type: 'query', text: 'select 1' },
    { type: 'parse', statement: 's1', text: 'insert into t values ($1, $2)', parameterTypes: [23, 17] },
    { type: 'bind', portal: '', statement: 's1', parameterFormats: [0, 1], parameters: [Buffer.from('42'), bigParameter], resultFormats: [] },
    { type: 'describe', target: 'portal', name: '' },
    { type: 'execute', portal: '', maxRows: 0 },
    { type: 'sync' },
    { type: 'query', text: 'copy t from stdin' },
    { type: 'terminate' },
  ];
  return { bytes: Buffer.concat(parts), decoded };
}

function backendSession(): { bytes: Buffer; decoded: BackendMessage[] } {
  const rows = Array.from({ length: 500 }, (_, i) => serializeDataRow([String(i), null, 'x'.repeat(i)]));
  const parts = [
    serializeAuthenticationCleartextPassword(),
    serializeAuthenticationOk(),
    serializeParameterStatus('server_version', '15.8'),
    serializeBackendKeyData({ processId: 31337, secretKey: Buffer.from([1, 2, 3, 4]) }),
    serializeReadyForQuery(),
    rawMessage(BACKEND_CODE.rowDescription, Buffer.alloc(30, 1)),
    ...rows,
    serializeCommandComplete('SELECT 500'),
    serializeErrorResponse({ severity: 'ERROR', code: SQLSTATE.queryCanceled, message: 'canceling statement due to user request' }),
    serializeReadyForQuery('E'),
  ];
  const decoded: BackendMessage[] = [
    { type: 'authentication', code: 3 },
    { type: 'authentication', code: 0 },
    { type: 'parameterStatus', name: 'server_version', value: '15.8' },
    { type: 'backendKeyData', processId: 31337, secretKey: Buffer.from([1, 2, 3, 4]) },
    { type: 'readyForQuery', status: 'I' },
    { type: 'commandComplete', tag: 'SELECT 500' },
    { type: 'errorResponse', fields: { severity: 'ERROR', severityNonLocalized: 'ERROR', code: '57014', message: 'canceling statement due to user request' } },
    { type: 'readyForQuery', status: 'E' },
  ];
  return { bytes: Buffer.concat(parts), decoded };
}

/** Splits `bytes` into chunks of the given sizes (cycled). */
function chunked(bytes: Buffer, sizes: readonly number[]): Buffer[] {
  const out: Buffer[] = [];
  for (let pos = 0, i = 0; pos < bytes.length; i++) {
    const size = sizes[i % sizes.length]!;
    out.push(bytes.subarray(pos, pos + size));
    pos += size;
  }
  return out;
}

function feed<M>(parser: MessageStreamParser<M>, chunks: readonly Buffer[]): { messages: M[]; output: Buffer; segments: ParsedSegment<M>[] } {
  const segments = chunks.flatMap((c) => parser.push(c));
  const output = Buffer.concat(segments.map((s) => (s.kind === 'bytes' ? s.bytes : s.raw)));
  return { messages: segments.flatMap((s) => (s.kind === 'message' ? [s.message] : [])), output, segments };
}

function errorCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isTeleportError(err) ? err.code : `not a TeleportError: ${String(err)}`;
  }
  return undefined;
}

const CHUNKINGS: [string, number[]][] = [
  ['one chunk', [Number.MAX_SAFE_INTEGER]],
  ['byte by byte', [1]],
  ['2 and 3 bytes', [2, 3]],
  ['headers split (7, 4, 1, 1000)', [7, 4, 1, 1000]],
  ['64 KiB', [65536]],
];

describe('frontend stream parser', () => {
  it.each(CHUNKINGS)('decodes a session fed as %s and reproduces every byte', (_name, sizes) => {
    const { bytes, decoded } = frontendSession();
    const parser = newFrontendParser();
    const { messages, output } = feed(parser, chunked(bytes, sizes));
    expect(messages).toEqual(decoded);
    expect(output.equals(bytes)).toBe(true);
    expect(parser.atMessageBoundary).toBe(true);
    expect(parser.bufferedLength).toBe(0);
  });

  it('never decodes the password message', () => {
    const { segments } = feed(newFrontendParser(), [serializePasswordMessage('s3cret')]);
    expect(segments).toEqual([{ kind: 'bytes', bytes: serializePasswordMessage('s3cret') }]);
  });

  it('coalesces pass-through messages in one chunk into one byte run', () => {
    const bytes = Buffer.concat([copyData(10), copyData(20), copyData(30)]);
    expect(newFrontendParser().push(bytes)).toEqual([{ kind: 'bytes', bytes }]);
  });

  it('is mid-message until the last byte arrives', () => {
    const parser = newFrontendParser();
    const query = serializeQuery('select 42');
    parser.push(query.subarray(0, 7));
    expect(parser.atMessageBoundary).toBe(false);
    expect(parser.bufferedLength).toBe(7);
    expect(parser.push(query.subarray(7))).toEqual([{ kind: 'message', message: { type: 'query', text: 'select 42' }, raw: query }]);
    expect(parser.atMessageBoundary).toBe(true);
  });
});

describe('backend stream parser', () => {
  it.each(CHUNKINGS)('decodes a session fed as %s and reproduces every byte', (_name, sizes) => {
    const { bytes, decoded } = backendSession();
    const parser = newBackendParser();
    const { messages, output } = feed(parser, chunked(bytes, sizes));
    expect(messages).toEqual(decoded);
    expect(output.equals(bytes)).toBe(true);
    expect(parser.atMessageBoundary).toBe(true);
  });
});

describe('length caps', () => {
  it('refuses a decoded message over maxMessageLength from its header alone', () => {
    const parser = newFrontendParser({ maxMessageLength: 1024 });
    expect(parser.push(serializeQuery('x'.repeat(1018)))).toHaveLength(1); // length field 1024
    expect(errorCode(() => parser.push(headerClaiming(FRONTEND_CODE.query, 1025)))).toBe('ERR_TP_PG_MESSAGE_TOO_LARGE');
  });

  it('passes a pass-through message far over maxMessageLength without buffering it', () => {
    const parser = newFrontendParser({ maxMessageLength: 1024 });
    const big = copyData(5 * 1024 * 1024);
    let max = 0;
    for (const chunk of chunked(big, [65536])) {
      parser.push(chunk);
      max = Math.max(max, parser.bufferedLength);
    }
    expect(max).toBe(0);
    expect(parser.atMessageBoundary).toBe(true);
  });

  it('refuses any length field over PostgreSQL’s own limit, even for pass-through types', () => {
    expect(errorCode(() => newBackendParser().push(headerClaiming(BACKEND_CODE.dataRow, MAX_LENGTH_FIELD + 1)))).toBe('ERR_TP_PG_MESSAGE_TOO_LARGE');
    expect(errorCode(() => newBackendParser().push(headerClaiming(BACKEND_CODE.dataRow, 0xffffffff)))).toBe('ERR_TP_PG_MESSAGE_TOO_LARGE');
  });

  it('refuses a length field below 4, whether the header arrives whole or split', () => {
    expect(errorCode(() => newFrontendParser().push(headerClaiming(FRONTEND_CODE.copyData, 3)))).toBe('ERR_TP_PG_MALFORMED_MESSAGE');
    const parser = newFrontendParser();
    parser.push(headerClaiming(FRONTEND_CODE.query, 0).subarray(0, 2));
    expect(errorCode(() => parser.push(headerClaiming(FRONTEND_CODE.query, 0).subarray(2)))).toBe('ERR_TP_PG_MALFORMED_MESSAGE');
  });

  it('validates maxMessageLength', () => {
    expect(() => newFrontendParser({ maxMessageLength: 3 })).toThrow(TypeError);
    expect(() => newBackendParser({ maxMessageLength: MAX_LENGTH_FIELD + 1 })).toThrow(TypeError);
  });
});

describe('malformed messages', () => {
  const cstr = (s: string) => Buffer.from(`${s}\0`);
  const int32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeInt32BE(n);
    return b;
  };
  const uint16 = (n: number) => {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(n);
    return b;
  };

  it.each<[string, Buffer]>([
    ['Query without its terminator', rawMessage(FRONTEND_CODE.query, Buffer.from('select 1'))],
    ['Query with bytes after the terminator', rawMessage(FRONTEND_CODE.query, Buffer.from('select 1\0x'))],
    ['Sync with a body', rawMessage(FRONTEND_CODE.sync, Buffer.from([0]))],
    ['Terminate with a body', rawMessage(FRONTEND_CODE.terminate, Buffer.from([1, 2]))],
    ['Parse claiming more parameter types than it has', rawMessage(FRONTEND_CODE.parse, Buffer.concat([cstr(''), cstr('select $1'), uint16(2), int32(23)]))],
    ['Bind with a negative value length', rawMessage(FRONTEND_CODE.bind, Buffer.concat([cstr(''), cstr(''), uint16(0), uint16(1), int32(-2), uint16(0)]))],
    ['Bind with a value longer than the message', rawMessage(FRONTEND_CODE.bind, Buffer.concat([cstr(''), cstr(''), uint16(0), uint16(1), int32(1000), uint16(0)]))],
    ['Describe of an unknown target', rawMessage(FRONTEND_CODE.describe, Buffer.concat([Buffer.from('X'), cstr('s1')]))],
    ['Execute without a row count', rawMessage(FRONTEND_CODE.execute, cstr('p'))],
  ])('frontend: %s', (_name, bytes) => {
    expect(errorCode(() => newFrontendParser().push(bytes))).toBe('ERR_TP_PG_MALFORMED_MESSAGE');
  });

  it.each<[string, Buffer]>([
    ['BackendKeyData with a 3-byte secret', rawMessage(BACKEND_CODE.backendKeyData, Buffer.concat([int32(1), Buffer.alloc(3)]))],
    ['ReadyForQuery with an unknown status', rawMessage(BACKEND_CODE.readyForQuery, Buffer.from('Q'))],
    ['ReadyForQuery without a status', rawMessage(BACKEND_CODE.readyForQuery)],
    ['ErrorResponse without the final terminator', rawMessage(BACKEND_CODE.errorResponse, Buffer.concat([Buffer.from('S'), cstr('ERROR')]))],
    ['Authentication without a code', rawMessage(BACKEND_CODE.authentication, Buffer.alloc(2))],
    ['ParameterStatus without a value', rawMessage(BACKEND_CODE.parameterStatus, cstr('a'))],
  ])('backend: %s', (_name, bytes) => {
    expect(errorCode(() => newBackendParser().push(bytes))).toBe('ERR_TP_PG_MALFORMED_MESSAGE');
  });

  it('stays failed after an error', () => {
    const parser = newFrontendParser();
    expect(errorCode(() => parser.push(rawMessage(FRONTEND_CODE.sync, Buffer.from([0]))))).toBe('ERR_TP_PG_MALFORMED_MESSAGE');
    expect(errorCode(() => parser.push(serializeSync()))).toBe('ERR_TP_PG_MALFORMED_MESSAGE');
  });

  it('fuzz: random and mutated input never throws anything but a TeleportError', () => {
    const { bytes } = frontendSession();
    const { bytes: backendBytes } = backendSession();
    for (let i = 0; i < 2_000; i++) {
      const source = i % 2 === 0 ? bytes : backendBytes;
      const mutated = Buffer.from(source.subarray(0, 4096));
      for (let m = 0; m < 1 + (i % 8); m++) mutated[Math.floor(Math.random() * mutated.length)] = Math.floor(Math.random() * 256);
      const input = i % 3 === 0 ? randomBytes(64) : mutated;
      const parser = i % 2 === 0 ? newFrontendParser({ maxMessageLength: 1 << 20 }) : newBackendParser({ maxMessageLength: 1 << 20 });
      const code = errorCode(() => chunked(input, [1 + (i % 13)]).forEach((c) => parser.push(c)));
      if (code !== undefined) expect(code).toMatch(/^ERR_TP_PG_/);
    }
  });
});

describe('taps', () => {
  async function run(chunks: Buffer[], transform: NodeJS.ReadWriteStream): Promise<Buffer> {
    const out: Buffer[] = [];
    await pipeline(
      Readable.from(chunks),
      transform,
      new Writable({
        write(chunk: Buffer, _e, cb) {
          out.push(chunk);
          cb();
        },
      }),
    );
    return Buffer.concat(out);
  }

  it('frontendMessageTap forwards bytes unchanged and reports statements in order', async () => {
    const { bytes, decoded } = frontendSession();
    const seen: FrontendMessage[] = [];
    const output = await run(chunked(bytes, [1, 7, 300]), frontendMessageTap({ onMessage: (m) => seen.push(m) }));
    expect(output.equals(bytes)).toBe(true);
    expect(seen).toEqual(decoded);
  });

  it('frontendMessageTap fails the stream on an oversized query', async () => {
    const tap = frontendMessageTap({ maxMessageLength: 100, onMessage: () => undefined });
    await expect(run([serializeQuery('x'.repeat(200))], tap)).rejects.toMatchObject({ code: 'ERR_TP_PG_MESSAGE_TOO_LARGE' });
  });

  it('frontendMessageTap with onProtocolError reports an oversized query once, forwards nothing more and keeps the stream alive', async () => {
    const errors: unknown[] = [];
    const tap = frontendMessageTap({ maxMessageLength: 100, onMessage: () => undefined, onProtocolError: (e) => errors.push(e) });
    const before = serializeQuery('select 1');
    const done = run([before, serializeQuery('x'.repeat(200)), serializeQuery('select 2')], tap);
    // The caller ends the output when it likes (the agent waits for the client to finish sending).
    setTimeout(() => tap.push(null), 20);
    expect((await done).equals(before)).toBe(true);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'ERR_TP_PG_MESSAGE_TOO_LARGE', message: "PostgreSQL message 'Q' of 205 bytes is over the limit of 100 bytes" });
  });

  it.each(CHUNKINGS)('backendMessageTap rewrites BackendKeyData, fed as %s, and nothing else', async (_name, sizes) => {
    const { bytes } = backendSession();
    const ours = { processId: 7, secretKey: Buffer.from([9, 9, 9, 9, 9, 9, 9, 9]) };
    const seenKeys: number[] = [];
    const output = await run(
      chunked(bytes, sizes),
      backendMessageTap({
        onMessage: (m) => {
          if (m.type === 'backendKeyData') seenKeys.push(m.processId);
        },
        rewriteBackendKeyData: (serverKey) => {
          expect(serverKey).toEqual({ processId: 31337, secretKey: Buffer.from([1, 2, 3, 4]) });
          return ours;
        },
      }),
    );
    const serverKey = serializeBackendKeyData({ processId: 31337, secretKey: Buffer.from([1, 2, 3, 4]) });
    const at = bytes.indexOf(serverKey);
    const expected = Buffer.concat([bytes.subarray(0, at), serializeBackendKeyData(ours), bytes.subarray(at + serverKey.length)]);
    expect(output.equals(expected)).toBe(true);
    expect(seenKeys).toEqual([31337]);
  });
});
