/**
 * One error vocabulary for every package: Teleport's eight kinds, a stable code and an optional hint.
 * The kind survives the network hop (see {@link kindToHttpStatus} / {@link httpStatusToKind}); the CLIs map
 * it to an exit code and print `ERROR: <message>`.
 *
 * @example
 * ```ts
 * throw new NotFoundError('user "alice" is not found', { hint: 'list users with `tctl users ls`' });
 * ```
 */

export const ERROR_KINDS = [
  'bad-parameter',
  'not-found',
  'already-exists',
  'access-denied',
  'compare-failed',
  'limit-exceeded',
  'connection-problem',
  'not-implemented',
] as const;

export type ErrorKind = (typeof ERROR_KINDS)[number];

const BRAND = Symbol.for('teleport-ts.error');

/**
 * Every error code of the project, each bound to its one kind: the catalogue a `switch (err.code)` is checked
 * against. Codes are stable (clients, tests and scripts match on them); add one here before throwing it.
 * The first eight are the defaults of their kinds.
 */
export const ERROR_CODES = {
  ERR_TP_BAD_PARAMETER: 'bad-parameter',
  ERR_TP_NOT_FOUND: 'not-found',
  ERR_TP_ALREADY_EXISTS: 'already-exists',
  ERR_TP_ACCESS_DENIED: 'access-denied',
  ERR_TP_COMPARE_FAILED: 'compare-failed',
  ERR_TP_LIMIT_EXCEEDED: 'limit-exceeded',
  ERR_TP_CONNECTION_PROBLEM: 'connection-problem',
  ERR_TP_NOT_IMPLEMENTED: 'not-implemented',

  // HTTP APIs (auth server, proxy web API).
  /** A failure that is not a TeleportError (a bug); the message never says more. */
  ERR_TP_INTERNAL: 'connection-problem',
  /** The path exists but not for this method (HTTP 405 with `Allow`). */
  ERR_TP_METHOD_NOT_ALLOWED: 'bad-parameter',
  /** The request body is over the size cap (HTTP 413). */
  ERR_TP_REQUEST_TOO_LARGE: 'limit-exceeded',
  /** An API answer over the client's size cap (`MAX_RESPONSE_BYTES`). */
  ERR_TP_RESPONSE_TOO_LARGE: 'limit-exceeded',
  /** A path segment is not valid percent-encoding. */
  ERR_TP_MALFORMED_PATH: 'bad-parameter',
  /** The caller's address bucket is empty. */
  ERR_TP_RATE_LIMITED: 'limit-exceeded',

  // Authentication and authorization.
  ERR_TP_CLIENT_CERT_REQUIRED: 'access-denied',
  ERR_TP_INVALID_CREDENTIALS: 'access-denied',
  ERR_TP_USER_LOCKED: 'access-denied',
  /** A lock resource in force matches the caller. */
  ERR_TP_LOCKED: 'access-denied',
  ERR_TP_USER_TOKEN_NOT_FOUND: 'not-found',
  ERR_TP_JOIN_TOKEN_INVALID: 'access-denied',
  ERR_TP_JOIN_TOKEN_ROLE: 'access-denied',
  ERR_TP_CA_PIN_MISMATCH: 'access-denied',
  /** RBAC refused a database session. */
  ERR_TP_DB_DENIED: 'access-denied',

  // X.509 verification.
  ERR_TP_TLS_UNTRUSTED_CA: 'access-denied',
  ERR_TP_TLS_CERT_EXPIRED: 'access-denied',
  ERR_TP_TLS_CERT_NOT_YET_VALID: 'access-denied',
  ERR_TP_TLS_CERT_USAGE: 'access-denied',
  /** A client (tsh) cannot verify the proxy's certificate. */
  ERR_TP_TLS_UNTRUSTED: 'connection-problem',
  ERR_TP_BAD_CLIENT_HELLO: 'bad-parameter',

  // SSH certificate verification.
  ERR_TP_SSH_UNTRUSTED_CA: 'access-denied',
  ERR_TP_SSH_CERT_TYPE: 'access-denied',
  ERR_TP_SSH_CERT_EXPIRED: 'access-denied',
  ERR_TP_SSH_CERT_NOT_YET_VALID: 'access-denied',
  ERR_TP_SSH_PRINCIPAL: 'access-denied',
  ERR_TP_SSH_CRITICAL_OPTION: 'access-denied',
  ERR_TP_SSH_SOURCE_ADDRESS: 'access-denied',
  ERR_TP_SSH_BAD_SIGNATURE: 'access-denied',
  ERR_TP_SSH_SHA1_SIGNATURE: 'access-denied',
  ERR_TP_SSH_SIGNATURE_ALGORITHM: 'access-denied',

  // SSH sessions (core/protocol/ssh client, the node's SSH server).
  ERR_TP_SSH_AUTH_FAILED: 'access-denied',
  ERR_TP_SSH_HOST_KEY: 'access-denied',
  ERR_TP_SSH_DENIED: 'access-denied',
  ERR_TP_SSH_HANDSHAKE: 'connection-problem',

  // PostgreSQL wire protocol.
  ERR_TP_PG_MALFORMED_MESSAGE: 'bad-parameter',
  ERR_TP_PG_MESSAGE_TOO_LARGE: 'limit-exceeded',
  ERR_TP_PG_UNSUPPORTED_PROTOCOL: 'not-implemented',
  ERR_TP_PG_TRUNCATED: 'connection-problem',
  ERR_TP_PG_TOO_MANY_CANCEL_KEYS: 'limit-exceeded',

  // Reverse tunnel.
  ERR_TP_TUNNEL_AGENT_OFFLINE: 'connection-problem',
  ERR_TP_TUNNEL_STREAM_FAILED: 'connection-problem',
  ERR_TP_TUNNEL_BAD_META: 'bad-parameter',
  ERR_TP_TUNNEL_BAD_ALPN: 'connection-problem',

  // Session recordings.
  /** No recording of that session is stored (or the caller may not see it). */
  ERR_TP_RECORDING_NOT_FOUND: 'not-found',
  /** A recording, or one part of it, is over the size caps. */
  ERR_TP_RECORDING_TOO_LARGE: 'limit-exceeded',
  /** The parts of an upload do not add up to the recording (missing or overlapping). */
  ERR_TP_RECORDING_INCOMPLETE: 'bad-parameter',
  // SSH routing at the proxy (teleport-proxy-ssh).
  /** No node matches the target (Teleport: direct dialing to nodes not found in inventory is not supported). */
  ERR_TP_NODE_NOT_FOUND: 'connection-problem',
  /** A UUID-like target matches no node. */
  ERR_TP_NODE_ID_NOT_FOUND: 'not-found',
  /** The target matches several nodes. */
  ERR_TP_NODE_AMBIGUOUS: 'not-found',
  /** The node is listed but neither its tunnel nor its address answers. */
  ERR_TP_NODE_OFFLINE: 'connection-problem',
  ERR_TP_SSH_ROUTE_REQUEST: 'bad-parameter',

  // CLIs.
  ERR_TP_FILE_EXISTS: 'bad-parameter',
  ERR_TP_NO_IDENTITY: 'not-found',
  ERR_TP_AUTH_UNREACHABLE: 'connection-problem',
} as const satisfies Record<`ERR_TP_${string}`, ErrorKind>;

