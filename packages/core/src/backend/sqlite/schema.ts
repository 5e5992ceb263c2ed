import type Database from 'better-sqlite3';
import { BadParameterError } from '../../errors/index.js';

/**
 * Schema migrations, applied in order on open; `backend_version` records which ran. Never edit a shipped
 * migration: append a new one.
 *
 * - `kv.key` is TEXT with the default BINARY collation, which compares UTF-8 bytes: the contract's order.
 * - `kv.expires` and `events.expires` are unix milliseconds; expiry is judged against the injected clock.
 * - `events` is the change log other processes poll. Ids are `max(id) + 1` (no AUTOINCREMENT: its
 *   sequence table costs a write per insert); because sqlite serialises writers they are assigned in
 *   commit order, a rolled-back insert leaves no gap, and pruning never deletes the newest row, so ids are
 *   never reused and a reader that finds a gap knows events were pruned before it read them.
 * - `events.created` is real time (not the injected clock) and only drives pruning.
 */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE kv (
    key TEXT NOT NULL PRIMARY KEY,
    value BLOB NOT NULL,
    expires INTEGER,
    revision TEXT NOT NULL
  );
  CREATE INDEX kv_expires ON kv (expires) WHERE expires IS NOT NULL;
  CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    type INTEGER NOT NULL,
    key TEXT NOT NULL,
    value BLOB,
    expires INTEGER,
    revision TEXT,
    created INTEGER NOT NULL
  );
  `,
];

/** The schema version this build writes. */
const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Brings the schema up to {@link SCHEMA_VERSION} in one write transaction, so two processes opening a new
 * file at once migrate it exactly once. Throws `bad-parameter` for a file written by a newer build.
 */
export function migrate(db: Database.Database, now: number): void {
  db.transaction(() => {
    db.exec('CREATE TABLE IF NOT EXISTS backend_version (version INTEGER NOT NULL PRIMARY KEY, applied INTEGER NOT NULL)');
    const row = db.prepare('SELECT max(version) AS v FROM backend_version').get() as { v: number | null };
    const current = row.v ?? 0;
    if (current > SCHEMA_VERSION) {
      throw new BadParameterError(`sqlite backend schema version ${current} is newer than this build supports (${SCHEMA_VERSION})`, {
        hint: 'upgrade teleport-ts or point storage.path at another directory',
      });
    }
    const record = db.prepare('INSERT INTO backend_version (version, applied) VALUES (?, ?)');
    for (let v = current + 1; v <= SCHEMA_VERSION; v++) {
      db.exec(MIGRATIONS[v - 1] as string);
      record.run(v, now);
    }
  }).immediate();
}
