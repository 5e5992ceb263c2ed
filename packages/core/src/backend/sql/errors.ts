import {
  BadParameterError,
  ConnectionProblemError,
  LimitExceededError,
  TeleportError,
  isTeleportError,
  redact,
} from '../../errors/index.js';

/**
 * What a failed database call means for a retry:
 * - `conflict`: the transaction was rolled back (serialization failure 40001, deadlock 40P01, a unique
 *   violation 23505 raced by a concurrent insert); running it again is always safe.
 * - `unavailable`: the server could not be reached or refused the session before anything was sent;
 *   running again is always safe.
 * - `ambiguous`: the connection broke (or CockroachDB said 40003) after the statement was sent: it may or
 *   may not have committed. Only idempotent operations may run again.
 * - `permanent`: anything else; retrying would fail the same way.
 */
export type FailureClass = 'conflict' | 'unavailable' | 'ambiguous' | 'permanent';

const CONFLICT_CODES = new Set(['40001', '40P01', '23505']);
/** Server states that refuse a session: starting up, shutting down, too many connections. */
const UNAVAILABLE_SERVER_CODES = new Set(['57P03', '53300', '53400']);
/** The server ended the session: admin or crash shutdown, or CockroachDB's ambiguous result. */
const AMBIGUOUS_SERVER_CODES = new Set(['57P01', '57P02', '40003']);
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ENOENT', // unix socket path missing while the server restarts
]);

/** SQLSTATE of a pg error, if any. */
export function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** True when `err` says the connection is gone (socket error, pg's own "connection terminated"). */
function isConnectionLost(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && SOCKET_CODES.has(code)) return true;
  const state = sqlState(err);
  if (state !== undefined) return state.startsWith('08') || AMBIGUOUS_SERVER_CODES.has(state);
  return /connection terminated|not queryable|connection error|timeout exceeded when trying to connect|Connection closed|server closed the connection|socket hang up/i.test(
    err.message,
  );
}

/**
 * Classifies a failure. `sent` says whether the statement may have reached the server: a failure while
 * acquiring a connection is never ambiguous.
 */
export function classifyFailure(err: unknown, sent: boolean): FailureClass {
  const state = sqlState(err);
  if (state !== undefined && CONFLICT_CODES.has(state)) return 'conflict';
  if (state !== undefined && UNAVAILABLE_SERVER_CODES.has(state)) return 'unavailable';
  if (isConnectionLost(err)) return sent ? 'ambiguous' : 'unavailable';
  return 'permanent';
}

/**
 * Turns a database failure into one of our error kinds, with credentials removed from the message.
 * Errors that already are ours pass through.
 */
export function toTeleportError(err: unknown, what: string): TeleportError {
  if (isTeleportError(err)) return err;
  const message = redact(err instanceof Error ? err.message : String(err));
  const state = sqlState(err);
  if (state === '54000') {
    return new BadParameterError(`${what}: the key or value is too large for the database index (${message})`, { cause: err });
  }
  if (state !== undefined && state.startsWith('22')) {
    return new BadParameterError(`${what}: ${message}`, { cause: err });
  }
  if (state !== undefined && CONFLICT_CODES.has(state)) {
    return new LimitExceededError(`${what}: gave up after repeated write conflicts (${message})`, {
      cause: err,
      hint: 'the key is under heavy concurrent modification; retry later',
    });
  }
  if (state === '28P01' || state === '28000') {
    return new ConnectionProblemError(`${what}: database authentication failed: ${message}`, {
      cause: err,
      hint: 'check the user, password or client certificate in storage.conn_string',
    });
  }
  return new ConnectionProblemError(`${what}: ${message}`, { cause: err });
}
