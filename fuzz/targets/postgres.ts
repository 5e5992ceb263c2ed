/** PostgreSQL wire protocol: the startup-phase parser and the frontend/backend stream parsers. */

import { isDeepStrictEqual } from 'node:util';
import * as fc from 'fast-check';
import { isTeleportError } from '../../packages/core/src/errors/index.js';
import {
  decodeFrontendMessage,
  newBackendParser,
  newFrontendParser,
  parseStartupMessage,
  serializeAuthenticationCleartextPassword,
  serializeAuthenticationOk,
  serializeBackendKeyData,
  serializeBind,
  serializeCancelRequest,
  serializeClose,
  serializeCommandComplete,
  serializeDataRow,
  serializeDescribe,
  serializeErrorResponse,
  serializeExecute,
  serializeFlush,
  serializeGssEncRequest,
  serializeNoticeResponse,
  serializeParameterStatus,
  serializeParse,
  serializePasswordMessage,
  serializeQuery,
  serializeReadyForQuery,
  serializeSslRequest,
  serializeStartupMessage,
  serializeSync,
  serializeTerminate,
  type MessageStreamParser,
  type ParsedSegment,
  type ParsedStartupMessage,
} from '../../packages/core/src/protocol/postgres/index.js';
import type { FrontendMessage } from '../../packages/core/src/protocol/postgres/messages.js';
import type { Target } from '../harness.js';
import { mutatedBytes, randomBytes } from '../mutate.js';

const fail = (what: string): never => {
  throw new Error(what);
};

/** A protocol string: any text without NUL. */
const pgString = (maxLength = 24) => fc.string({ unit: 'grapheme', maxLength }).map((s) => s.replaceAll('\0', ''));
const cancelKey = fc.record({ processId: fc.integer({ min: -0x80000000, max: 0x7fffffff }), secretKey: fc.uint8Array({ minLength: 4, maxLength: 256 }).map((b) => Buffer.from(b)) });

function startupSeeds(): Uint8Array[] {
  const psql = serializeStartupMessage({ parameters: { user: 'alice', database: 'app', application_name: 'psql', client_encoding: 'UTF8' } });
  return [
    psql,
    serializeStartupMessage({ parameters: { user: 'bob' }, protocolVersion: { major: 3, minor: 2 } }),
    serializeSslRequest(),
    serializeGssEncRequest(),
    serializeCancelRequest({ processId: 4242, secretKey: Buffer.from('k3y!') }),
    serializeCancelRequest({ processId: 7, secretKey: Buffer.alloc(32, 9) }), // protocol 3.2's longer secret
    Buffer.concat([serializeSslRequest(), psql, serializeQuery('select 1')]),
  ];
}

/** The startup-phase parser (the proxy, the db agent and tsh's local proxy read untrusted clients with it). */
export const pgStartup: Target<'bytes', ParsedStartupMessage | undefined> = {
  name: 'pg-startup',
  description: 'PostgreSQL startup phase: StartupMessage, SSLRequest, GSSENCRequest, CancelRequest (parseStartupMessage)',
  kind: 'bytes',
  seeds: startupSeeds,
  arbitrary: (seeds) =>
    fc.oneof(
      { weight: 6, arbitrary: mutatedBytes(seeds) },
      { weight: 1, arbitrary: randomBytes(32) },
      { weight: 2, arbitrary: fc.record({ parameters: fc.dictionary(pgString().filter((s) => s !== ''), pgString()), minor: fc.nat(3) }).map((m) => serializeStartupMessage({ parameters: m.parameters, protocolVersion: { major: 3, minor: m.minor } })) },
      { weight: 1, arbitrary: cancelKey.map((k) => serializeCancelRequest(k)) },
    ),
  parse: (input) => parseStartupMessage(Buffer.from(input)),
  check(parsed, input) {
    if (parsed === undefined) return;
    if (parsed.length > input.length) fail('consumed more than the input');
    const { message } = parsed;
    // Round trip: what the parser returns serializes back to a message that parses to the same value.
    let again: Buffer | undefined;
    if (message.type === 'startupMessage') again = serializeStartupMessage({ parameters: message.parameters, protocolVersion: message.protocolVersion });
    else if (message.type === 'cancelRequest') again = serializeCancelRequest(message);
    if (again !== undefined && !isDeepStrictEqual(parseStartupMessage(again)?.message, message)) fail('startup message round trip differs');
  },
};

