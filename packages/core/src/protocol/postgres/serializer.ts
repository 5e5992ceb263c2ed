/**
 * Pure serializers: each returns the exact bytes of one message. They double as the named fixture helpers of the
 * tests (no hex blobs).
 */

import { BadParameterError } from '../../errors/index.js';
import { cstring, frame, int16, int32, startupFrame, uint16, uint32 } from './buffer.js';
import {
  AUTHENTICATION_CODE,
  BACKEND_CODE,
  CANCEL_REQUEST_CODE,
  ENCRYPTION_RESPONSE,
  ERROR_FIELD_CODE,
  FRONTEND_CODE,
  GSSENC_REQUEST_CODE,
  MAX_CANCEL_SECRET_KEY_LENGTH,
  SSL_REQUEST_CODE,
} from './constants.js';
import type { BackendKey, BindMessage, PgErrorFields } from './messages.js';

const NUL = Buffer.from([0]);
const NON_LOCALIZED_SEVERITIES = new Set(['ERROR', 'FATAL', 'PANIC', 'WARNING', 'NOTICE', 'DEBUG', 'INFO', 'LOG']);

function checkBackendKey(key: BackendKey): void {
  if (!Number.isInteger(key.processId) || key.processId < -0x80000000 || key.processId > 0x7fffffff) {
    throw new BadParameterError('a cancel key process id must be a 32-bit integer');
  }
  if (key.secretKey.length < 4 || key.secretKey.length > MAX_CANCEL_SECRET_KEY_LENGTH) {
    throw new BadParameterError(`a cancel key secret must be 4 to ${MAX_CANCEL_SECRET_KEY_LENGTH} bytes`);
  }
}

// ---- startup phase -------------------------------------------------------------------------------------------

/**
 * @example
 * ```ts
 * socket.write(serializeSslRequest()); // 8 bytes: length 8, code 80877103
 * ```
 */
export function serializeSslRequest(): Buffer {
  return startupFrame(uint32(SSL_REQUEST_CODE));
}

/** GSSENCRequest: 8 bytes, code 80877104. */
export function serializeGssEncRequest(): Buffer {
  return startupFrame(uint32(GSSENC_REQUEST_CODE));
}

/**
 * CancelRequest: 16 bytes with a 4-byte secret (protocol 3.0), longer with a protocol 3.2 secret.
 *
 * @example
 * ```ts
 * socket.end(serializeCancelRequest({ processId: 4242, secretKey: Buffer.from([1, 2, 3, 4]) }));
 * ```
 */
export function serializeCancelRequest(key: BackendKey): Buffer {
  checkBackendKey(key);
  return startupFrame(uint32(CANCEL_REQUEST_CODE), int32(key.processId), key.secretKey);
}

/** Options for {@link serializeStartupMessage}. */
export interface StartupMessageInput {
  /** `user` is required by servers; `database` defaults to the user there. */
  parameters: Readonly<Record<string, string>>;
  /** Default 3.0. */
  protocolVersion?: { major: number; minor: number };
}

/**
 * StartupMessage: protocol version, then NUL-terminated name/value pairs, then a final NUL.
 *
 * @example
 * ```ts
 * serializeStartupMessage({ parameters: { user: 'alice', database: 'app', application_name: 'psql' } });
 * ```
 */
export function serializeStartupMessage(input: StartupMessageInput): Buffer {
  const { major, minor } = input.protocolVersion ?? { major: 3, minor: 0 };
  const parts: Buffer[] = [uint32(((major & 0xffff) << 16) | (minor & 0xffff))];
  for (const [name, value] of Object.entries(input.parameters)) {
    if (name === '') throw new BadParameterError('a startup parameter needs a name');
    parts.push(cstring(name), cstring(value));
  }
  parts.push(NUL);
  return startupFrame(...parts);
}

// ---- backend messages ---------------------------------------------------------------------------------------

/**
 * The one-byte answer to an SSLRequest or GSSENCRequest: `S` (go ahead) or `N` (continue in plain text).
 *
 * @example
 * ```ts
 * socket.write(serializeEncryptionResponse(false)); // 'N'
 * ```
 */
export function serializeEncryptionResponse(accept: boolean): Buffer {
  return Buffer.from(accept ? ENCRYPTION_RESPONSE.accept : ENCRYPTION_RESPONSE.refuse, 'latin1');
}

function errorFields(fields: PgErrorFields): Buffer[] {
  const parts: Buffer[] = [];
  const withDefaults: PgErrorFields = {
    ...fields,
    severityNonLocalized:
      fields.severityNonLocalized ?? (NON_LOCALIZED_SEVERITIES.has(fields.severity) ? fields.severity : undefined),
  };
  for (const [name, code] of Object.entries(ERROR_FIELD_CODE)) {
    const value = withDefaults[name as keyof PgErrorFields];
    if (value === undefined) continue;
    parts.push(Buffer.from(code, 'latin1'), cstring(value));
  }
  parts.push(NUL);
  return parts;
}

/**
 * ErrorResponse. With `severity: 'FATAL'` psql prints `FATAL:  <message>` (and `HINT:  <hint>`) and the server
 * side is expected to close the connection afterwards.
 *
 * @example
 * ```ts
 * socket.end(serializeErrorResponse({
 *   severity: 'FATAL', code: SQLSTATE.invalidAuthorizationSpecification,
 *   message: 'access to db denied', hint: 'ask your Teleport admin for the "db" role',
 * }));
 * ```
 */
