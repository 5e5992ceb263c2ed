/**
 * How every hop of the database path (tsh's local proxy, the proxy, the db agent) refuses a PostgreSQL client: one
 * ErrorResponse with severity FATAL, then the end of the stream. psql prints `FATAL:  <message>` and
 * `HINT:  <hint>`. Also the one limit on how long a client may take to send its startup messages.
 */

import type { Writable } from 'node:stream';
import { isTeleportError, redact } from '../../errors/index.js';
import { PG_PROTOCOL_ERROR_CODES } from './buffer.js';
import { SQLSTATE } from './constants.js';
import { serializeErrorResponse } from './serializer.js';

/**
 * Limit on a client sending its startup messages (SSLRequest, StartupMessage or CancelRequest), on every hop: with
 * the TLS handshake before it, a client that sends nothing is cut within 30 s.
 */
export const STARTUP_TIMEOUT_MS = 20_000;

const PROTOCOL_VIOLATIONS: ReadonlySet<string> = new Set([
  PG_PROTOCOL_ERROR_CODES.malformed,
  PG_PROTOCOL_ERROR_CODES.tooLarge,
  PG_PROTOCOL_ERROR_CODES.unsupportedProtocol,
]);

/**
 * The SQLSTATE of a refusal, from the error: a malformed, oversized or unsupported message is a protocol violation
 * (`08P01`); a refusal of who the client is or of what it asked (`access-denied`, `bad-parameter`) is an invalid
 * authorization specification (`28000`); anything else (database unreachable, not found, no agent) is a connection
 * failure (`08006`).
 *
 * @example
 * ```ts
 * refusalSqlState(new AccessDeniedError('access to db denied')); // '28000'
 * ```
 */
export function refusalSqlState(err: unknown): string {
  if (!isTeleportError(err)) return SQLSTATE.connectionFailure;
  if (PROTOCOL_VIOLATIONS.has(err.code)) return SQLSTATE.protocolViolation;
  if (err.kind === 'access-denied' || err.kind === 'bad-parameter') return SQLSTATE.invalidAuthorizationSpecification;
  return SQLSTATE.connectionFailure;
}

export interface RefusalOptions {
  /**
   * What the client reads when `err` is not a TeleportError: such an error's message may hold anything (paths,
   * addresses, a driver's text), so it never reaches the client.
   */
  internalMessage: string;
  /** The SQLSTATE, when the caller knows better than the error's kind (for example: anything that fails before the startup message is a protocol violation). */
  code?: string;
}

/**
 * Refuses a PostgreSQL client: writes a FATAL ErrorResponse (SQLSTATE from {@link refusalSqlState} unless given)
 * and ends the stream. The message and hint are a TeleportError's (one line, credentials redacted), or
 * `options.internalMessage`. Does nothing to a destroyed stream.
 *
 * @returns the message sent, for the audit log and the logger.
 *
 * @example
 * ```ts
 * const reason = refuseConnection(client, err, { internalMessage: 'internal error in the proxy' });
 * audit.emit('databaseSessionStartFailure', { ...fields, success: false, error: reason });
 * ```
 */
export function refuseConnection(stream: Writable, err: unknown, options: RefusalOptions): string {
  const known = isTeleportError(err);
  const message = known ? redact(err.message) : options.internalMessage;
  const hint = known && err.hint !== undefined ? redact(err.hint) : undefined;
  if (!stream.destroyed) {
    stream.end(
      serializeErrorResponse({
        severity: 'FATAL',
        code: options.code ?? refusalSqlState(err),
        message,
        ...(hint !== undefined ? { hint } : {}),
      }),
    );
  }
  return message;
}
