import { describe, expect, it } from 'vitest';
import { usePostgres } from '@teleport-ts/testkit';
import { openCockroachAuditStore } from '../../src/audit/index.js';
import { toCockroachUri } from '../../src/audit/cockroachdb.js';
import {
  cockroachTtlStatement,
  createDatabaseSql,
  deleteOlderThanSql,
  insertEventSql,
  maintenanceDatabases,
  retentionInterval,
  schemaStatements,
  searchEventsSql,
} from '../../src/audit/postgres/sql.js';
import { eventAt, runAuditStoreCompliance } from './compliance.js';

const COCKROACH_URL = process.env['TELEPORT_TS_TEST_COCKROACHDB_URL'];

describe('cockroachdb audit SQL', () => {
  it('creates the table and indexes with portable DDL', () => {
    expect(schemaStatements().map((s) => s.replace(/\s+/g, ' '))).toEqual([
      'CREATE TABLE IF NOT EXISTS audit_events ( event_id text PRIMARY KEY, event_time timestamptz NOT NULL, event_type text NOT NULL, event_data jsonb NOT NULL )',
      'CREATE INDEX IF NOT EXISTS audit_events_time_idx ON audit_events (event_time, event_id)',
      'CREATE INDEX IF NOT EXISTS audit_events_type_time_idx ON audit_events (event_type, event_time, event_id)',
    ]);
  });

  it('expires rows by event time with row-level TTL', () => {
    expect(cockroachTtlStatement(30)).toBe(
      "ALTER TABLE audit_events SET (ttl_expiration_expression = '(event_time + INTERVAL ''30 days'')', ttl_job_cron = '@hourly')",
    );
    expect(cockroachTtlStatement(0.5, '*/15 * * * *')).toBe(
      "ALTER TABLE audit_events SET (ttl_expiration_expression = '(event_time + INTERVAL ''43200 seconds'')', ttl_job_cron = '*/15 * * * *')",
    );
    expect(cockroachTtlStatement(1, "@daily'; DROP TABLE x; --")).toContain("ttl_job_cron = '@daily''; DROP TABLE x; --'");
    expect(retentionInterval(365)).toBe('365 days');
    expect(retentionInterval(1e-9)).toBe('1 seconds');
  });

  it('inserts idempotently, deletes in LIMITed batches, creates the database if not exists', () => {
    expect(insertEventSql()).toBe(
      'INSERT INTO audit_events (event_id, event_time, event_type, event_data) VALUES ($1, $2::timestamptz, $3, $4::jsonb) ON CONFLICT (event_id) DO NOTHING',
    );
    expect(deleteOlderThanSql('cockroachdb')).toBe('DELETE FROM audit_events WHERE event_time < $1::timestamptz LIMIT $2');
    expect(deleteOlderThanSql('postgres')).toBe(
      'DELETE FROM audit_events WHERE event_id IN (SELECT event_id FROM audit_events WHERE event_time < $1::timestamptz LIMIT $2)',
    );
    expect(createDatabaseSql('cockroachdb', 'audit"x')).toBe('CREATE DATABASE IF NOT EXISTS "audit""x"');
    expect(createDatabaseSql('postgres', 'audit')).toBe('CREATE DATABASE "audit"');
    expect(maintenanceDatabases('cockroachdb')).toEqual(['defaultdb', 'system']);
  });

  it('searches by (event_time, event_id) row comparison with numbered parameters', () => {
    expect(searchEventsSql({ order: 'asc', byType: false, after: false })).toEqual({
      text: 'SELECT event_id, event_time, event_data FROM audit_events WHERE event_time >= $1::timestamptz AND event_time < $2::timestamptz ORDER BY event_time ASC, event_id ASC LIMIT $3',
      params: ['from', 'to', 'limit'],
    });
    expect(searchEventsSql({ order: 'desc', byType: true, after: true })).toEqual({
      text: 'SELECT event_id, event_time, event_data FROM audit_events WHERE event_time >= $1::timestamptz AND event_time < $2::timestamptz AND event_type = ANY($3::text[]) AND (event_time, event_id) < ($4::timestamptz, $5::text) ORDER BY event_time DESC, event_id DESC LIMIT $6',
      params: ['from', 'to', 'types', 'afterTime', 'afterUid', 'limit'],
    });
    expect(searchEventsSql({ order: 'asc', byType: false, after: true }).text).toContain('AND (event_time, event_id) > ($3::timestamptz, $4::text) ORDER BY');
  });

  it('rewrites postgres URIs to the cockroachdb dialect', () => {
    expect(toCockroachUri('postgresql://root@crdb:26257/audit?sslmode=verify-full')).toBe('cockroachdb://root@crdb:26257/audit?sslmode=verify-full');
    expect(toCockroachUri('postgres://root@crdb/audit')).toBe('cockroachdb://root@crdb/audit');
    expect(toCockroachUri('cockroachdb://root@crdb/audit')).toBe('cockroachdb://root@crdb/audit');
    expect(() => toCockroachUri('mysql://root:pw@crdb/audit')).toThrow(expect.objectContaining({ kind: 'bad-parameter' }));
  });
});

describe('cockroachdb dialect wiring, observed on a real PostgreSQL', () => {
  const pg = usePostgres();

  it('sends the CockroachDB-only statements (which PostgreSQL refuses)', async () => {
    await pg.server.createDatabase('crdb_dialect');
    const uri = pg.server.url('crdb_dialect', { sslmode: 'disable' });
    // Without retention the portable part works: schema, insert, search.
    const store = await openCockroachAuditStore({ uri: uri.replace(/^postgres:/, 'postgresql:') });
    try {
      const ev = eventAt(0);
      await store.emit(ev);
      expect((await store.search({ from: new Date(0), to: new Date('2100-01-01'), limit: 5, order: 'asc' })).events).toEqual([ev]);
      // DELETE ... LIMIT is CockroachDB syntax.
      await expect(store.deleteOlderThan(new Date())).rejects.toThrow(/syntax error at or near "LIMIT"/);
    } finally {
      await store.close();
    }
    // With retention, the row-level TTL storage parameter is set on open.
    await expect(openCockroachAuditStore({ uri, retentionDays: 30 })).rejects.toThrow(/ttl_expiration_expression/);
  });
});

// Defined only when a real CockroachDB is configured, so a run without one reports no skipped tests.
if (COCKROACH_URL !== undefined) describe('cockroachdb audit store (TELEPORT_TS_TEST_COCKROACHDB_URL)', () => {
  let n = 0;
  runAuditStoreCompliance<string>('cockroachdb', () => ({
    newLocation: async () => {
      const url = new URL(COCKROACH_URL as string);
      url.pathname = `/audit_${process.pid}_${Date.now()}_${++n}`;
      return url.toString();
    },
    open: (uri, options) => openCockroachAuditStore({ uri, ...options, sweepIntervalMs: 0 }),
    storedNul: (s) => s.replaceAll('\u0000', '\uFFFD'),
  }));
});
if (COCKROACH_URL === undefined) {
  process.stderr.write('not running the real-CockroachDB audit cases: set TELEPORT_TS_TEST_COCKROACHDB_URL to a CockroachDB connection URL to run them\n');
}
