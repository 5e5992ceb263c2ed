import { describe, expect, it } from 'vitest';
import { BACKEND_CODE, FRONTEND_CODE, HEADER_LENGTH, SQLSTATE } from './constants.js';
import type { BackendMessage, FrontendMessage, PgErrorFields } from './messages.js';
import { newBackendParser, newFrontendParser } from './parser.js';
import {
  serializeAuthenticationOk,
  serializeBackendKeyData,
  serializeBind,
  serializeCancelRequest,
  serializeClose,
  serializeCommandComplete,
  serializeDescribe,
  serializeEncryptionResponse,
  serializeErrorResponse,
  serializeExecute,
  serializeFlush,
  serializeGssEncRequest,
  serializeNoticeResponse,
  serializeParameterStatus,
  serializeParse,
  serializeQuery,
  serializeReadyForQuery,
  serializeSslRequest,
  serializeStartupMessage,
  serializeSync,
  serializeTerminate,
} from './serializer.js';
import { parseStartupMessage } from './startup.js';

const key = (processId: number, ...secret: number[]) => ({ processId, secretKey: Buffer.from(secret) });

function parseOneFrontend(bytes: Buffer): FrontendMessage {
  const segments = newFrontendParser().push(bytes);
  expect(segments).toHaveLength(1);
  const [segment] = segments;
  if (segment?.kind !== 'message') throw new Error('expected a decoded message');
  expect(segment.raw.equals(bytes)).toBe(true);
  return segment.message;
}

function parseOneBackend(bytes: Buffer): BackendMessage {
  const segments = newBackendParser().push(bytes);
  expect(segments).toHaveLength(1);
  const [segment] = segments;
  if (segment?.kind !== 'message') throw new Error('expected a decoded message');
  expect(segment.raw.equals(bytes)).toBe(true);
  return segment.message;
}

describe('startup-phase messages round-trip', () => {
  it('SSLRequest and GSSENCRequest are 8 bytes', () => {
    expect(serializeSslRequest()).toHaveLength(8);
    expect(parseStartupMessage(serializeSslRequest())).toEqual({ message: { type: 'sslRequest' }, length: 8 });
    expect(parseStartupMessage(serializeGssEncRequest())).toEqual({ message: { type: 'gssEncRequest' }, length: 8 });
  });

  it('CancelRequest is 16 bytes in protocol 3.0 and longer with a 3.2 secret', () => {
    const short = serializeCancelRequest(key(4242, 1, 2, 3, 4));
    expect(short).toHaveLength(16);
    expect(parseStartupMessage(short)).toEqual({ message: { type: 'cancelRequest', ...key(4242, 1, 2, 3, 4) }, length: 16 });
    const long = { processId: -7, secretKey: Buffer.alloc(32, 9) };
    expect(parseStartupMessage(serializeCancelRequest(long))?.message).toEqual({ type: 'cancelRequest', ...long });
  });

  it('StartupMessage keeps parameters in order, including unusual names', () => {
    const entries: [string, string][] = [
      ['user', 'alice'],
      ['database', 'app'],
      ['application_name', 'psql'],
      ['options', '-c search_path=x'],
      ['__proto__', 'an ordinary key'],
      ['_pq_.x', 'ünïcødé'],
    ];
    const parsed = parseStartupMessage(serializeStartupMessage({ parameters: Object.fromEntries(entries) }));
    if (parsed?.message.type !== 'startupMessage') throw new Error('expected a startup message');
    expect(parsed.message.protocolVersion).toEqual({ major: 3, minor: 0 });
    expect(Object.entries(parsed.message.parameters)).toEqual(entries);
    expect(Object.getPrototypeOf(parsed.message.parameters)).toBe(Object.prototype);
  });

  it('StartupMessage with protocol 3.2 and no parameters', () => {
    const bytes = serializeStartupMessage({ parameters: {}, protocolVersion: { major: 3, minor: 2 } });
    expect(parseStartupMessage(bytes)?.message).toEqual({ type: 'startupMessage', protocolVersion: { major: 3, minor: 2 }, parameters: {} });
  });
});

