import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { systemClock, type Clock } from '../../clock/index.js';
import {
  AlreadyExistsError,
  BadParameterError,
  CompareFailedError,
  ConnectionProblemError,
  NotFoundError,
  isTeleportError,
} from '../../errors/index.js';
import { validateConditionalActions, validateItemInput, validateKey } from '../keys.js';
import { jitteredBackoff, sleep } from '../retry.js';
import {
  MAX_RANGE_LIMIT,
  type Backend,
  type ConditionalAction,
  type GetRangeResult,
  type Item,
  type ItemInput,
  type Lease,
  type WatchOptions,
  type Watcher,
} from '../types.js';
import { Fanout } from '../watcher.js';
import { migrate } from './schema.js';
import {
  EVENT_PUT,
  expiresMs,
  prepareStatements,
  prepareTransactions,
  PRUNE_BATCH,
  SWEEP_BATCH,
  type KvRow,
  type KvStatements,
  type KvTransactions,
} from './statements.js';

export interface SqliteBackendOptions {
  /** Directory holding `sqlite.db`; created (mode 0700) when missing. */
  path: string;
  clock?: Clock;
  /** How often the change log is polled for other processes' writes. Default 50ms. */
  pollIntervalMs?: number;
  /** How often expired items are swept (real time). Default 1s; 0 disables the background sweep. */
  sweepIntervalMs?: number;
  /** How long change-log rows are kept for slow readers (real time). Default 5 minutes. */
  eventsRetentionMs?: number;
  /** How long one statement blocks waiting for another process's write lock before backing off. Default 50ms. */
  busyTimeoutMs?: number;
  /** How long a write keeps retrying a locked database before failing with `connection-problem`. Default 30s. */
  lockRetryMs?: number;
}

/** The database file name inside {@link SqliteBackendOptions.path}. */
export const SQLITE_FILE_NAME = 'sqlite.db';

const DEFAULT_POLL_INTERVAL_MS = 50;
const DEFAULT_SWEEP_INTERVAL_MS = 1000;
const DEFAULT_EVENTS_RETENTION_MS = 5 * 60_000;
const DEFAULT_BUSY_TIMEOUT_MS = 50;
const DEFAULT_LOCK_RETRY_MS = 30_000;
/** Change-log rows read per query. */
const POLL_BATCH = 1000;
/** Prune the change log every this many sweep ticks. */
const PRUNE_EVERY_TICKS = 10;

/**
 * Opens (creating and migrating when needed) the sqlite backend in `<path>/sqlite.db`: WAL mode,
 * `synchronous=NORMAL`, writes in `BEGIN IMMEDIATE` transactions. Several processes may open the same
 * file: every change is also appended to an `events` table, which each process polls to feed its
 * watchers, so a watcher sees every process's writes in commit order.
 *
 * @example
 * ```ts
 * const bk = await openSqliteBackend({ path: '/var/lib/teleport/backend' });
 * const w = await bk.newWatcher({ prefixes: ['/nodes/'] });
 * ```
 */
