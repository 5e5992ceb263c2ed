/**
 * The PostgreSQL engine of the db agent (Teleport's `lib/srv/db/postgres`). A connection is a short list of named
 * steps, each in its own module and testable alone:
 *
 * 1. {@link handleStartup} (`./startup.ts`): read the StartupMessage (or CancelRequest), answering SSLRequest `N`.
 * 2. {@link checkAccess} (`./access.ts`): verify the forwarded certificate, RBAC (`db_labels`, `db_users`,
 *    `db_names`), locks.
 * 3. {@link connect} (`./connect.ts`): TLS to the database with a `db_client` certificate, replay the startup.
 * 4. {@link makeClientReady} (`./ready.ts`): the database's startup phase reaches the client with a cancel key of
 *    the agent's own; the session start is recorded when the database says so.
 * 5. {@link relay} (`./relay.ts`): pipe each way, the audit tap on the client's messages, until either side ends.
 *
 * Refusals reach the client as an ErrorResponse with severity FATAL (psql prints `FATAL:  access to db denied: ...`).
 */

import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { DatabaseProtocol } from '@teleport-ts/core/config';
import { newCancelKeyRegistry, refuseConnection, SQLSTATE, type StartupMessage } from '@teleport-ts/core/protocol/postgres';
import type { DatabaseConnection, DatabaseEngine, EngineContext } from '../engine.js';
import { checkAccess, type SessionGrant } from './access.js';
import { serveCancel } from './cancel.js';
import { connect } from './connect.js';
import { makeClientReady } from './ready.js';
import { relay } from './relay.js';
import { newPostgresSession, sessionStartFailed, type CancelTarget, type PostgresEngineContext, type PostgresSession } from './session.js';
import { handleStartup, type ClientStartup } from './startup.js';

/** What the client reads when the agent fails in a way it did not expect (never the error's own text). */
const INTERNAL_ERROR_MESSAGE = 'internal error in the database service';
/** What the client reads when its startup phase failed on something that is not a TeleportError (the timeout). */
const NO_STARTUP_MESSAGE = 'no usable startup message in time';

/** Refuses a PostgreSQL client (see `refuseConnection`). */
function sendPostgresError(stream: Duplex, err: unknown): string {
  return refuseConnection(stream, err, { internalMessage: INTERNAL_ERROR_MESSAGE });
}

/** Refuses the session: tells the client, records the failed start, logs it. */
function refuseSession(ctx: PostgresEngineContext, session: PostgresSession, err: unknown, step: 'access' | 'connect'): void {
  const reason = sendPostgresError(session.stream, err);
  sessionStartFailed(ctx, session, reason);
  const { database, fields } = session;
  if (step === 'access') {
    ctx.logger.info('database session refused', { db_service: database.name, user: typeof fields['user'] === 'string' ? fields['user'] : '', reason });
  } else {
    ctx.logger.warn('could not connect to the database', { db_service: database.name, error: reason });
  }
}

/** Steps 2 to 5 for a StartupMessage. Never throws. */
async function serveSession(ctx: PostgresEngineContext, connection: DatabaseConnection, startup: StartupMessage): Promise<void> {
  const session = newPostgresSession(connection, startup);
  let grant: SessionGrant;
  try {
    grant = await checkAccess(ctx, session);
  } catch (err) {
    refuseSession(ctx, session, err, 'access');
    return;
  }
  let server: TLSSocket;
  try {
    server = await connect(ctx, session, grant);
  } catch (err) {
    refuseSession(ctx, session, err, 'connect');
    return;
  }
  await relay(ctx, session, { grant, server, toClient: makeClientReady(ctx, session, grant) });
}

/** Step 1, then a session or a cancel. Never throws. */
async function handleConnection(ctx: PostgresEngineContext, connection: DatabaseConnection): Promise<void> {
  const { stream, database } = connection;
  stream.on('error', () => undefined);
  let startup: ClientStartup;
  try {
    startup = await handleStartup(stream);
  } catch (err) {
    // Told why (a FATAL naming the limit or the fault), as on every hop.
    const reason = refuseConnection(stream, err, { internalMessage: NO_STARTUP_MESSAGE, code: SQLSTATE.protocolViolation });
    ctx.logger.info('database client sent no usable startup message', { db_service: database.name, error: reason });
    return;
  }
  if (startup.message.type === 'cancelRequest') {
    await serveCancel(ctx, connection, startup.message);
    stream.end();
    return;
  }
  await serveSession(ctx, connection, startup.message);
}

/**
 * An engine for a database speaking the PostgreSQL wire protocol (`protocol` names which: CockroachDB's engine is
 * this one, see `../cockroachdb/`). Its cancel keys are its own.
 *
 * @example
 * ```ts
 * const engine = newPostgresEngine(ctx);
 * void engine.handleConnection({ database, meta, stream });
 * ```
 */
export function newPostgresEngine(shared: EngineContext, options: { protocol?: DatabaseProtocol } = {}): DatabaseEngine {
  const ctx: PostgresEngineContext = { ...shared, cancelKeys: newCancelKeyRegistry<CancelTarget>() };
  return {
    protocol: options.protocol ?? 'postgres',
    handleConnection: (connection) => handleConnection(ctx, connection),
    sendError: sendPostgresError,
  };
}