/** Every error code, as a union: `switch (err.code)` on a {@link KnownTeleportError} narrows its kind. */
export type TeleportErrorCode = keyof typeof ERROR_CODES;

type CodesByKind = { [K in ErrorKind]: { [C in TeleportErrorCode]: (typeof ERROR_CODES)[C] extends K ? C : never }[TeleportErrorCode] };

/** The codes bound to one kind, e.g. `ErrorCodeOf<'limit-exceeded'>` (an indexed access, so it stays covariant in `K`). */
export type ErrorCodeOf<K extends ErrorKind> = CodesByKind[K];

/** The kind a code is bound to. */
export type KindOfCode<C extends TeleportErrorCode> = (typeof ERROR_CODES)[C];

/** True when `code` is in {@link ERROR_CODES} (e.g. a code read off the wire). */
export function isErrorCode(code: unknown): code is TeleportErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code);
}

export interface TeleportErrorOptions<K extends ErrorKind = ErrorKind> {
  /** Stable machine-readable code of the same kind, from {@link ERROR_CODES}. Defaults to one per kind. */
  code?: ErrorCodeOf<K>;
  /** What the user can do about it, one line. */
  hint?: string;
  cause?: unknown;
}

const DEFAULT_CODES: { [K in ErrorKind]: ErrorCodeOf<K> } = {
  'bad-parameter': 'ERR_TP_BAD_PARAMETER',
  'not-found': 'ERR_TP_NOT_FOUND',
  'already-exists': 'ERR_TP_ALREADY_EXISTS',
  'access-denied': 'ERR_TP_ACCESS_DENIED',
  'compare-failed': 'ERR_TP_COMPARE_FAILED',
  'limit-exceeded': 'ERR_TP_LIMIT_EXCEEDED',
  'connection-problem': 'ERR_TP_CONNECTION_PROBLEM',
  'not-implemented': 'ERR_TP_NOT_IMPLEMENTED',
};

/**
 * Base class of every expected failure. Programmer errors stay `TypeError`. `K` ties the code to the kind:
 * `new AccessDeniedError('...', { code: 'ERR_TP_PG_TRUNCATED' })` does not compile.
 */
export class TeleportError<K extends ErrorKind = ErrorKind> extends Error {
  readonly kind: K;
  readonly code: ErrorCodeOf<K>;
  readonly hint: string | undefined;

  constructor(kind: K, message: string, options: TeleportErrorOptions<K> = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    this.code = options.code ?? (DEFAULT_CODES[kind] as ErrorCodeOf<K>);
    this.hint = options.hint;
    Object.defineProperty(this, BRAND, { value: true });
  }

  override get name(): string {
    return 'TeleportError';
  }
}

