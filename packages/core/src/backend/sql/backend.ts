import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Clock } from '../../clock/index.js';
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
import type { Fanout } from '../watcher.js';
import { publishDiagnostic } from './diagnostics.js';
import { classifyFailure, sqlState, toTeleportError } from './errors.js';

/** The source of watch events of a SQL backend: LISTEN/NOTIFY on PostgreSQL, a changefeed on CockroachDB. */
export interface ChangeFeed {
  /** Watchers are served from this fanout; the feed emits into it in commit order. */
  readonly fanout: Fanout;
  /** Opens a watcher (see `ResilientFeed.newWatcher` in feed.ts). */
  newWatcher(options?: WatchOptions): Promise<Watcher>;
  /** Stops the feed and closes its connection. */
  close(): Promise<void>;
}

/** How hard a SQL backend retries. */
export interface SqlRetryOptions {
  /** Gives up retrying after this long (default 10 s); the last failure is thrown. */
  budgetMs?: number;
  /** Backoff after a serialization conflict (default 2..250 ms, jittered). */
  conflictBaseMs?: number;
  conflictMaxMs?: number;
  /** Backoff while the server is unreachable (default 50..2000 ms, jittered). */
  unavailableBaseMs?: number;
  unavailableMaxMs?: number;
}

export interface SqlBackendOptions {
  /** Driver name reported as `Backend.kind`. */
  kind: string;
  pool: pg.Pool;
  clock: Clock;
  changeFeed: ChangeFeed;
  /** How often the background sweep deletes expired rows; 0 disables it (CockroachDB's row-level TTL does it). */
  sweepIntervalMs?: number;
  /** Rows deleted per sweep statement. */
  sweepBatchSize?: number;
  retry?: SqlRetryOptions;
  /** Extra work on each sweep (pruning side tables). */
  afterSweep?: (client: pg.PoolClient) => Promise<void>;
}

const DEFAULT_SWEEP_INTERVAL_MS = 30_000;
const DEFAULT_SWEEP_BATCH_SIZE = 500;

/** A row of `kv` as `pg` returns it. */
interface KvRow {
  key: Buffer;
  value: Buffer;
  expires: Date | null;
  revision: string;
}

/**
 * The SQL both drivers run. Keys are `bytea` (byte order, as the contract wants); expiry is compared with a
 * `now` parameter from the injected clock; every write gets a fresh random revision. Each write is a single
 * statement (its own transaction) except atomic writes. The statements are plain SQL that PostgreSQL and
 * CockroachDB both accept; the change events come from elsewhere (a trigger on PostgreSQL, a changefeed on
 * CockroachDB), so the statements stay the same on both.
 */
const LIVE = '(kv.expires IS NULL OR kv.expires > $NOW::timestamptz)';
const live = (nowParam: number): string => LIVE.replace('$NOW', `$${nowParam}`);