export async function openSqliteBackend(options: SqliteBackendOptions): Promise<Backend> {
  if (!options.path) throw new BadParameterError('missing parameter path for the sqlite backend');
  const clock = options.clock ?? systemClock;
  const file = path.join(options.path, SQLITE_FILE_NAME);
  let db: Database.Database;
  try {
    fs.mkdirSync(options.path, { recursive: true, mode: 0o700 });
    // Create the file ourselves so it is private; sqlite gives -wal and -shm the same mode.
    fs.closeSync(fs.openSync(file, 'a', 0o600));
    db = new Database(file);
  } catch (err) {
    throw new ConnectionProblemError(`cannot open sqlite database ${file}: ${(err as Error).message}`, {
      cause: err,
      hint: 'check that storage.path (default <data_dir>/backend) is a writable directory',
    });
  }
  const lockRetryMs = options.lockRetryMs ?? DEFAULT_LOCK_RETRY_MS;
  try {
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS))}`);
    await retryWhileLocked(() => db.pragma('journal_mode = WAL'), lockRetryMs, () => false);
    db.pragma('synchronous = NORMAL');
    await retryWhileLocked(() => migrate(db, Date.now()), lockRetryMs, () => false);
  } catch (err) {
    db.close();
    throw mapError(err);
  }
  return new SqliteBackend(db, clock, options);
}

/** Runs `fn`, retrying with jittered backoff while another connection holds the lock. */
async function retryWhileLocked<T>(fn: () => T, budgetMs: number, isClosed: () => boolean): Promise<T> {
  const deadline = Date.now() + budgetMs;
  for (let attempt = 0; ; attempt++) {
    if (isClosed()) throw new ConnectionProblemError('sqlite backend is closed');
    try {
      return fn();
    } catch (err) {
      if (!isLocked(err) || Date.now() >= deadline || isClosed()) throw mapError(err);
    }
    await sleep(jitteredBackoff(attempt, { baseMs: 2, maxMs: 250 }));
  }
}

function isLocked(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
}

function mapError(err: unknown): Error {
  if (isTeleportError(err)) return err;
  if (err instanceof Database.SqliteError) {
    const msg = isLocked(err) ? 'sqlite database is locked by another process' : `sqlite: ${err.message}`;
    return new ConnectionProblemError(msg, { cause: err });
  }
  return err as Error;
}

class SqliteBackend implements Backend {
  readonly kind = 'sqlite';
  readonly clock: Clock;
  readonly #db: Database.Database;
  readonly #fanout = new Fanout();
  readonly #lockRetryMs: number;
  readonly #eventsRetentionMs: number;
  #closed = false;
  /** Id of the last change-log row emitted to watchers. */
  #cursor = 0;
  #wakeScheduled = false;
  #pollTimer: NodeJS.Timeout | undefined;
  #sweepTimer: NodeJS.Timeout | undefined;
  #sweepTicks = 0;
  #sweeping = false;
  readonly #isClosed = (): boolean => this.#closed;

  readonly #st: KvStatements;
  readonly #tx: KvTransactions;

  constructor(db: Database.Database, clock: Clock, options: SqliteBackendOptions) {
    this.#db = db;
    this.clock = clock;
    this.#lockRetryMs = options.lockRetryMs ?? DEFAULT_LOCK_RETRY_MS;
    this.#eventsRetentionMs = options.eventsRetentionMs ?? DEFAULT_EVENTS_RETENTION_MS;

    this.#st = prepareStatements(db);
    this.#tx = prepareTransactions(db, this.#st);

    this.#cursor = this.#st.lastEventId.get()?.id ?? 0;
    const pollInterval = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    this.#pollTimer = setInterval(() => this.#poll(), pollInterval);
    this.#pollTimer.unref();
    const sweepInterval = options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS;
    if (sweepInterval > 0) {
      this.#sweepTimer = setInterval(() => void this.#backgroundSweep(), sweepInterval);
      this.#sweepTimer.unref();
    }
  }

  async get(key: string): Promise<Item> {
    validateKey(key);
    const row = await this.#read(() => this.#st.get.get(key, this.#now()));
    if (!row) throw notFound(key);
    return toItem(row);
  }

  async getRange(start: string, end: string, limit?: number): Promise<GetRangeResult> {
    validateKey(start);
    validateKey(end);
    const rows = await this.#read(() => this.#st.range.all(start, end, this.#now(), clampLimit(limit)));
    return { items: rows.map(toItem) };
  }

  async create(item: ItemInput): Promise<Lease> {
    validateItemInput(item);
    const revision = newRevision();
    const expires = expiresMs(item.expires);
    const ok = await this.#write(() => this.#tx.create.immediate(item.key, item.value, expires, revision, this.#now()));
    if (!ok) throw new AlreadyExistsError(`key ${JSON.stringify(item.key)} already exists`);
    return { key: item.key, revision };
  }

  async put(item: ItemInput): Promise<Lease> {
    validateItemInput(item);
    const revision = newRevision();
    const expires = expiresMs(item.expires);
    await this.#write(() => this.#tx.put.immediate(item.key, item.value, expires, revision));
    return { key: item.key, revision };
  }

  async update(item: ItemInput): Promise<Lease> {
    validateItemInput(item);
    const revision = newRevision();
    const expires = expiresMs(item.expires);
    const ok = await this.#write(() => this.#tx.update.immediate(item.key, item.value, expires, revision, this.#now()));
    if (!ok) throw notFound(item.key);
    return { key: item.key, revision };
  }

  async compareAndSwap(expected: ItemInput, replaceWith: ItemInput): Promise<Lease> {
    validateItemInput(expected);
    validateItemInput(replaceWith);
    if (expected.key !== replaceWith.key) throw new BadParameterError('expected and replaceWith keys should match');
    const revision = newRevision();
    const expires = expiresMs(replaceWith.expires);
    const ok = await this.#write(() =>
      this.#tx.compareAndSwap.immediate(expected.key, expected.value, replaceWith.value, expires, revision, this.#now()),
    );
    if (!ok) throw new CompareFailedError(`key ${JSON.stringify(expected.key)} is missing or its value does not match`);
    return { key: replaceWith.key, revision };
  }

  async conditionalUpdate(item: ItemInput & { revision: string }): Promise<Lease> {
    validateItemInput(item);
    const revision = newRevision();
    const expires = expiresMs(item.expires);
    const ok = await this.#write(() =>
      this.#tx.conditionalUpdate.immediate(item.key, item.revision, item.value, expires, revision, this.#now()),
    );
    if (!ok) throw revisionMismatch(item.key);
    return { key: item.key, revision };
  }

  async conditionalDelete(key: string, revision: string): Promise<void> {
    validateKey(key);
    const ok = await this.#write(() => this.#tx.conditionalDelete.immediate(key, revision, this.#now()));
    if (!ok) throw revisionMismatch(key);
  }

  async delete(key: string): Promise<void> {
    validateKey(key);
    const ok = await this.#write(() => this.#tx.delete.immediate(key, this.#now()));
    if (!ok) throw notFound(key);
  }

  async deleteRange(start: string, end: string): Promise<void> {
    validateKey(start);
    validateKey(end);
    await this.#write(() => this.#tx.deleteRange.immediate(start, end));
  }

  async keepAlive(lease: Lease, expires: Date): Promise<void> {
    validateKey(lease.key);
    if (!(expires instanceof Date) || !Number.isFinite(expires.getTime())) throw new BadParameterError('expires must be a valid Date');
    const revision = lease.revision ?? '';
    const ok = await this.#write(() => this.#tx.keepAlive.immediate(lease.key, revision, expires.getTime(), this.#now()));
    if (!ok) throw notFound(lease.key);
  }

  async atomicWrite(actions: ConditionalAction[]): Promise<string> {
    validateConditionalActions(actions);
    const revision = newRevision();
    await this.#write(() => this.#tx.atomicWrite.immediate(actions, revision, this.#now()));
    return revision;
  }

  async newWatcher(options?: WatchOptions): Promise<Watcher> {
    this.#checkOpen();
    // Deliver what is committed so far to the existing watchers first: the new watcher's `init` then marks
    // exactly the current state, and it receives only later changes.
    this.#poll();
    return this.#fanout.newWatcher(options);
  }

  async sweepExpired(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.#write(() => this.#tx.sweepBatch.immediate(this.#now()));
      total += n;
      if (n < SWEEP_BATCH) return total;
      // Let other work run between batches.
      await new Promise((r) => setImmediate(r));
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#pollTimer);
    clearInterval(this.#sweepTimer);
    this.#fanout.closeAll();
    this.#db.close();
  }

  async #backgroundSweep(): Promise<void> {
    if (this.#sweeping || this.#closed) return;
    this.#sweeping = true;
    try {
      await this.sweepExpired();
      if (++this.#sweepTicks % PRUNE_EVERY_TICKS === 0) await this.#pruneEventLog();
    } catch {
      // A locked or closing database: the next tick tries again.
    } finally {
      this.#sweeping = false;
    }
  }

  async #pruneEventLog(): Promise<void> {
    for (;;) {
      const cutoff = Date.now() - this.#eventsRetentionMs;
      const n = await this.#write(() => this.#tx.pruneBatch.immediate(cutoff));
      if (n < PRUNE_BATCH) return;
      await new Promise((r) => setImmediate(r));
    }
  }

  /**
   * Emits change-log rows past the cursor to the watchers, in id (= commit) order. A gap means rows were
   * pruned before this process read them: the watchers missed events, so they are reset.
   */
  #poll(): void {
    if (this.#closed) return;
    try {
      if (this.#fanout.size === 0) {
        // Nobody listens: skip ahead instead of reading rows no one needs.
        this.#cursor = this.#st.lastEventId.get()?.id ?? 0;
        return;
      }
      for (;;) {
        const rows = this.#st.selectEvents.all(this.#cursor, POLL_BATCH);
        for (const r of rows) {
          if (r.id !== this.#cursor + 1) {
            this.#fanout.reset(new ConnectionProblemError('sqlite backend change log was pruned before this watcher read it'));
            this.#fanout.init();
            this.#cursor = this.#st.lastEventId.get()?.id ?? 0;
            return;
          }
          this.#cursor = r.id;
          if (r.type === EVENT_PUT) {
            this.#fanout.emit({
              type: 'put',
              item: {
                key: r.key,
                value: r.value ?? Buffer.alloc(0),
                expires: r.expires === null ? undefined : new Date(r.expires),
                revision: r.revision ?? '',
              },
            });
          } else {
            this.#fanout.emit({ type: 'delete', item: { key: r.key, revision: r.revision ?? '' } });
          }
        }
        if (rows.length < POLL_BATCH || this.#fanout.size === 0) return;
      }
    } catch (err) {
      if (this.#closed || isLocked(err)) return; // the next tick reads from the same cursor
      // The change log is unreadable: tell the watchers rather than leave them silently stalled.
      this.#fanout.reset(new ConnectionProblemError(`cannot read the sqlite change log: ${(err as Error).message}`, { cause: err }));
      this.#fanout.init();
    }
  }

  /** After a local commit, poll on the next turn of the event loop rather than waiting for the timer. */
  #wake(): void {
    if (this.#wakeScheduled || this.#fanout.size === 0) return;
    this.#wakeScheduled = true;
    setImmediate(() => {
      this.#wakeScheduled = false;
      this.#poll();
    });
  }

  async #write<T>(fn: () => T): Promise<T> {
    this.#checkOpen();
    let result: T;
    try {
      result = fn();
    } catch (err) {
      if (!isLocked(err)) throw mapError(err);
      result = await retryWhileLocked(fn, this.#lockRetryMs, this.#isClosed);
    }
    this.#wake();
    return result;
  }

  async #read<T>(fn: () => T): Promise<T> {
    this.#checkOpen();
    try {
      return fn();
    } catch (err) {
      if (!isLocked(err)) throw mapError(err);
      return retryWhileLocked(fn, this.#lockRetryMs, this.#isClosed);
    }
  }

  #now(): number {
    return this.clock.now().getTime();
  }

  #checkOpen(): void {
    if (this.#closed) throw new ConnectionProblemError('sqlite backend is closed');
  }
}

function toItem(row: KvRow): Item {
  return {
    key: row.key,
    value: row.value,
    expires: row.expires === null ? undefined : new Date(row.expires),
    revision: row.revision,
  };
}

function clampLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit) || limit <= 0) return MAX_RANGE_LIMIT;
  return Math.min(Math.floor(limit), MAX_RANGE_LIMIT);
}

const newRevision = (): string => randomUUID();

const notFound = (key: string): NotFoundError => new NotFoundError(`key ${JSON.stringify(key)} is not found`);

const revisionMismatch = (key: string): CompareFailedError =>
  new CompareFailedError(`key ${JSON.stringify(key)} is missing or its revision has changed`);