/**
 * A TeleportError seen through its code: one member per code, so `switch (err.code)` narrows `err.kind`.
 *
 * @example
 * ```ts
 * if (isTeleportError(err)) {
 *   switch (err.code) {
 *     case 'ERR_TP_USER_LOCKED': return retryLater(err.kind); // err.kind is 'access-denied'
 *   }
 * }
 * ```
 */
export type KnownTeleportError = { [C in TeleportErrorCode]: TeleportError<KindOfCode<C>> & { readonly code: C } }[TeleportErrorCode];

function makeKind<K extends ErrorKind>(kind: K) {
  return class extends TeleportError<K> {
    constructor(message: string, options?: TeleportErrorOptions<K>) {
      super(kind, message, options);
    }
  };
}

export class BadParameterError extends makeKind('bad-parameter') {}
export class NotFoundError extends makeKind('not-found') {}
export class AlreadyExistsError extends makeKind('already-exists') {}
export class AccessDeniedError extends makeKind('access-denied') {}
export class CompareFailedError extends makeKind('compare-failed') {}
export class LimitExceededError extends makeKind('limit-exceeded') {}
export class ConnectionProblemError extends makeKind('connection-problem') {}
export class NotImplementedError extends makeKind('not-implemented') {}

/** `instanceof` that survives two copies of this package in one process. */
export function isTeleportError(err: unknown): err is KnownTeleportError {
  return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[BRAND] === true;
}

/** True when `err` is a {@link TeleportError} of the given kind. */
export function isKind<K extends ErrorKind>(err: unknown, kind: K): err is TeleportError<K> {
  return isTeleportError(err) && err.kind === kind;
}

export const isNotFound = (err: unknown): err is TeleportError<'not-found'> => isKind(err, 'not-found');
export const isAlreadyExists = (err: unknown): err is TeleportError<'already-exists'> => isKind(err, 'already-exists');
export const isCompareFailed = (err: unknown): err is TeleportError<'compare-failed'> => isKind(err, 'compare-failed');
export const isConnectionProblem = (err: unknown): err is TeleportError<'connection-problem'> => isKind(err, 'connection-problem');

const KIND_TO_STATUS: Record<ErrorKind, number> = {
  'bad-parameter': 400,
  'access-denied': 403,
  'not-found': 404,
  'already-exists': 409,
  'compare-failed': 412,
  'limit-exceeded': 429,
  'not-implemented': 501,
  'connection-problem': 502,
};

/** Codes answered with a more precise status than their kind's; clients map these statuses back to the kind. */
const CODE_TO_STATUS: Partial<Record<TeleportErrorCode, number>> = {
  ERR_TP_METHOD_NOT_ALLOWED: 405,
  ERR_TP_REQUEST_TOO_LARGE: 413,
  ERR_TP_INTERNAL: 500,
};

/** HTTP status for an error kind (the auth API's mapping). */
export function kindToHttpStatus(kind: ErrorKind): number {
  return KIND_TO_STATUS[kind];
}

/** HTTP status for an error: its code's own status (405, 413, 500) if it has one, else its kind's. */
export function httpStatusOf(err: TeleportError): number {
  return CODE_TO_STATUS[err.code] ?? KIND_TO_STATUS[err.kind];
}

/**
 * Error kind for an HTTP status; 401 is access-denied, 405 bad-parameter, 413 limit-exceeded, other unknown
 * statuses become `connection-problem` (5xx) or `bad-parameter`.
 */
export function httpStatusToKind(status: number): ErrorKind {
  for (const [kind, s] of Object.entries(KIND_TO_STATUS)) if (s === status) return kind as ErrorKind;
  if (status === 401) return 'access-denied';
  if (status === 413) return 'limit-exceeded';
  return status >= 500 ? 'connection-problem' : 'bad-parameter';
}

/** Wire shape of an error in API responses. */
export interface WireError {
  kind: ErrorKind;
  code: string;
  message: string;
  hint?: string;
}

export function toWireError(err: TeleportError): WireError {
  return { kind: err.kind, code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) };
}

/**
 * The error a peer sent. Its code is kept when the catalogue knows it with the same kind; a code from a newer or
 * foreign peer becomes the kind's default, so `err.code` is always a {@link TeleportErrorCode}.
 */
export function fromWireError(wire: WireError): TeleportError {
  const kind: ErrorKind = (ERROR_KINDS as readonly string[]).includes(wire.kind) ? wire.kind : 'bad-parameter';
  const code = isErrorCode(wire.code) && ERROR_CODES[wire.code] === kind ? wire.code : DEFAULT_CODES[kind];
  return new TeleportError(kind, wire.message, { code, ...(wire.hint ? { hint: wire.hint } : {}) });
}

const SECRET_PATTERNS: RegExp[] = [
  /(password=)[^\s&]*/gi,
  /(sslpassword=)[^\s&]*/gi,
  /(:\/\/[^:/@\s]+:)[^@\s]*(@)/g,
];

/** Removes credentials from connection strings and similar text before it reaches a message or log. */
export function redact(text: string): string {
  let out = text;
  for (const re of SECRET_PATTERNS) out = out.replace(re, (_m, a: string, b?: string) => `${a}***${typeof b === 'string' ? b : ''}`);
  return out;
}
