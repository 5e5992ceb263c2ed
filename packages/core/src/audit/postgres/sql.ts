import type { SearchOrder } from '../types.js';
import type { PostgresDialect } from './connection.js';

/**
 * The SQL of the postgres and cockroachdb audit stores, as pure functions so that the CockroachDB
 * dialect is tested without a CockroachDB.
 *
 * Table `audit_events`: `event_id` (the event `uid`, primary key: inserts are idempotent),
 * `event_time` (from the event's `time`, ms precision), `event_type` (the event name), `event_data`
 * (the whole event, jsonb). `event_id` is text, not uuid, so that a uid is stored exactly as emitted.
 */
const AUDIT_TABLE = 'audit_events';

/** Quotes an SQL identifier (`"name"`, inner quotes doubled). */
function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Quotes an SQL string literal (`'text'`, inner quotes doubled). */
function quoteLiteral(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/** Statements that create the table and its indexes; each is safe to run again. */
export function schemaStatements(): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS ${AUDIT_TABLE} (
  event_id text PRIMARY KEY,
  event_time timestamptz NOT NULL,
  event_type text NOT NULL,
  event_data jsonb NOT NULL
)`,
    `CREATE INDEX IF NOT EXISTS ${AUDIT_TABLE}_time_idx ON ${AUDIT_TABLE} (event_time, event_id)`,
    `CREATE INDEX IF NOT EXISTS ${AUDIT_TABLE}_type_time_idx ON ${AUDIT_TABLE} (event_type, event_time, event_id)`,
  ];
}

/** A retention period as an SQL interval literal body: whole days when possible, else seconds. */
export function retentionInterval(retentionDays: number): string {
  return Number.isInteger(retentionDays) ? `${retentionDays} days` : `${Math.max(1, Math.round(retentionDays * 86_400))} seconds`;
}

/** Default schedule of CockroachDB's row-level TTL job (CockroachDB's own default). */
const DEFAULT_TTL_JOB_CRON = '@hourly';

/**
 * CockroachDB row-level TTL: rows expire `retentionDays` after their *event* time (not their insertion
 * time), so that the TTL job keeps exactly what `deleteOlderThan(now - retention)` would keep.
 */
export function cockroachTtlStatement(retentionDays: number, ttlJobCron: string = DEFAULT_TTL_JOB_CRON): string {
  const expression = `(event_time + INTERVAL ${quoteLiteral(retentionInterval(retentionDays))})`;
  return `ALTER TABLE ${AUDIT_TABLE} SET (ttl_expiration_expression = ${quoteLiteral(expression)}, ttl_job_cron = ${quoteLiteral(ttlJobCron)})`;
}

/** `$1` uid, `$2` time (ISO), `$3` type, `$4` event JSON. A uid already stored is left as is. */
export function insertEventSql(): string {
  return insertEventsSql(1);
}

/** Rows one {@link insertEventsSql} statement takes: 4 parameters each, well under the protocol's 65535. */
export const MAX_INSERT_ROWS = 1000;

/**
 * One statement inserting `rows` events: parameters `$4i+1..$4i+4` are row i's uid, time (ISO), type and event
 * JSON. A uid already stored (or repeated in the statement) is left as is.
 */
export function insertEventsSql(rows: number): string {
  if (!Number.isInteger(rows) || rows < 1 || rows > MAX_INSERT_ROWS) throw new TypeError(`rows must be 1 to ${MAX_INSERT_ROWS}`);
  const values = Array.from({ length: rows }, (_, i) => `($${4 * i + 1}, $${4 * i + 2}::timestamptz, $${4 * i + 3}, $${4 * i + 4}::jsonb)`);
  return `INSERT INTO ${AUDIT_TABLE} (event_id, event_time, event_type, event_data) VALUES ${values.join(', ')} ON CONFLICT (event_id) DO NOTHING`;
}

/** A search statement and the parameters it takes, in order. */
export interface SearchSql {
  text: string;
  /** Names of the parameters `$1..$n`, for the caller to fill. */
  params: Array<'from' | 'to' | 'types' | 'afterTime' | 'afterUid' | 'limit'>;
}

/**
 * One page of `[from, to)` ordered by (event_time, event_id), optionally by type and after a cursor.
 * The row comparison `(event_time, event_id) > (t, uid)` makes paging stable when times are equal.
 */
export function searchEventsSql(options: { order: SearchOrder; byType: boolean; after: boolean }): SearchSql {
  const params: SearchSql['params'] = ['from', 'to'];
  const where = ['event_time >= $1::timestamptz', 'event_time < $2::timestamptz'];
  if (options.byType) {
    params.push('types');
    where.push(`event_type = ANY($${params.length}::text[])`);
  }
  if (options.after) {
    params.push('afterTime', 'afterUid');
    const cmp = options.order === 'asc' ? '>' : '<';
    where.push(`(event_time, event_id) ${cmp} ($${params.length - 1}::timestamptz, $${params.length}::text)`);
  }
  params.push('limit');
  const dir = options.order === 'asc' ? 'ASC' : 'DESC';
  return {
    text: `SELECT event_id, event_time, event_data FROM ${AUDIT_TABLE} WHERE ${where.join(' AND ')} ORDER BY event_time ${dir}, event_id ${dir} LIMIT $${params.length}`,
    params,
  };
}

/**
 * Deletes at most `$2` events older than `$1`; callers loop until fewer are deleted, so that a large
 * sweep is many short transactions (CockroachDB limits transaction size; postgres holds fewer locks).
 */
export function deleteOlderThanSql(dialect: PostgresDialect): string {
  return dialect === 'cockroachdb'
    ? `DELETE FROM ${AUDIT_TABLE} WHERE event_time < $1::timestamptz LIMIT $2`
    : `DELETE FROM ${AUDIT_TABLE} WHERE event_id IN (SELECT event_id FROM ${AUDIT_TABLE} WHERE event_time < $1::timestamptz LIMIT $2)`;
}

/** Creates a database; on postgres a concurrent creation fails with 42P04, which callers ignore. */
export function createDatabaseSql(dialect: PostgresDialect, name: string): string {
  return dialect === 'cockroachdb' ? `CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(name)}` : `CREATE DATABASE ${quoteIdentifier(name)}`;
}

/** Databases to connect to in order to create the audit database, in order of preference. */
export function maintenanceDatabases(dialect: PostgresDialect): string[] {
  return dialect === 'cockroachdb' ? ['defaultdb', 'system'] : ['postgres', 'template1'];
}
