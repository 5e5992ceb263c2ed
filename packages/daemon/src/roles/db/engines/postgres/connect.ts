/** Step 3 of a PostgreSQL session: connect to the database as the granted user. */

import type { TLSSocket } from 'node:tls';
import { serializeStartupMessage } from '@teleport-ts/core/protocol/postgres';
import { connectToDatabase } from '../../upstream.js';
import type { EngineContext } from '../engine.js';
import type { SessionGrant } from './access.js';
import type { PostgresSession } from './session.js';

/**
 * Opens TLS to the database with a `db_client` certificate for the granted database user (see `../../upstream.ts`:
 * SSLRequest, server verified per `tls.mode` against the `db` CA or `ca_cert_file`, `tls.server_name`), then
 * replays the client's StartupMessage with the granted user and database.
 *
 * @throws ConnectionProblemError naming the database when it cannot be reached or fails verification.
 */
export async function connect(ctx: EngineContext, session: PostgresSession, grant: SessionGrant): Promise<TLSSocket> {
  const { database } = session;
  const credentials = await ctx.certs.get(database.name, grant.dbUser);
  const server = await connectToDatabase({ database, credentials, cas: ctx.cas });
  server.on('error', () => undefined);
  server.write(serializeStartupMessage({ parameters: grant.parameters, protocolVersion: session.startup.protocolVersion }));
  return server;
}
