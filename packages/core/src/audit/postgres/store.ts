import type { Pool, PoolClient } from 'pg';
import { systemClock, type Clock } from '../../clock/index.js';
import {
  AccessDeniedError,
  BadParameterError,
  ConnectionProblemError,
  NotFoundError,
  isTeleportError,
  redact,
  type TeleportError,
} from '../../errors/index.js';
import { jitteredBackoff, sleep } from '../../backend/retry.js';
import { toPage, type PageRow } from '../page.js';
import { checkSweepInterval, retentionCutoff, startSweeper } from '../retention.js';
import type { AuditEvent, AuditEventStore, AuditStoreCommonOptions, SearchEventsRequest, SearchEventsResult } from '../types.js';
import { checkDate, checkRetentionDays, checkSearchRequest, toEventRow } from '../validate.js';
import { parsePostgresUri, tlsPlans, toPoolConfig, type PostgresDialect, type PostgresUri, type TlsPlan } from './connection.js';
import {
  cockroachTtlStatement,
  createDatabaseSql,
  deleteOlderThanSql,
  insertEventSql,
  insertEventsSql,
  MAX_INSERT_ROWS,
  maintenanceDatabases,
  schemaStatements,
  searchEventsSql,
} from './sql.js';

/** Options of {@link openPostgresAuditStore}. */
export interface PostgresAuditStoreOptions extends AuditStoreCommonOptions {
  /** `postgres://`, `postgresql://` or `cockroachdb://` URI; see {@link parsePostgresUri}. */
  uri: string;
  /** Create the database when it does not exist (needs CREATEDB). Default true. */
  createDatabase?: boolean | undefined;
  /** Most connections the store opens. Default 10. */
  maxConnections?: number | undefined;
  /** CockroachDB only: schedule of the row-level TTL job when `retentionDays` is set. Default `@hourly`. */
  ttlJobCron?: string | undefined;
}

/** SQLSTATEs after which a statement is retried: serialization failure and deadlock. */
const RETRYABLE_SQLSTATES: ReadonlySet<string> = new Set(['40001', '40P01']);

/**
 * Extra SQLSTATEs retried while creating the schema: concurrent `CREATE ... IF NOT EXISTS` from several
 * processes can fail with unique_violation (23505), duplicate_table (42P07) or duplicate_object (42710).
 */
const SCHEMA_RACE_SQLSTATES: ReadonlySet<string> = new Set(['23505', '42P07', '42710']);

const MAX_ATTEMPTS = 10;
const DELETE_BATCH = 5_000;

function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** Runs `fn` again, after a jittered backoff, while it fails with one of `states`. */
async function withRetry<T>(fn: () => Promise<T>, states: ReadonlySet<string> = RETRYABLE_SQLSTATES): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const state = sqlState(err);
      if (attempt + 1 >= MAX_ATTEMPTS || state === undefined || !states.has(state)) throw err;
      await sleep(jitteredBackoff(attempt, { baseMs: 10, maxMs: 1000 }));
    }
  }
}

/** Maps a pg or network error to the error vocabulary; the message names the database but no secret. */
function toTeleportError(err: unknown, u: PostgresUri, what: string): TeleportError {
  if (isTeleportError(err)) return err;
  const state = sqlState(err);
  const detail = redact(err instanceof Error ? err.message : String(err));
  const message = `${what} (audit database ${u.redacted}): ${detail}`;
  if (state?.startsWith('28') || state === '42501') return new AccessDeniedError(message, { cause: err });
  if (state === '3D000') return new NotFoundError(message, { cause: err, hint: 'create the database, or allow the audit store to create it' });
  if (state?.startsWith('22')) return new BadParameterError(message, { cause: err });
  return new ConnectionProblemError(message, { cause: err });
}

/** Whether a failed connection attempt may fall back to the next TLS plan (libpq `prefer` / `allow`). */
function mayFallBack(u: PostgresUri, plan: TlsPlan, err: unknown): boolean {
  if (u.sslmode === 'prefer' && plan !== false) return /does not support SSL/i.test(String((err as Error)?.message));
  if (u.sslmode === 'allow' && plan === false) return sqlState(err)?.startsWith('28') === true;
  return false;
}

