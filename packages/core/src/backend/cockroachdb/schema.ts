import type pg from 'pg';
import { BadParameterError } from '../../errors/index.js';
import { jitteredBackoff, sleep } from '../retry.js';
import { quoteLiteral } from '../sql/connection.js';
import { classifyFailure, toTeleportError } from '../sql/errors.js';
import { BACKEND_VERSION_TABLE, KV_TABLE_STATEMENTS, type Migration } from '../sql/schema.js';

/** Default schedule of CockroachDB's row-level TTL job. */
export const DEFAULT_TTL_JOB_CRON = '*/20 * * * *';

/** CockroachDB schema history: the shared `kv` table. Never edit a released step: add a new one. */
export const COCKROACH_MIGRATIONS: readonly Migration[] = [{ version: 1, statements: KV_TABLE_STATEMENTS }];

const CRON = /^[0-9*/,\- ]+$|^@(yearly|annually|monthly|weekly|daily|hourly)$/;

/** Throws `bad-parameter` unless `cron` looks like a cron schedule (five fields or an `@` macro). */
export function validateTtlJobCron(cron: string): void {
  const fields = cron.trim().split(/\s+/);
  if (!CRON.test(cron.trim()) || (!cron.startsWith('@') && fields.length !== 5)) {
    throw new BadParameterError(`storage.ttl_job_cron ${JSON.stringify(cron)} is not a cron schedule`, {
      hint: `use five cron fields, e.g. "${DEFAULT_TTL_JOB_CRON}"`,
    });
  }
}

/** The statement that makes CockroachDB delete expired rows by itself (row-level TTL, v22.2+). */
export function ttlStatement(cron: string): string {
  validateTtlJobCron(cron);
  return `ALTER TABLE kv SET (ttl_expiration_expression = 'expires', ttl_job_cron = ${quoteLiteral(cron.trim())})`;
}

/** True when the server is CockroachDB (not PostgreSQL). */
async function isCockroachDB(client: pg.ClientBase): Promise<boolean> {
  const res = await client.query<{ v: string }>('SELECT version() AS v');
  return /cockroach/i.test(res.rows[0]?.v ?? '');
}

async function withConflictRetry<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= 20 || classifyFailure(err, true) !== 'conflict') throw err;
      await sleep(jitteredBackoff(attempt, { baseMs: 20, maxMs: 1000 }));
    }
  }
}

/**
 * Creates or upgrades the schema. CockroachDB has no advisory locks and runs schema changes as jobs, so
 * every statement is idempotent (`IF NOT EXISTS`), runs on its own, and is retried on a conflict with a
 * concurrent starter; the version row is inserted with `ON CONFLICT DO NOTHING`. On CockroachDB the
 * row-level TTL is (re)applied when its schedule differs from `ttlJobCron`; on PostgreSQL (used to test
 * this SQL) that step is skipped.
 */
export async function migrateCockroach(
  client: pg.ClientBase,
  options: { ttlJobCron: string; migrations?: readonly Migration[] },
): Promise<number> {
  const migrations = options.migrations ?? COCKROACH_MIGRATIONS;
  try {
    await withConflictRetry(() => client.query(BACKEND_VERSION_TABLE));
    const res = await client.query<{ version: number }>('SELECT COALESCE(max(version), 0)::INT AS version FROM backend_version');
    let current = res.rows[0]?.version ?? 0;
    for (const m of migrations) {
      if (m.version <= current) continue;
      for (const statement of m.statements) await withConflictRetry(() => client.query(statement));
      await withConflictRetry(() =>
        client.query('INSERT INTO backend_version (version) VALUES ($1) ON CONFLICT (version) DO NOTHING', [m.version]),
      );
      current = m.version;
    }
    if (await isCockroachDB(client)) {
      const show = await client.query<{ create_statement: string }>('SHOW CREATE TABLE kv');
      const ddl = show.rows[0]?.create_statement ?? '';
      if (!ddl.includes('ttl_expiration_expression') || !ddl.includes(`ttl_job_cron = ${quoteLiteral(options.ttlJobCron.trim())}`)) {
        await withConflictRetry(() => client.query(ttlStatement(options.ttlJobCron)));
      }
    }
    return current;
  } catch (err) {
    throw toTeleportError(err, 'cockroachdb backend: schema migration failed');
  }
}