/** Chunk sizes for the split feed, picked by the input's first byte so a crash replays identically. */
const CHUNKINGS = [[1], [2, 3], [5, 1, 7], [13], [4, 4, 1], [64]];

interface StreamRun<M> {
  segments: ParsedSegment<M>[];
  buffered: number;
}

function feed<M>(parser: MessageStreamParser<M>, input: Buffer, sizes: readonly number[] | undefined): StreamRun<M> {
  const segments: ParsedSegment<M>[] = [];
  if (sizes === undefined) segments.push(...parser.push(input));
  else for (let pos = 0, i = 0; pos < input.length; i++) {
    const n = sizes[i % sizes.length]!;
    segments.push(...parser.push(input.subarray(pos, pos + n)));
    pos += n;
  }
  return { segments, buffered: parser.bufferedLength };
}

const messagesOf = <M>(run: StreamRun<M>): M[] => run.segments.flatMap((s) => (s.kind === 'message' ? [s.message] : []));

/**
 * Feeds the input whole and in small chunks. Both must agree (same messages, or the same refusal), and the
 * segments must reproduce the input minus what is still buffered.
 */
function streamParse<M>(make: () => MessageStreamParser<M>, bytes: Uint8Array): StreamRun<M> {
  const input = Buffer.from(bytes);
  const sizes = CHUNKINGS[(input[0] ?? 0) % CHUNKINGS.length]!;
  let whole: StreamRun<M> | undefined;
  let wholeError: unknown;
  try {
    whole = feed(make(), input, undefined);
  } catch (err) {
    if (!isTeleportError(err)) throw err;
    wholeError = err;
  }
  let split: StreamRun<M> | undefined;
  try {
    split = feed(make(), input, sizes);
  } catch (err) {
    if (!isTeleportError(err)) throw err;
    if (wholeError === undefined) fail(`chunked feed refused what the whole feed accepted: ${err.code}`);
    if ((wholeError as { code: string }).code !== err.code) fail('chunked and whole feeds refused with different codes');
    throw err;
  }
  if (wholeError !== undefined) fail('whole feed refused what the chunked feed accepted');
  if (!isDeepStrictEqual(messagesOf(whole!), messagesOf(split))) fail('chunked and whole feeds decoded different messages');
  for (const run of [whole!, split]) {
    const out = Buffer.concat(run.segments.map((s) => (s.kind === 'bytes' ? s.bytes : s.raw)));
    if (!out.equals(input.subarray(0, input.length - run.buffered))) fail('segments do not reproduce the input');
  }
  return whole!;
}

/** Serializes a decoded frontend message back, for the round trip. */
function serializeFrontend(m: FrontendMessage): Buffer {
  switch (m.type) {
    case 'query':
      return serializeQuery(m.text);
    case 'parse':
      return serializeParse(m);
    case 'bind':
      return serializeBind(m);
    case 'execute':
      return serializeExecute(m);
    case 'describe':
      return serializeDescribe(m);
    case 'close':
      return serializeClose(m);
    case 'sync':
      return serializeSync();
    case 'flush':
      return serializeFlush();
    case 'terminate':
      return serializeTerminate();
  }
}

const frontendMessage: fc.Arbitrary<Buffer> = fc.oneof(
  pgString(64).map(serializeQuery),
  fc.record({ statement: pgString(), text: pgString(64), parameterTypes: fc.array(fc.nat(0xffffffff), { maxLength: 4 }) }).map(serializeParse),
  fc
    .record({
      portal: pgString(),
      statement: pgString(),
      parameterFormats: fc.array(fc.integer({ min: -0x8000, max: 0x7fff }), { maxLength: 3 }),
      parameters: fc.array(fc.option(fc.uint8Array({ maxLength: 16 }).map((b) => Buffer.from(b))), { maxLength: 3 }),
      resultFormats: fc.array(fc.integer({ min: -0x8000, max: 0x7fff }), { maxLength: 3 }),
    })
    .map(serializeBind),
  fc.record({ portal: pgString(), maxRows: fc.nat(0xffffffff) }).map(serializeExecute),
  fc.record({ target: fc.constantFrom('statement' as const, 'portal' as const), name: pgString() }).map(serializeDescribe),
  fc.record({ target: fc.constantFrom('statement' as const, 'portal' as const), name: pgString() }).map(serializeClose),
  fc.constantFrom(serializeSync(), serializeFlush(), serializeTerminate()),
  pgString().map(serializePasswordMessage),
);

