/**
 * Step 5 of a PostgreSQL session: relay each way until either side ends, with the audit tap on the client's
 * messages, byte counts, and the session cut when a lock comes into force.
 */

import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { TLSSocket } from 'node:tls';
import { isTeleportError } from '@teleport-ts/core/errors';
import { frontendMessageTap } from '@teleport-ts/core/protocol/postgres';
import { coalesceWrites } from '@teleport-ts/core/stream';
import { lockSubject, type SessionGrant } from './access.js';
import { newQueryAuditor } from './query-audit.js';
import { sessionStartFailed, type PostgresEngineContext, type PostgresSession } from './session.js';

/** After the database side closed, how long the client side may take to finish before it is cut. */
const CLOSE_GRACE_MS = 5_000;
/**
 * After a client fault, the session ends once the client has been quiet this long (at most the drain limit): a
 * client still writing a 16 MiB message would otherwise get a reset on some hop and never read why.
 */
const FAULT_QUIET_MS = 250;
const FAULT_DRAIN_MAX_MS = 10_000;

export interface RelayOptions {
  grant: SessionGrant;
  /** The database connection, the startup message already written. */
  server: TLSSocket;
  /** The server -> client Transform ({@link makeClientReady}; it appends the fault's ErrorResponse at the end). */
  toClient: Transform;
}

/** Bytes each way, counted per chunk (not per message). */
interface ByteCounts {
  fromClient: number;
  toClient: number;
}

/** Pipes both ways; resolves once both directions are done (the client side gets a grace period after the server's). */
async function pipeBothWays(session: PostgresSession, server: TLSSocket, toServer: Transform, toClient: Transform): Promise<void> {
  const { stream: client } = session;
  const upstream = pipeline(client, toServer, server);
  const downstream = pipeline(server, toClient, client);
  // What one turn of the event loop takes from the tunnel reaches the database in one TLS write.
  coalesceWrites(toServer, server);
  upstream.catch(() => {
    // The client went away (or sent something malformed): the database session ends with it.
    server.destroy();
  });
  downstream.catch(() => client.destroy());
  await downstream.catch(() => undefined);
  // The database closed its side; give the client's side a moment to finish, then cut it.
  const grace = setTimeout(() => {
    client.destroy();
    server.destroy();
  }, CLOSE_GRACE_MS);
  await upstream.catch(() => undefined);
  clearTimeout(grace);
}

/** Records how the session ended: `db.session.end` for a session that started, a start failure for one that never did. */
function endSession(ctx: PostgresEngineContext, session: PostgresSession, bytes: ByteCounts): void {
  for (const release of session.releases) release();
  if (session.phase === 'starting') sessionStartFailed(ctx, session, session.fault ?? 'the database closed the connection during startup');
  if (session.phase === 'started') {
    ctx.audit.emit('databaseSessionEnd', {
      ...session.fields,
      bytes_from_client: bytes.fromClient,
      bytes_to_client: bytes.toClient,
      ...(session.fault !== undefined ? { error: session.fault } : {}),
    });
  }
}

/** The client sent what the tap cannot accept: the session ends (the server sees the client go), the client is told why. */
function onClientFault(ctx: PostgresEngineContext, session: PostgresSession, err: Error, toServer: Transform): void {
  session.fault = isTeleportError(err) ? err.message : 'malformed PostgreSQL message';
  ctx.logger.warn('database session ended: the client broke the protocol', { db_service: session.database.name, sid: session.sid, error: session.fault });
  const { stream: client } = session;
  const end = (): void => {
    clearTimeout(quiet);
    clearTimeout(cap);
    client.off('data', onData);
    // The server sees the client go; its close ends the other direction, where the ErrorResponse is appended.
    toServer.push(null);
  };
  const quiet = setTimeout(end, FAULT_QUIET_MS);
  const cap = setTimeout(end, FAULT_DRAIN_MAX_MS);
  const onData = (): void => void quiet.refresh();
  client.on('data', onData);
}

/** Relays the session to its end, then records its end. */
export async function relay(ctx: PostgresEngineContext, session: PostgresSession, options: RelayOptions): Promise<void> {
  const { server, toClient, grant } = options;
  const { stream: client, database } = session;
  const toServer: Transform = frontendMessageTap({
    onMessage: newQueryAuditor({ audit: ctx.audit, fields: session.fields }),
    onProtocolError: (err) => onClientFault(ctx, session, err, toServer),
  });
  const bytes: ByteCounts = { fromClient: 0, toClient: 0 };
  toServer.on('data', (chunk: Buffer) => (bytes.fromClient += chunk.length));
  toClient.on('data', (chunk: Buffer) => (bytes.toClient += chunk.length));
  // A lock that comes into force ends the session (Teleport closes the connection, as here).
  const unwatch = ctx.locks.watch(lockSubject(ctx, grant.who), (message) => {
    ctx.logger.info('database session ended: a lock is in force', { db_service: database.name, user: grant.who.identity.username, lock: message });
    client.destroy();
    server.destroy();
  });
  await pipeBothWays(session, server, toServer, toClient);
  unwatch();
  server.destroy();
  endSession(ctx, session, bytes);
}
