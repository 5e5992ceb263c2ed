import pg from 'pg';
import { systemClock, type Clock } from '../../clock/index.js';
import { SqlBackend, type SqlRetryOptions } from '../sql/backend.js';
import { parseConnectionString, poolConfigFor, type ConnectionEnv } from '../sql/connection.js';
import { ensureDatabase } from '../sql/database.js';
import { publishDiagnostic } from '../sql/diagnostics.js';
import { ResilientFeed } from '../sql/feed.js';
import { toTeleportError } from '../sql/errors.js';
import { openListenSession } from './changefeed.js';
import { SPILLED_EVENT_RETENTION, migratePostgres } from './schema.js';

export { CHANGE_CHANNEL, POSTGRES_MIGRATIONS, migratePostgres } from './schema.js';
export { decodeChangeEvent, parseChangeNotification, type ChangeNotification } from './payload.js';

export interface PostgresBackendOptions {
  /** `storage.conn_string`: a libpq URL or keyword string (see docs/backends.md). */
  connString: string;
  /** `storage.change_feed_conn_string`: where the LISTEN connection goes (default `connString`). */
  changeFeedConnString?: string | undefined;
  clock?: Clock;
  /** Background expiry sweep period (default 30 s; 0 disables it, `sweepExpired()` still works). */
  sweepIntervalMs?: number;
  retry?: SqlRetryOptions;
  /** Change feed reconnect backoff and probe period. */
  changeFeed?: { reconnectBaseMs?: number; reconnectMaxMs?: number; heartbeatMs?: number; heartbeatTimeoutMs?: number };
  /** Where `PGSSLROOTCERT`, `PGSSLCERT`, `PGSSLKEY`, `PGSSLMODE` are read (default `process.env`). */
  env?: ConnectionEnv;
}

/**
 * Opens the PostgreSQL backend (`storage.type: postgres`): creates the database when it is missing and
 * the role may, migrates the schema, opens the pool and the LISTEN change feed, and resolves once watchers
 * can be served.
 *
 * Every statement runs SERIALIZABLE (`default_transaction_isolation` is set on each pooled session);
 * conflicts are retried with jittered backoff (see {@link SqlBackend}). Watch events come from
 * LISTEN/NOTIFY fed by a trigger, so they arrive in commit order, never missing one while the feed is up;
 * when the feed connection breaks, every watcher is closed with a reason and the feed reconnects.
 *
 * @example
 * ```ts
 * const bk = await openPostgresBackend({
 *   connString: 'postgres://teleport@db.example.com/teleport?sslmode=verify-full&sslrootcert=/ca.pem&sslcert=/c.pem&sslkey=/k.pem',
 * });
 * ```
 */
export async function openPostgresBackend(options: PostgresBackendOptions): Promise<SqlBackend> {
  const env = options.env ?? process.env;
  const settings = parseConnectionString(options.connString, env);
  const feedSettings = options.changeFeedConnString ? parseConnectionString(options.changeFeedConnString, env) : settings;
  const { ssl } = await ensureDatabase(settings, { what: 'postgres backend', maintenanceDatabase: 'postgres' });

  const migrator = new pg.Client(poolConfigFor(settings, { ssl }));
  migrator.on('error', () => undefined);
  try {
    await migrator.connect();
    await migratePostgres(migrator);
  } catch (err) {
    throw toTeleportError(err, 'postgres backend: cannot prepare the schema');
  } finally {
    await migrator.end().catch(() => undefined);
  }

  const feedSsl =
    feedSettings === settings ? ssl : (await ensureDatabase(feedSettings, { what: 'postgres change feed', maintenanceDatabase: 'postgres' })).ssl;
  const feed = new ResilientFeed({
    kind: 'postgres',
    ...(options.changeFeed?.reconnectBaseMs !== undefined ? { reconnectBaseMs: options.changeFeed.reconnectBaseMs } : {}),
    ...(options.changeFeed?.reconnectMaxMs !== undefined ? { reconnectMaxMs: options.changeFeed.reconnectMaxMs } : {}),
    connect: (sink) =>
      openListenSession(sink, {
        clientConfig: poolConfigFor(feedSettings, {
          application_name: 'teleport-ts change feed',
          ssl: feedSsl,
        }),
        ...(options.changeFeed?.heartbeatMs !== undefined ? { heartbeatMs: options.changeFeed.heartbeatMs } : {}),
        ...(options.changeFeed?.heartbeatTimeoutMs !== undefined ? { heartbeatTimeoutMs: options.changeFeed.heartbeatTimeoutMs } : {}),
      }),
  });
  await feed.start();

  const pool = new pg.Pool(poolConfigFor(settings, { ssl, options: '-c default_transaction_isolation=serializable' }));
  // Idle pooled connections that the server drops (restart, failover) surface here; the pool discards them.
  pool.on('error', (err) => publishDiagnostic({ event: 'pool-error', backend: 'postgres', reason: err.message }));

  return new SqlBackend({
    kind: 'postgres',
    pool,
    clock: options.clock ?? systemClock,
    changeFeed: feed,
    ...(options.sweepIntervalMs !== undefined ? { sweepIntervalMs: options.sweepIntervalMs } : {}),
    ...(options.retry ? { retry: options.retry } : {}),
    afterSweep: async (client) => {
      await client.query(`DELETE FROM kv_events WHERE created < now() - interval '${SPILLED_EVENT_RETENTION}'`);
    },
  });
}
