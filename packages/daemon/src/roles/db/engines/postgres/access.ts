/** Step 2 of a PostgreSQL session: may this user open it? */

import type { LockSubject } from '@teleport-ts/core/types';
import type { DatabaseIdentity } from '../../authorize.js';
import type { EngineContext } from '../engine.js';
import type { PostgresSession } from './session.js';

/** What a session was granted: who, and the database user, name and startup parameters it connects with. */
export interface SessionGrant {
  who: DatabaseIdentity;
  dbUser: string;
  dbName: string;
  /** The StartupMessage parameters sent to the database. */
  parameters: Record<string, string>;
}

/** Who a session is, as locks see it. */
export function lockSubject(ctx: Pick<EngineContext, 'hostId'>, who: DatabaseIdentity): LockSubject {
  return { user: who.identity.username, roles: who.identity.roles, logins: who.identity.logins, serverId: ctx.hostId };
}

/**
 * Verifies the forwarded certificate again, settles the database user and name, checks the roles (`db_labels`,
 * `db_users`, `db_names`) and the locks in force. Fills the session's audit fields as it learns them, so a refusal
 * is recorded with what was known.
 *
 * @throws AccessDeniedError (or what verification throws) when the session may not start.
 */
export async function checkAccess(ctx: EngineContext, session: PostgresSession): Promise<SessionGrant> {
  const { database, meta, startup, fields } = session;
  const who = await ctx.authorizer.verifyIdentity(meta.identity.cert, database);
  fields['user'] = who.identity.username;
  fields['db_user'] = startup.parameters['user'] ?? who.route.username;
  fields['db_name'] = startup.parameters['database'] ?? who.route.database;
  const grant = await ctx.authorizer.authorize(who, database, startup.parameters);
  ctx.locks.assertNotLocked(lockSubject(ctx, who));
  fields['db_user'] = grant.dbUser;
  fields['db_name'] = grant.dbName;
  fields['db_roles'] = [...who.identity.roles];
  return { who, ...grant };
}
