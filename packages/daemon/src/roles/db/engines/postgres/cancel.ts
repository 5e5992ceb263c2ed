/**
 * A CancelRequest the proxy forwarded: the agent sends the server's real key to the database when it issued the
 * client's key, to the same Teleport user.
 */

import { sendCancelRequest, type CancelRequest } from '@teleport-ts/core/protocol/postgres';
import type { DatabaseIdentity } from '../../authorize.js';
import { connectToDatabase } from '../../upstream.js';
import type { DatabaseConnection } from '../engine.js';
import type { PostgresEngineContext } from './session.js';

/** How long forwarding a CancelRequest to the database may take. */
const CANCEL_TIMEOUT_MS = 10_000;

/** Forwards the cancel, or drops it silently (unknown key, other user, unverifiable certificate). Never throws. */
export async function serveCancel(ctx: PostgresEngineContext, connection: DatabaseConnection, request: CancelRequest): Promise<void> {
  const { database, meta } = connection;
  const target = ctx.cancelKeys.lookup(request);
  // Unknown keys are dropped silently, as PostgreSQL does: the proxy asks every agent serving the database.
  if (target === undefined || target.database.name !== database.name) return;
  let who: DatabaseIdentity;
  try {
    who = await ctx.authorizer.verifyIdentity(meta.identity.cert, database);
  } catch {
    return;
  }
  if (who.identity.username !== target.teleportUser) {
    ctx.logger.warn('refused a cancel request for another user\'s session', { db_service: database.name, user: who.identity.username });
    return;
  }
  try {
    const credentials = await ctx.certs.get(database.name, target.dbUser);
    const socket = await connectToDatabase({ database, credentials, cas: ctx.cas });
    await sendCancelRequest(socket, target.serverKey, { signal: AbortSignal.timeout(CANCEL_TIMEOUT_MS) });
  } catch (err) {
    ctx.logger.warn('could not forward a cancel request to the database', { db_service: database.name, error: (err as Error).message });
  }
}
