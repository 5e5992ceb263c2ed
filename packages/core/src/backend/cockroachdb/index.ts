import pg from 'pg';
import { systemClock, type Clock } from '../../clock/index.js';
import { SqlBackend, type SqlRetryOptions } from '../sql/backend.js';
import { parseConnectionString, poolConfigFor, type ConnectionEnv } from '../sql/connection.js';
import { ensureDatabase } from '../sql/database.js';
import { publishDiagnostic } from '../sql/diagnostics.js';
import { toTeleportError } from '../sql/errors.js';
import { ResilientFeed } from '../sql/feed.js';
import { cockroachChangefeedRows, openChangefeedSession, type OpenChangefeedRows } from './changefeed.js';
import { parseHlc, type Hlc } from './changefeed-rows.js';
import { DEFAULT_TTL_JOB_CRON, migrateCockroach, validateTtlJobCron } from './schema.js';

export {
  ResolvedOrderBuffer,
  compareHlc,
  decodeChangefeedRow,
  decodeJsonBytes,
  decodeJsonTimestamp,
  parseHlc,
  type ChangefeedRow,
  type DecodedChangefeedRow,
  type Hlc,
  type TimedChange,
} from './changefeed-rows.js';
export {
  changefeedStatement,
  cockroachChangefeedRows,
  openChangefeedSession,
  type ChangefeedRowStream,
  type ChangefeedSessionOptions,
  type OpenChangefeedRows,
} from './changefeed.js';
export { COCKROACH_MIGRATIONS, DEFAULT_TTL_JOB_CRON, migrateCockroach, ttlStatement, validateTtlJobCron } from './schema.js';

export interface CockroachBackendOptions {
  /** `storage.conn_string`, e.g. `postgresql://teleport@crdb:26257/teleport?sslmode=verify-full&...`. */
  connString: string;
  /** `storage.change_feed_conn_string`: where the changefeed connection goes (default `connString`). */
  changeFeedConnString?: string | undefined;
  /** `storage.ttl_job_cron`: schedule of the row-level TTL job (default `*\/20 * * * *`). */
  ttlJobCron?: string | undefined;
  clock?: Clock;
  /**
   * Our own expiry sweep period. Default 0 (off): CockroachDB's row-level TTL deletes expired rows, and
   * reads hide them at once anyway. `sweepExpired()` works either way.
   */
  sweepIntervalMs?: number;
  retry?: SqlRetryOptions;
  changeFeed?: {
    reconnectBaseMs?: number;
    reconnectMaxMs?: number;
    /** Resolved timestamp frequency (default `1s`). */
    resolvedInterval?: string;
    resolvedTimeoutMs?: number;
    /** Replaces how the cluster time for watcher barriers is read (tests with a stand-in feed). */
    clusterTime?: () => Promise<Hlc>;
    /**
     * Replaces the changefeed row source. For tests that run this driver's SQL against PostgreSQL with a
     * stand-in feed; production code leaves it unset.
     */
    openRows?: OpenChangefeedRows;
  };
  env?: ConnectionEnv;
}

/**
 * Opens the CockroachDB backend (`storage.type: cockroachdb`): the same SQL as the PostgreSQL driver over
 * the PostgreSQL wire protocol, SERIALIZABLE with client-side retries of 40001 (`restart transaction`),
 * watch through a core changefeed whose rows are buffered and released in commit order at each resolved
 * timestamp, and expiry through row-level TTL (reads hide expired rows at once regardless).
 *
 * Written against CockroachDB's documentation; the changefeed and TTL parts have not run against a real
 * CockroachDB here (see docs/backends.md for how to run the suite against one).
 *
 * @example
 * ```ts
 * const bk = await openCockroachBackend({
 *   connString: 'postgresql://teleport@crdb.example.com:26257/teleport?sslmode=verify-full&sslrootcert=/ca.crt&sslcert=/client.crt&sslkey=/client.key',
 *   ttlJobCron: '*\/20 * * * *',
 * });
 * ```
 */
export async function openCockroachBackend(options: CockroachBackendOptions): Promise<SqlBackend> {
  const ttlJobCron = options.ttlJobCron ?? DEFAULT_TTL_JOB_CRON;
  validateTtlJobCron(ttlJobCron);
  const env = options.env ?? process.env;
  const settings = parseConnectionString(options.connString, env);
  const feedSettings = options.changeFeedConnString ? parseConnectionString(options.changeFeedConnString, env) : settings;
  const { ssl } = await ensureDatabase(settings, {
    what: 'cockroachdb backend',
    maintenanceDatabase: 'postgres',
    checkCatalog: true,
  });

  const migrator = new pg.Client(poolConfigFor(settings, { ssl }));
  migrator.on('error', () => undefined);
  try {
    await migrator.connect();
    await migrateCockroach(migrator, { ttlJobCron });
  } catch (err) {
    throw toTeleportError(err, 'cockroachdb backend: cannot prepare the schema');
  } finally {
    await migrator.end().catch(() => undefined);
  }

  const feedSsl =
    feedSettings === settings
      ? ssl
      : (await ensureDatabase(feedSettings, { what: 'cockroachdb change feed', maintenanceDatabase: 'postgres' })).ssl;
  const openRows =
    options.changeFeed?.openRows ??
    cockroachChangefeedRows({
      clientConfig: poolConfigFor(feedSettings, { ssl: feedSsl, application_name: 'teleport-ts changefeed' }),
      ...(options.changeFeed?.resolvedInterval !== undefined ? { resolvedInterval: options.changeFeed.resolvedInterval } : {}),
    });
  const pool = new pg.Pool(poolConfigFor(settings, { ssl, options: '-c default_transaction_isolation=serializable' }));
  pool.on('error', (err) => publishDiagnostic({ event: 'pool-error', backend: 'cockroachdb', reason: err.message }));
  const clusterTime =
    options.changeFeed?.clusterTime ??
    (async (): Promise<Hlc> => {
      const res = await pool.query<{ ts: string }>('SELECT cluster_logical_timestamp()::STRING AS ts');
      return parseHlc(String(res.rows[0]?.ts));
    });

  const feed = new ResilientFeed({
    kind: 'cockroachdb',
    ...(options.changeFeed?.reconnectBaseMs !== undefined ? { reconnectBaseMs: options.changeFeed.reconnectBaseMs } : {}),
    ...(options.changeFeed?.reconnectMaxMs !== undefined ? { reconnectMaxMs: options.changeFeed.reconnectMaxMs } : {}),
    connect: (sink) =>
      openChangefeedSession(sink, openRows, {
        clusterTime,
        ...(options.changeFeed?.resolvedTimeoutMs !== undefined ? { resolvedTimeoutMs: options.changeFeed.resolvedTimeoutMs } : {}),
      }),
  });
  try {
    await feed.start();
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw err;
  }

  return new SqlBackend({
    kind: 'cockroachdb',
    pool,
    clock: options.clock ?? systemClock,
    changeFeed: feed,
    sweepIntervalMs: options.sweepIntervalMs ?? 0,
    ...(options.retry ? { retry: options.retry } : {}),
  });
}
