/**
 * Step 5 of a PostgreSQL session: relay each way until either side ends, with the audit tap on the client's
 * messages, byte counts, and the session cut when a lock comes into force.
 */

import type { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { TLSSocket } from 'node:tls';
import { frontendMessageTap } from '@teleport-ts/core/protocol/postgres';
import { lockSubject, type SessionGrant } from './access.js';
import { newQueryAuditor } from './query-audit.js';
import { sessionStartFailed, type PostgresEngineContext, type PostgresSession } from './session.js';

/** After the database side closed, how long the client side may take to finish before it is cut. */
const CLOSE_GRACE_MS = 5_000;

export interface RelayOptions {
  grant: SessionGrant;
  /** The database connection, the startup message already written. */
  server: TLSSocket;
  /** The server -> client Transform ({@link makeClientReady}). */
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
  if (session.phase === 'starting') sessionStartFailed(ctx, session, 'the database closed the connection during startup');
  if (session.phase === 'started') {
    ctx.audit.emit('databaseSessionEnd', { ...session.fields, bytes_from_client: bytes.fromClient, bytes_to_client: bytes.toClient });
  }
}

/** Relays the session to its end, then records its end. */
export async function relay(ctx: PostgresEngineContext, session: PostgresSession, options: RelayOptions): Promise<void> {
  const { server, toClient, grant } = options;
  const { stream: client, database } = session;
  const toServer = frontendMessageTap({ onMessage: newQueryAuditor({ audit: ctx.audit, fields: session.fields }) });
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
