/**
 * One PostgreSQL session in the agent, as a short list of named steps (Teleport's `HandleConnection`): check access,
 * connect to the database, make the client ready, relay each way. The session's state is one object that every step
 * reads and fills.
 */

import { randomUUID } from 'node:crypto';
import type { AuditEventFields } from '@teleport-ts/core/audit';
import type { CancelKeyRegistry, StartupMessage, BackendKey } from '@teleport-ts/core/protocol/postgres';
import type { DatabaseSpec } from '../../config.js';
import type { DatabaseConnection, EngineContext } from '../engine.js';

/** What a cancel key the agent issued leads to. */
export interface CancelTarget {
  database: DatabaseSpec;
  dbUser: string;
  /** The server's real key. */
  serverKey: BackendKey;
  /** Only the same Teleport user may cancel the session's queries. */
  teleportUser: string;
}

/** The agent's shared services plus what the PostgreSQL engine keeps across sessions. */
export interface PostgresEngineContext extends EngineContext {
  /** Cancel keys handed to clients, per engine (a CancelRequest reaches the engine of its database's protocol). */
  cancelKeys: CancelKeyRegistry<CancelTarget>;
}

/** The state of one session, filled step by step. */
export interface PostgresSession extends DatabaseConnection {
  readonly sid: string;
  readonly startup: StartupMessage;
  /** Fields of every audit event of the session (`user`, `db_user`, `db_name`, `db_roles` as they become known). */
  readonly fields: AuditEventFields;
  /** Session start is decided by the database: the first ReadyForQuery, or an ErrorResponse before it. */
  phase: 'starting' | 'started' | 'failed';
  /** Releases of the cancel keys issued to the client, called when the session ends. */
  readonly releases: (() => void)[];
  /**
   * Why the agent ended a session the client broke (a message over the limit, a malformed one), once known: the
   * client reads it as an ErrorResponse after the server's last bytes.
   */
  fault: string | undefined;
}

export function newPostgresSession(connection: DatabaseConnection, startup: StartupMessage): PostgresSession {
  const sid = randomUUID();
  const { database, meta } = connection;
  return {
    ...connection,
    sid,
    startup,
    fields: { sid, db_service: database.name, db_protocol: database.protocol, db_uri: database.uri, 'addr.remote': meta.clientAddr },
    phase: 'starting',
    releases: [],
    fault: undefined,
  };
}

/** Records a session that did not start (`db.session.start`, success false). */
export function sessionStartFailed(ctx: Pick<EngineContext, 'audit'>, session: PostgresSession, reason: string): void {
  ctx.audit.emit('databaseSessionStartFailure', { ...session.fields, success: false, error: reason });
}