async function connectPool(u: PostgresUri, plans: TlsPlan[], options: { database?: string; max?: number }): Promise<Pool> {
  const { default: pg } = await import('pg');
  for (let i = 0; ; i++) {
    const plan = plans[i] as TlsPlan;
    const pool = new pg.Pool(toPoolConfig(u, plan, options));
    // An idle connection that dies (server restart) must not crash the process; the next query reconnects.
    pool.on('error', () => {});
    let client: PoolClient | undefined;
    try {
      client = await pool.connect();
      client.release();
      return pool;
    } catch (err) {
      await pool.end().catch(() => {});
      if (i + 1 >= plans.length || !mayFallBack(u, plan, err)) throw err;
    }
  }
}

async function createDatabase(u: PostgresUri, plans: TlsPlan[], name: string): Promise<void> {
  let lastErr: unknown;
  for (const maintenance of maintenanceDatabases(u.dialect)) {
    let pool: Pool;
    try {
      pool = await connectPool(u, plans, { database: maintenance, max: 1 });
    } catch (err) {
      lastErr = err;
      if (sqlState(err) === '3D000') continue;
      throw err;
    }
    try {
      await pool.query(createDatabaseSql(u.dialect, name));
      return;
    } catch (err) {
      // Created concurrently by another instance: 42P04, or 23505 when both passed the existence check.
      const state = sqlState(err);
      if (state === '42P04' || state === '23505') return;
      throw err;
    } finally {
      await pool.end().catch(() => {});
    }
  }
  throw lastErr;
}

async function ensureSchema(pool: Pool, dialect: PostgresDialect, ttl: { retentionDays: number | undefined; ttlJobCron: string | undefined }): Promise<void> {
  const states = new Set([...RETRYABLE_SQLSTATES, ...SCHEMA_RACE_SQLSTATES]);
  for (const statement of schemaStatements()) await withRetry(() => pool.query(statement), states);
  if (dialect === 'cockroachdb' && ttl.retentionDays !== undefined) {
    await withRetry(() => pool.query(cockroachTtlStatement(ttl.retentionDays as number, ttl.ttlJobCron)), states);
  }
}

/**
 * Opens an audit event store in PostgreSQL or CockroachDB (by the URI's scheme): connects, creates the
 * database when missing and allowed, creates table `audit_events` and its indexes, and, on CockroachDB
 * with `retentionDays`, configures row-level TTL (so no background sweep runs there). Statements that
 * fail with 40001/40P01 are retried with jittered backoff.
 *
 * @example
 * ```ts
 * const store = await openPostgresAuditStore({
 *   uri: 'postgresql://teleport@db.example.com/teleport_audit?sslmode=verify-full&sslrootcert=/etc/teleport/pg-ca.pem',
 *   retentionDays: 365,
 * });
 * ```
 */
export async function openPostgresAuditStore(options: PostgresAuditStoreOptions): Promise<AuditEventStore> {
  const u = parsePostgresUri(options.uri);
  const clock = options.clock ?? systemClock;
  const retentionDays = checkRetentionDays(options.retentionDays);
  const sweepIntervalMs = checkSweepInterval(options.sweepIntervalMs);
  const max = options.maxConnections ?? 10;
  if (!Number.isInteger(max) || max < 1) throw new BadParameterError('audit maxConnections must be a positive integer');
  const plans = await tlsPlans(u);
  const ttl = { retentionDays, ttlJobCron: options.ttlJobCron };

  const open = async (): Promise<Pool> => {
    const pool = await connectPool(u, plans, { max });
    try {
      await ensureSchema(pool, u.dialect, ttl);
      return pool;
    } catch (err) {
      await pool.end().catch(() => {});
      throw err;
    }
  };

  let pool: Pool;
  try {
    try {
      pool = await open();
    } catch (err) {
      // CockroachDB accepts a connection to a missing database and fails the first statement instead.
      const name = u.database ?? u.user;
      if (sqlState(err) !== '3D000' || options.createDatabase === false || name === undefined) throw err;
      await createDatabase(u, plans, name);
      pool = await open();
    }
  } catch (err) {
    throw toTeleportError(err, u, 'failed to open the audit event store');
  }
  return newSqlStore(pool, { u, clock, retentionDays, sweepIntervalMs });
}

interface Row {
  event_id: string;
  event_time: Date;
  event_data: AuditEvent;
}