export function serializeErrorResponse(fields: PgErrorFields): Buffer {
  return frame(BACKEND_CODE.errorResponse, ...errorFields(fields));
}

/** NoticeResponse: same fields as an ErrorResponse, severity usually `NOTICE` or `WARNING`. */
export function serializeNoticeResponse(fields: PgErrorFields): Buffer {
  return frame(BACKEND_CODE.noticeResponse, ...errorFields(fields));
}

/** ReadyForQuery with a transaction status (default `I`, idle). */
export function serializeReadyForQuery(status: 'I' | 'T' | 'E' = 'I'): Buffer {
  return frame(BACKEND_CODE.readyForQuery, Buffer.from(status, 'latin1'));
}

/** BackendKeyData: process id and secret. */
export function serializeBackendKeyData(key: BackendKey): Buffer {
  checkBackendKey(key);
  return frame(BACKEND_CODE.backendKeyData, int32(key.processId), key.secretKey);
}

/** AuthenticationOk (`R`, code 0). */
export function serializeAuthenticationOk(): Buffer {
  return frame(BACKEND_CODE.authentication, int32(AUTHENTICATION_CODE.ok));
}

/** AuthenticationCleartextPassword (`R`, code 3), for tests of password pass-through. */
export function serializeAuthenticationCleartextPassword(): Buffer {
  return frame(BACKEND_CODE.authentication, int32(AUTHENTICATION_CODE.cleartextPassword));
}

/** ParameterStatus, e.g. `server_version`. */
export function serializeParameterStatus(name: string, value: string): Buffer {
  return frame(BACKEND_CODE.parameterStatus, cstring(name), cstring(value));
}

/** CommandComplete with a tag such as `SELECT 1`. */
export function serializeCommandComplete(tag: string): Buffer {
  return frame(BACKEND_CODE.commandComplete, cstring(tag));
}

/** DataRow with text or binary column values (`null` = SQL NULL). Never decoded; a pass-through fixture. */
export function serializeDataRow(values: readonly (Buffer | string | null)[]): Buffer {
  const parts: Buffer[] = [uint16(values.length)];
  for (const value of values) {
    if (value === null) {
      parts.push(int32(-1));
      continue;
    }
    const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    parts.push(int32(bytes.length), bytes);
  }
  return frame(BACKEND_CODE.dataRow, ...parts);
}

// ---- frontend messages --------------------------------------------------------------------------------------

/** Query (simple protocol). */
export function serializeQuery(text: string): Buffer {
  return frame(FRONTEND_CODE.query, cstring(text));
}

/** Parse: statement name (empty = unnamed), SQL text, parameter type OIDs. */
export function serializeParse(input: { statement?: string; text: string; parameterTypes?: readonly number[] }): Buffer {
  const types = input.parameterTypes ?? [];
  return frame(FRONTEND_CODE.parse, cstring(input.statement ?? ''), cstring(input.text), uint16(types.length), ...types.map((t) => uint32(t)));
}

/** Bind: portal, statement, parameter formats and values, result formats. Strings are sent as UTF-8 text. */
export function serializeBind(
  input: Partial<Omit<BindMessage, 'type' | 'parameters'>> & { parameters?: readonly (Buffer | string | null)[] },
): Buffer {
  const formats = input.parameterFormats ?? [];
  const values = input.parameters ?? [];
  const results = input.resultFormats ?? [];
  const parts: Buffer[] = [cstring(input.portal ?? ''), cstring(input.statement ?? ''), uint16(formats.length)];
  for (const f of formats) parts.push(int16(f));
  parts.push(uint16(values.length));
  for (const value of values) {
    if (value === null) {
      parts.push(int32(-1));
      continue;
    }
    const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    parts.push(int32(bytes.length), bytes);
  }
  parts.push(uint16(results.length));
  for (const f of results) parts.push(int16(f));
  return frame(FRONTEND_CODE.bind, ...parts);
}

/** Execute a portal (empty = unnamed); `maxRows` 0 = all. */
export function serializeExecute(input: { portal?: string; maxRows?: number } = {}): Buffer {
  return frame(FRONTEND_CODE.execute, cstring(input.portal ?? ''), uint32(input.maxRows ?? 0));
}

/** Describe a prepared statement or a portal. */
export function serializeDescribe(input: { target: 'statement' | 'portal'; name?: string }): Buffer {
  return frame(FRONTEND_CODE.describe, Buffer.from(input.target === 'statement' ? 'S' : 'P', 'latin1'), cstring(input.name ?? ''));
}

/** Close a prepared statement or a portal. */
export function serializeClose(input: { target: 'statement' | 'portal'; name?: string }): Buffer {
  return frame(FRONTEND_CODE.close, Buffer.from(input.target === 'statement' ? 'S' : 'P', 'latin1'), cstring(input.name ?? ''));
}

export function serializeSync(): Buffer {
  return frame(FRONTEND_CODE.sync);
}

export function serializeFlush(): Buffer {
  return frame(FRONTEND_CODE.flush);
}

export function serializeTerminate(): Buffer {
  return frame(FRONTEND_CODE.terminate);
}

/** PasswordMessage. The parsers never decode it: it only ever passes through. */
export function serializePasswordMessage(password: string): Buffer {
  return frame(FRONTEND_CODE.password, cstring(password));
}