function frontendSeeds(): Uint8Array[] {
  const extended = [
    serializeParse({ statement: 's1', text: 'select $1::int', parameterTypes: [23] }),
    serializeBind({ statement: 's1', parameterFormats: [0], parameters: ['42', null], resultFormats: [1] }),
    serializeDescribe({ target: 'portal' }),
    serializeExecute({ maxRows: 0 }),
    serializeClose({ target: 'statement', name: 's1' }),
    serializeSync(),
  ];
  return [serializeQuery('select 1'), ...extended, Buffer.concat(extended), serializeFlush(), serializeTerminate(), serializePasswordMessage('hunter2'), Buffer.concat([serializeQuery('begin'), serializeQuery('commit'), serializeTerminate()])];
}

/** What clients send after the startup phase (every statement is decoded for the audit log). */
export const pgFrontend: Target<'bytes', StreamRun<FrontendMessage>> = {
  name: 'pg-frontend',
  description: 'PostgreSQL frontend messages after startup (newFrontendParser, decodeFrontendMessage), whole and chunked',
  kind: 'bytes',
  seeds: frontendSeeds,
  arbitrary: (seeds) =>
    fc.oneof(
      { weight: 6, arbitrary: mutatedBytes(seeds) },
      { weight: 1, arbitrary: randomBytes(32) },
      { weight: 3, arbitrary: fc.array(frontendMessage, { minLength: 1, maxLength: 4 }).map((list) => Buffer.concat(list)) },
    ),
  parse: (input) => streamParse(() => newFrontendParser(), input),
  check(run) {
    for (const segment of run.segments) {
      if (segment.kind !== 'message') continue;
      const again = serializeFrontend(segment.message);
      const decoded = decodeFrontendMessage(String.fromCharCode(again[0]!), again.subarray(5));
      if (!isDeepStrictEqual(decoded, segment.message)) fail(`${segment.message.type} message round trip differs`);
    }
  },
};

function backendSeeds(): Uint8Array[] {
  const login = [
    serializeAuthenticationOk(),
    serializeParameterStatus('server_version', '15.4'),
    serializeBackendKeyData({ processId: 4242, secretKey: Buffer.from('k3y!') }),
    serializeReadyForQuery('I'),
  ];
  const rows = [serializeDataRow(['1', null]), serializeCommandComplete('SELECT 1'), serializeReadyForQuery('T')];
  return [
    ...login,
    Buffer.concat(login),
    Buffer.concat(rows),
    serializeAuthenticationCleartextPassword(),
    serializeErrorResponse({ severity: 'ERROR', code: '42P01', message: 'relation "t" does not exist', hint: 'create it' }),
    serializeNoticeResponse({ severity: 'NOTICE', code: '00000', message: 'hello' }),
  ];
}

/** What the database sends (the agent reads cancel keys and errors from it). */
export const pgBackend: Target<'bytes', StreamRun<unknown>> = {
  name: 'pg-backend',
  description: 'PostgreSQL backend messages (newBackendParser, decodeBackendMessage), whole and chunked',
  kind: 'bytes',
  seeds: backendSeeds,
  arbitrary: (seeds) =>
    fc.oneof(
      { weight: 6, arbitrary: mutatedBytes(seeds) },
      { weight: 1, arbitrary: randomBytes(32) },
      { weight: 1, arbitrary: cancelKey.map((k) => serializeBackendKeyData(k)) },
    ),
  parse: (input) => streamParse(() => newBackendParser(), input),
};
