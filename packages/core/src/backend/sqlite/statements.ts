/**
 * The sqlite backend's prepared statements and write transactions, built once per open database. Every write
 * transaction also appends its change to the `events` table, which each process polls to feed its watchers.
 */

import type Database from 'better-sqlite3';
import { CompareFailedError } from '../../errors/index.js';
import type { ConditionalAction } from '../types.js';

/** Change-log row type of a put. */
export const EVENT_PUT = 0;
/** Change-log row type of a delete. */
const EVENT_DELETE = 1;
/** Expired items deleted per write transaction, so a sweep never holds the write lock for long. */
export const SWEEP_BATCH = 256;
/** Change-log rows pruned per write transaction. */
export const PRUNE_BATCH = 1000;

export interface KvRow {
  key: string;
  value: Buffer;
  expires: number | null;
  revision: string;
}

interface EventRow {
  id: number;
  type: number;
  key: string;
  value: Buffer | null;
  expires: number | null;
  revision: string | null;
}

export function expiresMs(expires: Date | undefined): number | null {
  return expires === undefined ? null : expires.getTime();
}

/** Every statement the backend runs, prepared once. */
export interface KvStatements {
  get: Database.Statement<[string, number], KvRow>;
  range: Database.Statement<[string, string, number, number], KvRow>;
  upsert: Database.Statement<[string, Uint8Array, number | null, string]>;
  createIfAbsent: Database.Statement<[string, Uint8Array, number | null, string, number]>;
  updateLive: Database.Statement<[Uint8Array, number | null, string, string, number]>;
  updateIfValue: Database.Statement<[Uint8Array, number | null, string, string, Uint8Array, number]>;
  updateIfRevision: Database.Statement<[Uint8Array, number | null, string, string, string, number]>;
  deleteLive: Database.Statement<[string, number], { revision: string }>;
  deleteIfRevision: Database.Statement<[string, string, number]>;
  deleteKey: Database.Statement<[string]>;
  selectRangeKeys: Database.Statement<[string, string], { key: string; revision: string }>;
  deleteRangeRows: Database.Statement<[string, string]>;
  touch: Database.Statement<[number, string, string, string, number], { value: Buffer; revision: string }>;
  liveRevision: Database.Statement<[string, number], { revision: string }>;
  insertEvent: Database.Statement<[number, string, Uint8Array | null, number | null, string | null, number]>;
  selectEvents: Database.Statement<[number, number], EventRow>;
  lastEventId: Database.Statement<[], { id: number | null }>;
  selectExpired: Database.Statement<[number, number], { key: string; revision: string }>;
  firstEvent: Database.Statement<[], { id: number; created: number }>;
  pruneEvents: Database.Statement<[number, number, number]>;
}

/** The write transactions; each returns false when its condition did not hold. */
export interface KvTransactions {
  put: Database.Transaction<(key: string, value: Uint8Array, expires: number | null, revision: string) => void>;
  create: Database.Transaction<(key: string, value: Uint8Array, expires: number | null, revision: string, now: number) => boolean>;
  update: Database.Transaction<(key: string, value: Uint8Array, expires: number | null, revision: string, now: number) => boolean>;
  compareAndSwap: Database.Transaction<
    (key: string, expected: Uint8Array, value: Uint8Array, expires: number | null, revision: string, now: number) => boolean
  >;
  conditionalUpdate: Database.Transaction<
    (key: string, current: string, value: Uint8Array, expires: number | null, revision: string, now: number) => boolean
  >;
  conditionalDelete: Database.Transaction<(key: string, revision: string, now: number) => boolean>;
  delete: Database.Transaction<(key: string, now: number) => boolean>;
  keepAlive: Database.Transaction<(key: string, revision: string, expires: number, now: number) => boolean>;
  deleteRange: Database.Transaction<(start: string, end: string) => void>;
  atomicWrite: Database.Transaction<(actions: ConditionalAction[], revision: string, now: number) => void>;
  sweepBatch: Database.Transaction<(now: number) => number>;
  pruneBatch: Database.Transaction<(cutoff: number) => number>;
}