describe('frontend messages round-trip', () => {
  it.each<[string, Buffer, FrontendMessage]>([
    ['Query', serializeQuery('select 1; select 2'), { type: 'query', text: 'select 1; select 2' }],
    ['Query (unicode)', serializeQuery("select 'ünïcødé ✓'"), { type: 'query', text: "select 'ünïcødé ✓'" }],
    ['Parse', serializeParse({ statement: 's1', text: 'select $1::int, $2', parameterTypes: [23, 0] }), { type: 'parse', statement: 's1', text: 'select $1::int, $2', parameterTypes: [23, 0] }],
    ['Parse (unnamed, no types)', serializeParse({ text: 'select 1' }), { type: 'parse', statement: '', text: 'select 1', parameterTypes: [] }],
    [
      'Bind',
      serializeBind({ portal: 'p', statement: 's1', parameterFormats: [0, 1], parameters: ['42', Buffer.from([0, 1, 2]), null], resultFormats: [1] }),
      { type: 'bind', portal: 'p', statement: 's1', parameterFormats: [0, 1], parameters: [Buffer.from('42'), Buffer.from([0, 1, 2]), null], resultFormats: [1] },
    ],
    ['Bind (empty)', serializeBind({}), { type: 'bind', portal: '', statement: '', parameterFormats: [], parameters: [], resultFormats: [] }],
    ['Execute', serializeExecute({ portal: 'p', maxRows: 100 }), { type: 'execute', portal: 'p', maxRows: 100 }],
    ['Describe statement', serializeDescribe({ target: 'statement', name: 's1' }), { type: 'describe', target: 'statement', name: 's1' }],
    ['Describe portal', serializeDescribe({ target: 'portal' }), { type: 'describe', target: 'portal', name: '' }],
    ['Close', serializeClose({ target: 'statement', name: 's1' }), { type: 'close', target: 'statement', name: 's1' }],
    ['Sync', serializeSync(), { type: 'sync' }],
    ['Flush', serializeFlush(), { type: 'flush' }],
    ['Terminate', serializeTerminate(), { type: 'terminate' }],
  ])('%s', (_name, bytes, expected) => {
    expect(parseOneFrontend(bytes)).toEqual(expected);
  });

  it('uses the documented type codes and an empty body for Sync and Terminate', () => {
    expect(serializeSync().subarray(0, 1).toString()).toBe(FRONTEND_CODE.sync);
    expect(serializeTerminate()).toHaveLength(HEADER_LENGTH);
    expect(serializeTerminate().subarray(0, 1).toString()).toBe(FRONTEND_CODE.terminate);
  });
});

describe('backend messages round-trip', () => {
  const fatal: PgErrorFields = {
    severity: 'FATAL',
    code: SQLSTATE.invalidAuthorizationSpecification,
    message: 'access to db denied',
    hint: 'ask for the "db" role',
  };

  it.each<[string, Buffer, BackendMessage]>([
    ['AuthenticationOk', serializeAuthenticationOk(), { type: 'authentication', code: 0 }],
    ['BackendKeyData', serializeBackendKeyData(key(77, 9, 8, 7, 6)), { type: 'backendKeyData', ...key(77, 9, 8, 7, 6) }],
    ['ErrorResponse', serializeErrorResponse(fatal), { type: 'errorResponse', fields: { ...fatal, severityNonLocalized: 'FATAL' } }],
    [
      'ErrorResponse (every field)',
      serializeErrorResponse({ severity: 'ERRO', severityNonLocalized: 'ERROR', code: SQLSTATE.insufficientPrivilege, message: 'm', detail: 'd', hint: 'h', position: '3', where: 'w', schema: 's', table: 't', column: 'c', dataType: 'dt', constraint: 'n', file: 'f.c', line: '12', routine: 'r', internalPosition: '1', internalQuery: 'q' }),
      { type: 'errorResponse', fields: { severity: 'ERRO', severityNonLocalized: 'ERROR', code: '42501', message: 'm', detail: 'd', hint: 'h', position: '3', where: 'w', schema: 's', table: 't', column: 'c', dataType: 'dt', constraint: 'n', file: 'f.c', line: '12', routine: 'r', internalPosition: '1', internalQuery: 'q' } },
    ],
    ['NoticeResponse', serializeNoticeResponse({ severity: 'NOTICE', code: '00000', message: 'hello' }), { type: 'noticeResponse', fields: { severity: 'NOTICE', severityNonLocalized: 'NOTICE', code: '00000', message: 'hello' } }],
    ['ReadyForQuery', serializeReadyForQuery(), { type: 'readyForQuery', status: 'I' }],
    ['ReadyForQuery (in transaction)', serializeReadyForQuery('T'), { type: 'readyForQuery', status: 'T' }],
    ['ParameterStatus', serializeParameterStatus('server_version', '15.8'), { type: 'parameterStatus', name: 'server_version', value: '15.8' }],
    ['CommandComplete', serializeCommandComplete('SELECT 1'), { type: 'commandComplete', tag: 'SELECT 1' }],
  ])('%s', (_name, bytes, expected) => {
    expect(parseOneBackend(bytes)).toEqual(expected);
  });

  it('ErrorResponse starts with E and carries S, V, C, M in that order', () => {
    const bytes = serializeErrorResponse(fatal);
    expect(bytes.subarray(0, 1).toString()).toBe(BACKEND_CODE.errorResponse);
    const fieldCodes = [...bytes.subarray(HEADER_LENGTH).toString('latin1').matchAll(/(?:^|\0)([A-Za-z])/g)].map((m) => m[1]);
    expect(fieldCodes.slice(0, 4)).toEqual(['S', 'V', 'C', 'M']);
  });

  it('answers an SSLRequest with one byte', () => {
    expect(serializeEncryptionResponse(true).toString()).toBe('S');
    expect(serializeEncryptionResponse(false).toString()).toBe('N');
  });
});

describe('serializers refuse what cannot be encoded', () => {
  it('a NUL inside a string', () => {
    expect(() => serializeQuery('select 1\0; drop table x')).toThrow(/NUL/);
    expect(() => serializeStartupMessage({ parameters: { user: 'a\0b' } })).toThrow(/NUL/);
  });

  it('a cancel key of the wrong size', () => {
    expect(() => serializeCancelRequest(key(1, 1, 2, 3))).toThrow(/secret/);
    expect(() => serializeBackendKeyData({ processId: 1, secretKey: Buffer.alloc(257) })).toThrow(/secret/);
    expect(() => serializeCancelRequest({ processId: 2 ** 31, secretKey: Buffer.alloc(4) })).toThrow(/process id/);
  });
});