const SQL = {
  get: `SELECT kv.value, kv.expires, kv.revision FROM kv WHERE kv.key = $1::bytea AND ${live(2)}`,
  getRevision: `SELECT kv.revision FROM kv WHERE kv.key = $1::bytea AND ${live(2)}`,
  getRange:
    `SELECT kv.key, kv.value, kv.expires, kv.revision FROM kv` +
    ` WHERE kv.key >= $1::bytea AND kv.key < $2::bytea AND ${live(3)} ORDER BY kv.key LIMIT $4::int`,
  put:
    `INSERT INTO kv (key, value, expires, revision) VALUES ($1::bytea, $2::bytea, $3::timestamptz, $4::text)` +
    ` ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires = excluded.expires, revision = excluded.revision`,
  // An expired row still in the table (not swept yet) counts as absent.
  create:
    `INSERT INTO kv (key, value, expires, revision) VALUES ($1::bytea, $2::bytea, $3::timestamptz, $4::text)` +
    ` ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires = excluded.expires, revision = excluded.revision` +
    ` WHERE kv.expires IS NOT NULL AND kv.expires <= $5::timestamptz`,
  update:
    `UPDATE kv SET value = $2::bytea, expires = $3::timestamptz, revision = $4::text WHERE kv.key = $1::bytea AND ${live(5)}`,
  compareAndSwap:
    `UPDATE kv SET value = $3::bytea, expires = $4::timestamptz, revision = $5::text` +
    ` WHERE kv.key = $1::bytea AND kv.value = $2::bytea AND ${live(6)}`,
  conditionalUpdate:
    `UPDATE kv SET value = $3::bytea, expires = $4::timestamptz, revision = $5::text` +
    ` WHERE kv.key = $1::bytea AND kv.revision = $2::text AND ${live(6)}`,
  conditionalDelete: `DELETE FROM kv WHERE kv.key = $1::bytea AND kv.revision = $2::text AND ${live(3)}`,
  delete: `DELETE FROM kv WHERE kv.key = $1::bytea AND ${live(2)}`,
  deleteRange: `DELETE FROM kv WHERE kv.key >= $1::bytea AND kv.key < $2::bytea`,
  keepAlive: `UPDATE kv SET expires = $3::timestamptz WHERE kv.key = $1::bytea AND kv.revision = $2::text AND ${live(4)}`,
  atomicRead: `SELECT kv.key, kv.revision FROM kv WHERE kv.key = ANY($1::bytea[]) AND ${live(2)}`,
  atomicPut:
    `INSERT INTO kv (key, value, expires, revision)` +
    ` SELECT t.k, t.v, t.e, $4::text FROM unnest($1::bytea[], $2::bytea[], $3::timestamptz[]) AS t(k, v, e)` +
    ` ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires = excluded.expires, revision = excluded.revision`,
  atomicDelete: `DELETE FROM kv WHERE kv.key = ANY($1::bytea[])`,
  // The outer condition is checked again on the row actually deleted, so a row refreshed meanwhile survives.
  sweep:
    `DELETE FROM kv WHERE kv.key IN (SELECT e.key FROM kv AS e WHERE e.expires IS NOT NULL AND e.expires <= $1::timestamptz LIMIT $2::int)` +
    ` AND kv.expires IS NOT NULL AND kv.expires <= $1::timestamptz`,
} as const;

/** Named prepared statements: parsed once per connection. */
function stmt(name: keyof typeof SQL, values: unknown[]): pg.QueryConfig {
  return { name: `tp_kv_${name}`, text: SQL[name], values };
}

const keyBytes = (key: string): Buffer => Buffer.from(key, 'utf8');
/** A plain `Uint8Array` view of a pg `Buffer`, so callers see the type the contract names. */
const bytesView = (buf: Buffer): Uint8Array => new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);

function rowToItem(key: string, row: Omit<KvRow, 'key'>): Item {
  return {
    key,
    value: bytesView(row.value),
    ...(row.expires ? { expires: row.expires } : {}),
    revision: row.revision,
  };
}

const expiresParam = (expires: Date | undefined): Date | null => expires ?? null;

/**
 * How an operation may be retried after an ambiguous failure (connection lost after the statement was
 * sent): `idempotent` operations run again; others may give a `recover` that decides from the database
 * whether the write happened (our revision is there) and otherwise fail with `connection-problem`.
 */
interface RunMode<T> {
  idempotent: boolean;
  recover?: () => Promise<T>;
}

/**
 * The {@link Backend} over a `pg` pool, shared by the PostgreSQL and CockroachDB drivers.
 *
 * Retries: a conflict (40001, 40P01, 23505) rolled the transaction back, so every operation runs again
 * after a jittered, capped backoff; a failure to get a connection is retried the same way; a connection
 * lost after the statement was sent is retried only for idempotent operations (get, getRange, put,
 * deleteRange, keepAlive). Conditional writes instead read the key back: if it carries the revision this
 * call wrote, the write happened; otherwise the call fails with `connection-problem` (outcome unknown),
 * never running the write a second time.
 */
