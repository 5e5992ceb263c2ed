/**
 * The tables both SQL drivers share. `key` is `bytea` so that ranges follow byte order; `expires` is
 * `timestamptz` (CockroachDB's row-level TTL needs a timestamptz expression); `revision` is text because
 * callers pass revisions back as opaque strings.
 */
export const KV_TABLE_STATEMENTS: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS kv (
    key BYTEA NOT NULL PRIMARY KEY,
    value BYTEA NOT NULL,
    expires TIMESTAMPTZ NULL,
    revision TEXT NOT NULL
  )`,
  `CREATE INDEX IF NOT EXISTS kv_expires ON kv (expires) WHERE expires IS NOT NULL`,
];

/** Records which migrations ran. */
export const BACKEND_VERSION_TABLE = `CREATE TABLE IF NOT EXISTS backend_version (
  version INT NOT NULL PRIMARY KEY,
  created TIMESTAMPTZ NOT NULL DEFAULT now()
)`;

/** One schema step: statements run in order, then `version` is recorded. */
export interface Migration {
  version: number;
  statements: readonly string[];
}
