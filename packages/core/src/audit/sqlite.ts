import { closeSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { systemClock, type Clock } from '../clock/index.js';
import { ConnectionProblemError } from '../errors/index.js';
import { toPage, type PageRow } from './page.js';
import { checkSweepInterval, retentionCutoff, startSweeper } from './retention.js';
import type { AuditEvent, AuditEventStore, AuditStoreCommonOptions, SearchEventsRequest, SearchEventsResult } from './types.js';
import { checkDate, checkRetentionDays, checkSearchRequest, toEventRow, type EventRow } from './validate.js';

/** Options of {@link openSqliteAuditStore}. */
export interface SqliteAuditStoreOptions extends AuditStoreCommonOptions {
  /** The database file, e.g. `/var/lib/teleport/log/events.db`; its directory is created (0700). */
  path: string;
  /** How long a write waits for another connection's lock before failing, ms. Default 10 s. */
  busyTimeoutMs?: number | undefined;
}

/** File name of the sqlite audit database inside Teleport's `<data_dir>/log` directory. */
export const SQLITE_EVENTS_FILE = 'events.db';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS audit_events (
  event_id   TEXT    NOT NULL PRIMARY KEY,
  event_time INTEGER NOT NULL,
  event_type TEXT    NOT NULL,
  event_data TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_events_time_idx ON audit_events (event_time, event_id);
CREATE INDEX IF NOT EXISTS audit_events_type_time_idx ON audit_events (event_type, event_time, event_id);
`;

/** Rows deleted per statement, so that a large retention sweep does not hold the write lock for long. */
const DELETE_BATCH = 5_000;

interface Row {
  event_id: string;
  event_time: number;
  event_data: string;
}

/**
 * Opens (creating if needed) an audit event store in a sqlite file, in WAL mode with a busy timeout so
 * that several processes can share it.
 *
 * @example
 * ```ts
 * const store = await openSqliteAuditStore({ path: '/var/lib/teleport/log/events.db', retentionDays: 365 });
 * await store.emit(newAuditEvent('userCreate', { user: 'admin', name: 'alice' }));
 * ```
 */
export async function openSqliteAuditStore(options: SqliteAuditStoreOptions): Promise<AuditEventStore> {
  const clock = options.clock ?? systemClock;
  const retentionDays = checkRetentionDays(options.retentionDays);
  const sweepIntervalMs = checkSweepInterval(options.sweepIntervalMs);
  const file = path.resolve(options.path);
  const busyTimeoutMs = options.busyTimeoutMs ?? 10_000;
  const { default: Database } = await import('better-sqlite3');
  let db: BetterSqlite3.Database | undefined;
  try {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    // The log holds every query users ran: create the file ourselves so it is private (sqlite gives -wal and -shm
    // the same mode), as the backend's.
    closeSync(openSync(file, 'a', 0o600));
    db = new Database(file, { timeout: busyTimeoutMs });
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec(SCHEMA);
  } catch (err) {
    db?.close();
    throw new ConnectionProblemError(`failed to open the audit database ${file}: ${(err as Error).message}`, { cause: err });
  }

  return newSqliteStore(db, { file, clock, retentionDays, sweepIntervalMs });
}

function newSqliteStore(
  db: BetterSqlite3.Database,
  config: { file: string; clock: Clock; retentionDays: number | undefined; sweepIntervalMs: number },
): AuditEventStore {
  const insert = db.prepare(
    'INSERT INTO audit_events (event_id, event_time, event_type, event_data) VALUES (?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING',
  );
  const s: SqliteAuditState = {
    db,
    file: config.file,
    clock: config.clock,
    retentionDays: config.retentionDays,
    insert,
    // One transaction (one WAL commit) for a whole batch instead of one per event.
    insertMany: db.transaction((rows: readonly EventRow[]) => {
      for (const row of rows) insert.run(row.uid, row.timeMs, row.type, row.json);
    }),
    deleteBatch: db.prepare('DELETE FROM audit_events WHERE event_id IN (SELECT event_id FROM audit_events WHERE event_time < ? LIMIT ?)'),
    searches: new Map(),
    closed: false,
    stopSweeper: () => {},
  };
  const store: AuditEventStore = {
    emit: async (event) => emit(s, event),
    emitMany: async (events) => emitMany(s, events),
    search: async (request) => search(s, request),
    deleteOlderThan: (date) => deleteOlderThan(s, date),
    sweep: () => sweep(s),
    close: async () => close(s),
  };
  if (s.retentionDays !== undefined) {
    s.stopSweeper = startSweeper({ store: `sqlite:${s.file}`, intervalMs: config.sweepIntervalMs, sweep: () => store.sweep() });
  }
  return store;
}

/** One open sqlite audit store. */
interface SqliteAuditState {
  readonly db: BetterSqlite3.Database;
  readonly file: string;
  readonly clock: Clock;
  readonly retentionDays: number | undefined;
  readonly insert: BetterSqlite3.Statement<[string, number, string, string]>;
  readonly insertMany: BetterSqlite3.Transaction<(rows: readonly EventRow[]) => void>;
  readonly deleteBatch: BetterSqlite3.Statement<[number, number]>;
  /** Search statements by shape (order, type filter, cursor), prepared on first use. */
  readonly searches: Map<string, BetterSqlite3.Statement>;
  closed: boolean;
  stopSweeper: () => void;
}

function ensureOpen(s: SqliteAuditState): void {
  if (s.closed) throw new ConnectionProblemError('the audit event store is closed');
}

// sqlite failures here are environmental (busy past the timeout, disk full, I/O): connection problems.
function run<T>(s: SqliteAuditState, what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw new ConnectionProblemError(`${what} (audit database ${s.file}): ${(err as Error).message}`, { cause: err });
  }
}

function emit(s: SqliteAuditState, event: AuditEvent): void {
  ensureOpen(s);
  const row = toEventRow(event);
  run(s, 'failed to store an audit event', () => s.insert.run(row.uid, row.timeMs, row.type, row.json));
}

function emitMany(s: SqliteAuditState, events: readonly AuditEvent[]): void {
  ensureOpen(s);
  const rows = events.map((event) => toEventRow(event));
  if (rows.length > 0) run(s, 'failed to store audit events', () => s.insertMany(rows));
}

function searchStatement(s: SqliteAuditState, order: 'asc' | 'desc', byType: boolean, after: boolean): BetterSqlite3.Statement {
  const sqlKey = `${order}:${byType}:${after}`;
  let st = s.searches.get(sqlKey);
  if (st === undefined) {
    const dir = order === 'asc' ? 'ASC' : 'DESC';
    const cmp = order === 'asc' ? '>' : '<';
    st = s.db.prepare(
      [
        'SELECT event_id, event_time, event_data FROM audit_events',
        'WHERE event_time >= @from AND event_time < @to',
        byType ? 'AND event_type IN (SELECT value FROM json_each(@types))' : '',
        after ? `AND (event_time, event_id) ${cmp} (@afterTime, @afterUid)` : '',
        `ORDER BY event_time ${dir}, event_id ${dir}`,
        'LIMIT @limit',
      ].join(' '),
    );
    s.searches.set(sqlKey, st);
  }
  return st;
}

function search(s: SqliteAuditState, request: SearchEventsRequest): SearchEventsResult {
  ensureOpen(s);
  const q = checkSearchRequest(request);
  const byType = q.eventTypes.length > 0;
  const params: Record<string, unknown> = { from: q.fromMs, to: q.toMs, limit: q.limit + 1 };
  if (byType) params['types'] = JSON.stringify(q.eventTypes);
  if (q.after) {
    params['afterTime'] = q.after.timeMs;
    params['afterUid'] = q.after.uid;
  }
  const rows = run(s, 'failed to search audit events', () => searchStatement(s, q.order, byType, q.after !== undefined).all(params) as Row[]);
  const page: PageRow[] = rows.map((r) => ({
    event: JSON.parse(r.event_data) as AuditEvent,
    cursor: { timeMs: r.event_time, uid: r.event_id },
  }));
  return toPage(page, q.limit, q.order);
}

async function deleteOlderThan(s: SqliteAuditState, date: Date): Promise<number> {
  ensureOpen(s);
  const before = checkDate(date, 'deleteOlderThan date');
  let total = 0;
  for (;;) {
    const { changes } = run(s, 'failed to delete old audit events', () => s.deleteBatch.run(before, DELETE_BATCH));
    total += changes;
    if (changes < DELETE_BATCH) return total;
    // Let other work (and other connections) in between batches.
    await new Promise((r) => setImmediate(r));
    ensureOpen(s);
  }
}

async function sweep(s: SqliteAuditState): Promise<number> {
  if (s.retentionDays === undefined) return 0;
  return deleteOlderThan(s, retentionCutoff(s.clock.now(), s.retentionDays));
}

function close(s: SqliteAuditState): void {
  if (s.closed) return;
  s.closed = true;
  s.stopSweeper();
  s.db.close();
}