export class SqlBackend implements Backend {
  readonly kind: string;
  readonly clock: Clock;
  readonly #pool: pg.Pool;
  readonly #feed: ChangeFeed;
  readonly #retry: Required<SqlRetryOptions>;
  readonly #sweepBatchSize: number;
  readonly #afterSweep: ((client: pg.PoolClient) => Promise<void>) | undefined;
  #sweepTimer: NodeJS.Timeout | undefined;
  #sweeping: Promise<number> | undefined;
  #closed = false;

  constructor(options: SqlBackendOptions) {
    this.kind = options.kind;
    this.clock = options.clock;
    this.#pool = options.pool;
    this.#feed = options.changeFeed;
    this.#retry = {
      budgetMs: options.retry?.budgetMs ?? 10_000,
      conflictBaseMs: options.retry?.conflictBaseMs ?? 2,
      conflictMaxMs: options.retry?.conflictMaxMs ?? 250,
      unavailableBaseMs: options.retry?.unavailableBaseMs ?? 50,
      unavailableMaxMs: options.retry?.unavailableMaxMs ?? 2000,
    };
    // pg-pool listens for errors only on idle clients; a connection that breaks while checked out (between
    // the statements of a transaction, or with a socket error) would otherwise be an unhandled 'error'
    // event and crash the process. The failing query rejects on its own.
    this.#pool.on('connect', (client) => {
      client.on('error', () => undefined);
    });
    this.#sweepBatchSize = options.sweepBatchSize ?? DEFAULT_SWEEP_BATCH_SIZE;
    this.#afterSweep = options.afterSweep;
    const interval = options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS;
    if (interval > 0) {
      this.#sweepTimer = setInterval(() => {
        this.sweepExpired().catch(() => {
          // reported by sweepExpired through diagnostics; the next tick tries again
        });
      }, interval);
      this.#sweepTimer.unref();
    }
  }

  /** Runs `fn` on a pooled connection, retrying as {@link SqlBackend} describes. */
  async #run<T>(op: string, mode: RunMode<T>, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.#retry.budgetMs;
    for (let attempt = 0; ; attempt++) {
      if (this.#closed) throw new ConnectionProblemError(`${this.kind} backend is closed`);
      let client: pg.PoolClient | undefined;
      let sent = false;
      try {
        client = await this.#pool.connect();
        sent = true;
        const result = await fn(client);
        client.release();
        return result;
      } catch (err) {
        if (client) {
          // A client whose connection broke must not go back to the pool.
          const broken = classifyFailure(err, true) === 'ambiguous';
          client.release(broken ? (err instanceof Error ? err : true) : undefined);
        }
        if (isTeleportError(err)) throw err;
        const failure = classifyFailure(err, sent);
        if (failure === 'permanent') throw toTeleportError(err, `${this.kind} ${op}`);
        if (failure === 'ambiguous' && !mode.idempotent) {
          if (mode.recover) return await this.#recoverAmbiguous(op, err, mode.recover);
          throw new ConnectionProblemError(
            `${this.kind} ${op}: the connection was lost while the write was in flight; it may or may not have been applied`,
            { cause: err },
          );
        }
        const conflict = failure === 'conflict';
        const delay = jitteredBackoff(attempt, {
          baseMs: conflict ? this.#retry.conflictBaseMs : this.#retry.unavailableBaseMs,
          maxMs: conflict ? this.#retry.conflictMaxMs : this.#retry.unavailableMaxMs,
        });
        if (Date.now() + delay > deadline) throw toTeleportError(err, `${this.kind} ${op}`);
        publishDiagnostic({ event: 'retry', backend: this.kind, op, attempt, failure, code: sqlState(err), delayMs: delay });
        await sleep(delay);
      }
    }
  }

  /** Decides an ambiguous conditional write from the database (the read is retried through outages). */
  async #recoverAmbiguous<T>(op: string, err: unknown, recover: () => Promise<T>): Promise<T> {
    try {
      return await recover();
    } catch (recoverErr) {
      if (recoverErr instanceof NotAppliedError) throw recoverErr;
      throw new ConnectionProblemError(
        `${this.kind} ${op}: the connection was lost while the write was in flight and reading it back failed; it may or may not have been applied`,
        { cause: err },
      );
    }
  }

  /** Reads the live revision of `key`, or `undefined`. Idempotent, so retried through outages. */
  async #currentRevision(key: string): Promise<string | undefined> {
    return await this.#run('read revision', { idempotent: true }, async (c) => {
      const res = await c.query<{ revision: string }>(stmt('getRevision', [keyBytes(key), this.clock.now()]));
      return res.rows[0]?.revision;
    });
  }

  /** A `recover` for writes that leave `revision` on `key`: `applied` when the key carries it. */
  #recoverByRevision<T>(op: string, key: string, revision: string, applied: T): () => Promise<T> {
    return async () => {
      if ((await this.#currentRevision(key)) === revision) return applied;
      throw new NotAppliedError(
        `${this.kind} ${op}: the connection was lost while the write was in flight; it was most likely not applied`,
      );
    };
  }

  async get(key: string): Promise<Item> {
    validateKey(key);
    const row = await this.#run('get', { idempotent: true }, async (c) => {
      const res = await c.query<Omit<KvRow, 'key'>>(stmt('get', [keyBytes(key), this.clock.now()]));
      return res.rows[0];
    });
    if (!row) throw new NotFoundError(`key ${JSON.stringify(key)} is not found`);
    return rowToItem(key, row);
  }

  async getRange(start: string, end: string, limit?: number): Promise<GetRangeResult> {
    validateKey(start);
    validateKey(end);
    const max = limit === undefined || limit <= 0 ? MAX_RANGE_LIMIT : Math.min(Math.floor(limit), MAX_RANGE_LIMIT);
    const rows = await this.#run('get range', { idempotent: true }, async (c) => {
      const res = await c.query<KvRow>(stmt('getRange', [keyBytes(start), keyBytes(end), this.clock.now(), max]));
      return res.rows;
    });
    return { items: rows.map((r) => rowToItem(r.key.toString('utf8'), r)) };
  }

  async create(item: ItemInput): Promise<Lease> {
    validateItemInput(item);
    const revision = randomUUID();
    const inserted = await this.#run(
      'create',
      { idempotent: false, recover: this.#recoverByRevision('create', item.key, revision, 1) },
      async (c) => {
        const res = await c.query(
          stmt('create', [keyBytes(item.key), item.value, expiresParam(item.expires), revision, this.clock.now()]),
        );
        return res.rowCount ?? 0;
      },
    );
    if (inserted === 0) throw new AlreadyExistsError(`key ${JSON.stringify(item.key)} already exists`);
    return { key: item.key, revision };
  }

  async put(item: ItemInput): Promise<Lease> {
    validateItemInput(item);
    const revision = randomUUID();
    await this.#run('put', { idempotent: true }, async (c) => {
      await c.query(stmt('put', [keyBytes(item.key), item.value, expiresParam(item.expires), revision]));
    });
    return { key: item.key, revision };
  }

  async update(item: ItemInput): Promise<Lease> {
    validateItemInput(item);
    const revision = randomUUID();
    const updated = await this.#run(
      'update',
      { idempotent: false, recover: this.#recoverByRevision('update', item.key, revision, 1) },
      async (c) => {
        const res = await c.query(
          stmt('update', [keyBytes(item.key), item.value, expiresParam(item.expires), revision, this.clock.now()]),
        );
        return res.rowCount ?? 0;
      },
    );
    if (updated === 0) throw new NotFoundError(`key ${JSON.stringify(item.key)} is not found`);
    return { key: item.key, revision };
  }

  async compareAndSwap(expected: ItemInput, replaceWith: ItemInput): Promise<Lease> {
    validateKey(expected.key);
    validateItemInput(replaceWith);
    if (expected.key !== replaceWith.key) throw new BadParameterError('expected and replaceWith keys should match');
    const revision = randomUUID();
    const key = replaceWith.key;
    const swapped = await this.#run(
      'compare and swap',
      { idempotent: false, recover: this.#recoverByRevision('compare and swap', key, revision, 1) },
      async (c) => {
        const res = await c.query(
          stmt('compareAndSwap', [
            keyBytes(key),
            expected.value,
            replaceWith.value,
            expiresParam(replaceWith.expires),
            revision,
            this.clock.now(),
          ]),
        );
        return res.rowCount ?? 0;
      },
    );
    if (swapped === 0) throw new CompareFailedError(`key ${JSON.stringify(key)} does not hold the expected value`);
    return { key, revision };
  }

  async conditionalUpdate(item: ItemInput & { revision: string }): Promise<Lease> {
    validateItemInput(item);
    if (!item.revision) throw new BadParameterError('conditional update needs the expected revision');
    const revision = randomUUID();
    const updated = await this.#run(
      'conditional update',
      {
        idempotent: false,
        recover: this.#recoverByRevision('conditional update', item.key, revision, 1),
      },
      async (c) => {
        const res = await c.query(
          stmt('conditionalUpdate', [
            keyBytes(item.key),
            item.revision,
            item.value,
            expiresParam(item.expires),
            revision,
            this.clock.now(),
          ]),
        );
        return res.rowCount ?? 0;
      },
    );
    if (updated === 0) throw new CompareFailedError(`key ${JSON.stringify(item.key)} is not at revision ${item.revision}`);
    return { key: item.key, revision };
  }

  async conditionalDelete(key: string, revision: string): Promise<void> {
    validateKey(key);
    if (!revision) throw new BadParameterError('conditional delete needs the expected revision');
    const deleted = await this.#run('conditional delete', { idempotent: false }, async (c) => {
      const res = await c.query(stmt('conditionalDelete', [keyBytes(key), revision, this.clock.now()]));
      return res.rowCount ?? 0;
    });
    if (deleted === 0) throw new CompareFailedError(`key ${JSON.stringify(key)} is not at revision ${revision}`);
  }

  async delete(key: string): Promise<void> {
    validateKey(key);
    const deleted = await this.#run('delete', { idempotent: false }, async (c) => {
      const res = await c.query(stmt('delete', [keyBytes(key), this.clock.now()]));
      return res.rowCount ?? 0;
    });
    if (deleted === 0) throw new NotFoundError(`key ${JSON.stringify(key)} is not found`);
  }

  async deleteRange(start: string, end: string): Promise<void> {
    validateKey(start);
    validateKey(end);
    await this.#run('delete range', { idempotent: true }, async (c) => {
      await c.query(stmt('deleteRange', [keyBytes(start), keyBytes(end)]));
    });
  }

  async keepAlive(lease: Lease, expires: Date): Promise<void> {
    validateKey(lease.key);
    if (!(expires instanceof Date) || Number.isNaN(expires.getTime())) throw new BadParameterError('keep alive needs a valid expiry');
    const updated = await this.#run('keep alive', { idempotent: true }, async (c) => {
      const res = await c.query(stmt('keepAlive', [keyBytes(lease.key), lease.revision, expires, this.clock.now()]));
      return res.rowCount ?? 0;
    });
    if (updated === 0) throw new NotFoundError(`key ${JSON.stringify(lease.key)} is not found or has changed`);
  }

  async atomicWrite(actions: ConditionalAction[]): Promise<string> {
    validateConditionalActions(actions);
    const revision = randomUUID();
    const puts = actions.filter((a) => a.action.kind === 'put');
    const deletes = actions.filter((a) => a.action.kind === 'delete');
    const firstPut = puts[0];
    const recover = firstPut ? this.#recoverByRevision('atomic write', firstPut.key, revision, undefined) : undefined;

    const failed = await this.#run(
      'atomic write',
      { idempotent: false, ...(recover ? { recover } : {}) },
      async (c): Promise<ConditionalAction | undefined> => {
        await c.query('BEGIN ISOLATION LEVEL SERIALIZABLE');
        try {
          const now = this.clock.now();
          const res = await c.query<{ key: Buffer; revision: string }>(
            stmt('atomicRead', [actions.map((a) => keyBytes(a.key)), now]),
          );
          const current = new Map(res.rows.map((r) => [r.key.toString('utf8'), r.revision]));
          const unmet = actions.find((a) => !conditionHolds(a, current.get(a.key)));
          if (unmet) {
            await c.query('ROLLBACK');
            return unmet;
          }
          if (puts.length > 0) {
            await c.query(
              stmt('atomicPut', [
                puts.map((a) => keyBytes(a.key)),
                puts.map((a) => (a.action.kind === 'put' ? a.action.item.value : new Uint8Array())),
                puts.map((a) => (a.action.kind === 'put' ? expiresParam(a.action.item.expires) : null)),
                revision,
              ]),
            );
          }
          if (deletes.length > 0) await c.query(stmt('atomicDelete', [deletes.map((a) => keyBytes(a.key))]));
          await c.query('COMMIT');
          return undefined;
        } catch (err) {
          // On a broken connection the server rolls back by itself; otherwise end the transaction here.
          if (classifyFailure(err, true) !== 'ambiguous') await c.query('ROLLBACK').catch(() => undefined);
          throw err;
        }
      },
    );
    if (failed) {
      throw new CompareFailedError(`atomic write condition ${failed.condition.kind} failed on key ${JSON.stringify(failed.key)}`);
    }
    return revision;
  }

  async newWatcher(options?: WatchOptions): Promise<Watcher> {
    if (this.#closed) throw new ConnectionProblemError(`${this.kind} backend is closed`);
    return await this.#feed.newWatcher(options);
  }

  /**
   * Deletes every row expired by the backend clock, in batches of `sweepBatchSize`, and returns how many.
   * Watchers see the deletes. Runs in the background every `sweepIntervalMs`; concurrent calls share one run.
   */
  sweepExpired(): Promise<number> {
    if (!this.#sweeping) {
      this.#sweeping = this.#sweep().finally(() => {
        this.#sweeping = undefined;
      });
    }
    return this.#sweeping;
  }

  async #sweep(): Promise<number> {
    let total = 0;
    try {
      for (;;) {
        if (this.#closed) break;
        const deleted = await this.#run('sweep', { idempotent: true }, async (c) => {
          const res = await c.query(stmt('sweep', [this.clock.now(), this.#sweepBatchSize]));
          return res.rowCount ?? 0;
        });
        total += deleted;
        if (deleted < this.#sweepBatchSize) break;
      }
      if (this.#afterSweep && !this.#closed) {
        const after = this.#afterSweep;
        await this.#run('sweep side tables', { idempotent: true }, async (c) => after(c));
      }
    } catch (err) {
      publishDiagnostic({ event: 'sweep-error', backend: this.kind, reason: err instanceof Error ? err.message : String(err) });
      throw err;
    }
    if (total > 0) publishDiagnostic({ event: 'sweep', backend: this.kind, deleted: total });
    return total;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#sweepTimer) clearInterval(this.#sweepTimer);
    await this.#sweeping?.catch(() => undefined);
    await this.#feed.close();
    this.#feed.fanout.closeAll();
    await this.#pool.end();
  }
}

/** An ambiguous write that the read-back shows was (most likely) not applied. */
class NotAppliedError extends ConnectionProblemError {}

function conditionHolds(action: ConditionalAction, currentRevision: string | undefined): boolean {
  const c = action.condition;
  switch (c.kind) {
    case 'whatever':
      return true;
    case 'exists':
      return currentRevision !== undefined;
    case 'not-exists':
      return currentRevision === undefined;
    case 'revision':
      return currentRevision === c.revision;
  }
}