function newSqlStore(
  pool: Pool,
  config: { u: PostgresUri; clock: Clock; retentionDays: number | undefined; sweepIntervalMs: number },
): AuditEventStore {
  const { u } = config;
  const s: SqlAuditState = {
    pool,
    u,
    clock: config.clock,
    retentionDays: config.retentionDays,
    insertSql: insertEventSql(),
    deleteSql: deleteOlderThanSql(u.dialect),
    closed: false,
    stopSweeper: () => {},
  };
  const store: AuditEventStore = {
    emit: (event) => emit(s, event),
    emitMany: (events) => emitMany(s, events),
    search: (request) => search(s, request),
    deleteOlderThan: (date) => deleteOlderThan(s, date),
    sweep: () => sweep(s),
    close: () => close(s),
  };
  // CockroachDB's row-level TTL job does the sweeping there.
  if (s.retentionDays !== undefined && u.dialect === 'postgres') {
    s.stopSweeper = startSweeper({
      store: `${u.dialect}:${u.host}:${u.port}/${u.database ?? ''}`,
      intervalMs: config.sweepIntervalMs,
      sweep: () => store.sweep(),
    });
  }
  return store;
}

/** One open SQL audit store. */
interface SqlAuditState {
  readonly pool: Pool;
  readonly u: PostgresUri;
  readonly clock: Clock;
  readonly retentionDays: number | undefined;
  readonly insertSql: string;
  readonly deleteSql: string;
  closed: boolean;
  stopSweeper: () => void;
}

function ensureOpen(s: SqlAuditState): void {
  if (s.closed) throw new ConnectionProblemError('the audit event store is closed');
}

async function run<T>(s: SqlAuditState, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await withRetry(fn);
  } catch (err) {
    throw toTeleportError(err, s.u, what);
  }
}

async function emit(s: SqlAuditState, event: AuditEvent): Promise<void> {
  ensureOpen(s);
  const row = toEventRow(event, { replaceNul: true });
  const time = new Date(row.timeMs).toISOString();
  await run(s, 'failed to store an audit event', () =>
    s.pool.query({ name: 'teleport-ts-audit-insert', text: s.insertSql, values: [row.uid, time, row.type, row.json] }),
  );
}

async function emitMany(s: SqlAuditState, events: readonly AuditEvent[]): Promise<void> {
  ensureOpen(s);
  const rows = events.map((event) => toEventRow(event, { replaceNul: true }));
  for (let start = 0; start < rows.length; start += MAX_INSERT_ROWS) {
    const chunk = rows.slice(start, start + MAX_INSERT_ROWS);
    const values = chunk.flatMap((row) => [row.uid, new Date(row.timeMs).toISOString(), row.type, row.json]);
    // A statement is atomic on its own: no explicit transaction for a batch that fits one statement.
    await run(s, 'failed to store audit events', () => s.pool.query({ text: insertEventsSql(chunk.length), values }));
  }
}

async function search(s: SqlAuditState, request: SearchEventsRequest): Promise<SearchEventsResult> {
  ensureOpen(s);
  const q = checkSearchRequest(request);
  const sql = searchEventsSql({ order: q.order, byType: q.eventTypes.length > 0, after: q.after !== undefined });
  const values = sql.params.map((p) => {
    switch (p) {
      case 'from':
        return new Date(q.fromMs).toISOString();
      case 'to':
        return new Date(q.toMs).toISOString();
      case 'types':
        return q.eventTypes;
      case 'afterTime':
        return new Date(q.after?.timeMs ?? 0).toISOString();
      case 'afterUid':
        return q.after?.uid ?? '';
      case 'limit':
        return q.limit + 1;
    }
  });
  const res = await run(s, 'failed to search audit events', () => s.pool.query<Row>(sql.text, values));
  const rows: PageRow[] = res.rows.map((r) => ({ event: r.event_data, cursor: { timeMs: r.event_time.getTime(), uid: r.event_id } }));
  return toPage(rows, q.limit, q.order);
}

async function deleteOlderThan(s: SqlAuditState, date: Date): Promise<number> {
  ensureOpen(s);
  const before = new Date(checkDate(date, 'deleteOlderThan date')).toISOString();
  let total = 0;
  for (;;) {
    const res = await run(s, 'failed to delete old audit events', () => s.pool.query(s.deleteSql, [before, DELETE_BATCH]));
    const n = res.rowCount ?? 0;
    total += n;
    if (n < DELETE_BATCH) return total;
    ensureOpen(s);
  }
}

async function sweep(s: SqlAuditState): Promise<number> {
  if (s.retentionDays === undefined) return 0;
  return deleteOlderThan(s, retentionCutoff(s.clock.now(), s.retentionDays));
}

async function close(s: SqlAuditState): Promise<void> {
  if (s.closed) return;
  s.closed = true;
  s.stopSweeper();
  await s.pool.end().catch(() => {});
}
