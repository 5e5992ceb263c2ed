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

export interface TeleportErrorOptions {
  /** Stable machine-readable code, `ERR_TP_*`. Defaults to one per kind. */
  code?: string;
  /** What the user can do about it, one line. */
  hint?: string;
  cause?: unknown;
}

const DEFAULT_CODES: Record<ErrorKind, string> = {
  'bad-parameter': 'ERR_TP_BAD_PARAMETER',
  'not-found': 'ERR_TP_NOT_FOUND',
  'already-exists': 'ERR_TP_ALREADY_EXISTS',
  'access-denied': 'ERR_TP_ACCESS_DENIED',
  'compare-failed': 'ERR_TP_COMPARE_FAILED',
  'limit-exceeded': 'ERR_TP_LIMIT_EXCEEDED',
  'connection-problem': 'ERR_TP_CONNECTION_PROBLEM',
  'not-implemented': 'ERR_TP_NOT_IMPLEMENTED',
};

/** Base class of every expected failure. Programmer errors stay `TypeError`. */
export class TeleportError extends Error {
  readonly kind: ErrorKind;
  readonly code: string;
  readonly hint: string | undefined;

  constructor(kind: ErrorKind, message: string, options: TeleportErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    this.code = options.code ?? DEFAULT_CODES[kind];
    this.hint = options.hint;
    Object.defineProperty(this, BRAND, { value: true });
  }

  override get name(): string {
    return 'TeleportError';
  }
}

function makeKind(kind: ErrorKind) {
  return class extends TeleportError {
    constructor(message: string, options?: TeleportErrorOptions) {
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
export function isTeleportError(err: unknown): err is TeleportError {
  return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[BRAND] === true;
}

/** True when `err` is a {@link TeleportError} of the given kind. */
export function isKind(err: unknown, kind: ErrorKind): err is TeleportError {
  return isTeleportError(err) && err.kind === kind;
}

export const isNotFound = (err: unknown): err is TeleportError => isKind(err, 'not-found');
export const isAlreadyExists = (err: unknown): err is TeleportError => isKind(err, 'already-exists');
export const isCompareFailed = (err: unknown): err is TeleportError => isKind(err, 'compare-failed');
export const isConnectionProblem = (err: unknown): err is TeleportError => isKind(err, 'connection-problem');

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

/** HTTP status for an error kind (the auth API's mapping). */
export function kindToHttpStatus(kind: ErrorKind): number {
  return KIND_TO_STATUS[kind];
}

/** Error kind for an HTTP status; unknown statuses become `connection-problem` (5xx) or `bad-parameter`. */
export function httpStatusToKind(status: number): ErrorKind {
  for (const [kind, s] of Object.entries(KIND_TO_STATUS)) if (s === status) return kind as ErrorKind;
  if (status === 401) return 'access-denied';
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

export function fromWireError(wire: WireError): TeleportError {
  const kind = (ERROR_KINDS as readonly string[]).includes(wire.kind) ? wire.kind : 'bad-parameter';
  return new TeleportError(kind, wire.message, { code: wire.code, ...(wire.hint ? { hint: wire.hint } : {}) });
}

/** CLI exit code for an error: 1, as Teleport's CLIs do for every failure. */
export function exitCodeFor(_err: unknown): number {
  return 1;
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
