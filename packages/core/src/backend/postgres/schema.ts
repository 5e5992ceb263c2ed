import type pg from 'pg';
import { toTeleportError } from '../sql/errors.js';
import { BACKEND_VERSION_TABLE, KV_TABLE_STATEMENTS, type Migration } from '../sql/schema.js';

/** The NOTIFY channel every change of `kv` is announced on (channels are per database). */
export const CHANGE_CHANNEL = 'teleport_kv_changes';

/**
 * NOTIFY payloads must stay under 8000 bytes; events whose JSON is longer go to `kv_events` and the
 * notification carries `@<id>` instead.
 */
const MAX_INLINE_PAYLOAD_BYTES = 7900;

/** How long spilled events stay in `kv_events` before the sweep prunes them. */
export const SPILLED_EVENT_RETENTION = '10 minutes';

/** Any fixed number: the advisory lock that serializes migrations between processes. */
const MIGRATION_LOCK_ID = 7_361_026_245_310_221;

/**
 * The trigger that turns every committed row change of `kv` into a notification. PostgreSQL delivers
 * notifications only for committed transactions, in commit order, so the listener sees exactly the
 * committed history. Keys and values travel base64-encoded; the expiry as epoch milliseconds.
 */
const NOTIFY_FUNCTION = `CREATE OR REPLACE FUNCTION kv_notify_change() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  payload text;
  spilled_id bigint;
BEGIN
  IF TG_OP = 'DELETE' THEN
    payload := json_build_object(
      't', 'd',
      'k', translate(encode(OLD.key, 'base64'), E'\\n', ''),
      'r', OLD.revision)::text;
  ELSE
    payload := json_build_object(
      't', 'p',
      'k', translate(encode(NEW.key, 'base64'), E'\\n', ''),
      'v', translate(encode(NEW.value, 'base64'), E'\\n', ''),
      'e', round(extract(epoch FROM NEW.expires) * 1000)::bigint,
      'r', NEW.revision)::text;
  END IF;
  IF octet_length(payload) > ${MAX_INLINE_PAYLOAD_BYTES} THEN
    INSERT INTO kv_events (payload) VALUES (payload) RETURNING id INTO spilled_id;
    payload := '@' || spilled_id::text;
  END IF;
  PERFORM pg_notify('${CHANGE_CHANNEL}', payload);
  RETURN NULL;
END
$fn$`;

/** PostgreSQL schema history. Never edit a released step: add a new one. */
export const POSTGRES_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    statements: [
      ...KV_TABLE_STATEMENTS,
      `CREATE TABLE IF NOT EXISTS kv_events (
        id BIGSERIAL NOT NULL PRIMARY KEY,
        created TIMESTAMPTZ NOT NULL DEFAULT now(),
        payload TEXT NOT NULL
      )`,
      `CREATE INDEX IF NOT EXISTS kv_events_created ON kv_events (created)`,
      NOTIFY_FUNCTION,
      `DROP TRIGGER IF EXISTS kv_notify_change ON kv`,
      `CREATE TRIGGER kv_notify_change AFTER INSERT OR UPDATE OR DELETE ON kv
        FOR EACH ROW EXECUTE FUNCTION kv_notify_change()`,
    ],
  },
];

/**
 * Creates or upgrades the schema. Safe with several processes starting at once: the whole run holds a
 * transaction-scoped advisory lock, and each step is recorded in `backend_version` in the same transaction
 * (PostgreSQL DDL is transactional, so a step is applied entirely or not at all).
 */
export async function migratePostgres(client: pg.ClientBase, migrations: readonly Migration[] = POSTGRES_MIGRATIONS): Promise<number> {
  try {
    await client.query('BEGIN ISOLATION LEVEL READ COMMITTED');
    await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [MIGRATION_LOCK_ID]);
    await client.query(BACKEND_VERSION_TABLE);
    const res = await client.query<{ version: number }>('SELECT COALESCE(max(version), 0)::int AS version FROM backend_version');
    let current = res.rows[0]?.version ?? 0;
    for (const m of migrations) {
      if (m.version <= current) continue;
      for (const statement of m.statements) await client.query(statement);
      await client.query('INSERT INTO backend_version (version) VALUES ($1)', [m.version]);
      current = m.version;
    }
    await client.query('COMMIT');
    return current;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw toTeleportError(err, 'postgres backend: schema migration failed');
  }
}