export function prepareStatements(db: Database.Database): KvStatements {
  const live = '(expires IS NULL OR expires > ?)';
  return {
    get: db.prepare(`SELECT key, value, expires, revision FROM kv WHERE key = ? AND ${live}`),
    range: db.prepare(`SELECT key, value, expires, revision FROM kv WHERE key >= ? AND key < ? AND ${live} ORDER BY key LIMIT ?`),
    upsert: db.prepare(
      `INSERT INTO kv (key, value, expires, revision) VALUES (?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires = excluded.expires, revision = excluded.revision`,
    ),
    // Inserts, or replaces a row only when it has expired (a live row makes `changes` 0).
    createIfAbsent: db.prepare(
      `INSERT INTO kv (key, value, expires, revision) VALUES (?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires = excluded.expires, revision = excluded.revision
       WHERE kv.expires IS NOT NULL AND kv.expires <= ?`,
    ),
    updateLive: db.prepare(`UPDATE kv SET value = ?, expires = ?, revision = ? WHERE key = ? AND ${live}`),
    updateIfValue: db.prepare(`UPDATE kv SET value = ?, expires = ?, revision = ? WHERE key = ? AND value = ? AND ${live}`),
    updateIfRevision: db.prepare(`UPDATE kv SET value = ?, expires = ?, revision = ? WHERE key = ? AND revision = ? AND ${live}`),
    deleteLive: db.prepare(`DELETE FROM kv WHERE key = ? AND ${live} RETURNING revision`),
    deleteIfRevision: db.prepare(`DELETE FROM kv WHERE key = ? AND revision = ? AND ${live}`),
    deleteKey: db.prepare('DELETE FROM kv WHERE key = ?'),
    selectRangeKeys: db.prepare('SELECT key, revision FROM kv WHERE key >= ? AND key < ? ORDER BY key'),
    deleteRangeRows: db.prepare('DELETE FROM kv WHERE key >= ? AND key < ?'),
    touch: db.prepare(`UPDATE kv SET expires = ? WHERE key = ? AND (? = '' OR revision = ?) AND ${live} RETURNING value, revision`),
    liveRevision: db.prepare(`SELECT revision FROM kv WHERE key = ? AND ${live}`),
    insertEvent: db.prepare('INSERT INTO events (type, key, value, expires, revision, created) VALUES (?, ?, ?, ?, ?, ?)'),
    selectEvents: db.prepare('SELECT id, type, key, value, expires, revision FROM events WHERE id > ? ORDER BY id LIMIT ?'),
    lastEventId: db.prepare('SELECT max(id) AS id FROM events'),
    selectExpired: db.prepare('SELECT key, revision FROM kv WHERE expires IS NOT NULL AND expires <= ? ORDER BY expires LIMIT ?'),
    firstEvent: db.prepare('SELECT id, created FROM events ORDER BY id LIMIT 1'),
    // Never the newest row: ids are max(id) + 1, and must not restart below a reader's cursor.
    pruneEvents: db.prepare('DELETE FROM events WHERE id >= ? AND id < ? AND created < ? AND id < (SELECT max(id) FROM events)'),
  };
}

/** Appends change-log rows; both run inside the caller's transaction. */
interface EventLog {
  put(key: string, value: Uint8Array, expires: number | null, revision: string): void;
  delete(key: string, revision: string): void;
}

export function prepareTransactions(db: Database.Database, st: KvStatements): KvTransactions {
  const log: EventLog = {
    put: (key, value, expires, revision) => void st.insertEvent.run(EVENT_PUT, key, value, expires, revision, Date.now()),
    delete: (key, revision) => void st.insertEvent.run(EVENT_DELETE, key, null, null, revision, Date.now()),
  };
  return { ...singleKeyTransactions(db, st, log), ...multiRowTransactions(db, st, log) };
}

type SingleKeyTransactions = Pick<
  KvTransactions,
  'put' | 'create' | 'update' | 'compareAndSwap' | 'conditionalUpdate' | 'conditionalDelete' | 'delete' | 'keepAlive'
>;

function singleKeyTransactions(db: Database.Database, st: KvStatements, log: EventLog): SingleKeyTransactions {
  return {
    put: db.transaction((key, value, expires, revision) => {
      st.upsert.run(key, value, expires, revision);
      log.put(key, value, expires, revision);
    }),
    create: db.transaction((key, value, expires, revision, now) => {
      if (st.createIfAbsent.run(key, value, expires, revision, now).changes === 0) return false;
      log.put(key, value, expires, revision);
      return true;
    }),
    update: db.transaction((key, value, expires, revision, now) => {
      if (st.updateLive.run(value, expires, revision, key, now).changes === 0) return false;
      log.put(key, value, expires, revision);
      return true;
    }),
    compareAndSwap: db.transaction((key, expected, value, expires, revision, now) => {
      if (st.updateIfValue.run(value, expires, revision, key, expected, now).changes === 0) return false;
      log.put(key, value, expires, revision);
      return true;
    }),
    conditionalUpdate: db.transaction((key, current, value, expires, revision, now) => {
      if (st.updateIfRevision.run(value, expires, revision, key, current, now).changes === 0) return false;
      log.put(key, value, expires, revision);
      return true;
    }),
    conditionalDelete: db.transaction((key, revision, now) => {
      if (st.deleteIfRevision.run(key, revision, now).changes === 0) return false;
      log.delete(key, revision);
      return true;
    }),
    delete: db.transaction((key, now) => {
      const row = st.deleteLive.get(key, now);
      if (!row) return false;
      log.delete(key, row.revision);
      return true;
    }),
    keepAlive: db.transaction((key, revision, expires, now) => {
      const row = st.touch.get(expires, key, revision, revision, now);
      if (!row) return false;
      // The revision stays: the caller's lease remains valid for the next keepAlive.
      log.put(key, row.value, expires, row.revision);
      return true;
    }),
  };
}

type MultiRowTransactions = Pick<KvTransactions, 'deleteRange' | 'atomicWrite' | 'sweepBatch' | 'pruneBatch'>;

function multiRowTransactions(db: Database.Database, st: KvStatements, log: EventLog): MultiRowTransactions {
  return {
    deleteRange: db.transaction((start, end) => {
      const rows = st.selectRangeKeys.all(start, end);
      if (rows.length === 0) return;
      st.deleteRangeRows.run(start, end);
      for (const r of rows) log.delete(r.key, r.revision);
    }),
    atomicWrite: db.transaction((actions, revision, now) => {
      checkConditions(st, actions, now);
      for (const a of actions) {
        if (a.action.kind === 'put') {
          const expires = expiresMs(a.action.item.expires);
          st.upsert.run(a.key, a.action.item.value, expires, revision);
          log.put(a.key, a.action.item.value, expires, revision);
        } else if (a.action.kind === 'delete') {
          const current = st.liveRevision.get(a.key, now);
          if (st.deleteKey.run(a.key).changes > 0) log.delete(a.key, current?.revision ?? '');
        }
      }
    }),
    sweepBatch: db.transaction((now) => {
      const rows = st.selectExpired.all(now, SWEEP_BATCH);
      for (const r of rows) {
        st.deleteKey.run(r.key);
        log.delete(r.key, r.revision);
      }
      return rows.length;
    }),
    pruneBatch: db.transaction((cutoff) => {
      const first = st.firstEvent.get();
      if (!first || first.created >= cutoff) return 0;
      return st.pruneEvents.run(first.id, first.id + PRUNE_BATCH, cutoff).changes;
    }),
  };
}

/** Throws compare-failed unless every action's condition holds (inside the atomic write's transaction). */
function checkConditions(st: KvStatements, actions: ConditionalAction[], now: number): void {
  for (const a of actions) {
    const c = a.condition;
    if (c.kind === 'whatever') continue;
    const current = st.liveRevision.get(a.key, now);
    const holds =
      (c.kind === 'exists' && current !== undefined) ||
      (c.kind === 'not-exists' && current === undefined) ||
      (c.kind === 'revision' && current !== undefined && current.revision === c.revision);
    if (!holds) throw new CompareFailedError(`condition ${c.kind} failed for key ${JSON.stringify(a.key)}`);
  }
}
