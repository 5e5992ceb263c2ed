import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestPki, startPostgres, usePostgres, requirePostgres, type PostgresServer, type TestPki } from '@teleport-ts/testkit';
import { openAuditStore, openPostgresAuditStore } from '../../src/audit/index.js';
import { eventAt, runAuditStoreCompliance } from './compliance.js';

const ALL = { from: new Date(0), to: new Date('2100-01-01T00:00:00Z') };

describe('postgres audit store', () => {
  const pg = usePostgres();

  let n = 0;
  runAuditStoreCompliance<string>('postgres', () => ({
    // A database that does not exist yet: the store creates it (and its schema) on open.
    newLocation: async () => pg.server.url(`audit_${process.pid}_${++n}`, { sslmode: 'disable' }),
    open: (uri, options) => openPostgresAuditStore({ uri, ...options, sweepIntervalMs: 0 }),
    storedNul: (s) => s.replaceAll('\u0000', '\uFFFD'),
  }));

  it('creates table audit_events with its indexes and stores the event as jsonb', async () => {
    const db = 'audit_schema';
    const store = await openAuditStore({ uris: [pg.server.url(db, { sslmode: 'disable' })], dataDir: '/nonexistent' });
    try {
      const ev = eventAt(0, { event: 'user.create', code: 'T1002I', name: 'bob' });
      await store.emit(ev);
      const client = await import('pg').then((m) => new m.default.Client({ connectionString: pg.server.url(db, { sslmode: 'disable' }) }));
      await client.connect();
      try {
        const cols = await client.query<{ column_name: string; data_type: string }>(
          "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'audit_events' ORDER BY ordinal_position",
        );
        expect(cols.rows).toEqual([
          { column_name: 'event_id', data_type: 'text' },
          { column_name: 'event_time', data_type: 'timestamp with time zone' },
          { column_name: 'event_type', data_type: 'text' },
          { column_name: 'event_data', data_type: 'jsonb' },
        ]);
        const idx = await client.query<{ indexname: string }>("SELECT indexname FROM pg_indexes WHERE tablename = 'audit_events' ORDER BY indexname");
        expect(idx.rows.map((r) => r.indexname)).toEqual(['audit_events_pkey', 'audit_events_time_idx', 'audit_events_type_time_idx']);
        const row = await client.query("SELECT event_type, event_data->>'name' AS name, event_time FROM audit_events WHERE event_id = $1", [ev.uid]);
        expect(row.rows[0]).toEqual({ event_type: 'user.create', name: 'bob', event_time: new Date(ev.time) });
      } finally {
        await client.end();
      }
    } finally {
      await store.close();
    }
  });

  it('sslmode prefer (also the default) falls back to plaintext when the server has no TLS', async () => {
    for (const uri of [pg.server.url('audit_prefer', { sslmode: 'prefer' }), pg.server.url('audit_prefer')]) {
      const store = await openPostgresAuditStore({ uri });
      try {
        await store.emit(eventAt(0));
      } finally {
        await store.close();
      }
    }
  });

  it('with createDatabase: false, a missing database is not-found and nothing is created', async () => {
    const uri = pg.server.url('audit_never_created', { sslmode: 'disable' });
    const err = await openPostgresAuditStore({ uri, createDatabase: false }).then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ kind: 'not-found' });
    const dbs = await pg.server.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname = 'audit_never_created'");
    expect(dbs).toEqual([]);
  });

  it('a connection failure is a connection problem whose message carries no password', async () => {
    const password = 's3cr3t-Pa55word';
    const uri = `postgres://teleport:${password}@127.0.0.1:1/audit?sslmode=disable&connect_timeout=2`;
    const err = await openAuditStore({ uris: [uri], dataDir: '/nonexistent' }).then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ kind: 'connection-problem' });
    expect(String((err as Error).message)).not.toContain(password);
    expect(String((err as Error).message)).toContain('127.0.0.1:1');
  });

  it('background retention sweep runs on its interval', async () => {
    const store = await openPostgresAuditStore({
      uri: pg.server.url('audit_sweeper', { sslmode: 'disable' }),
      retentionDays: 1,
      sweepIntervalMs: 20,
    });
    try {
      const old = eventAt(-1000 * 24 * 3600 * 1000);
      await store.emit(old);
      const deadline = Date.now() + 10_000;
      while ((await store.search({ ...ALL, limit: 10, order: 'asc' })).events.length > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      expect((await store.search({ ...ALL, limit: 10, order: 'asc' })).events).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it('with several URIs, emits to all and searches the first', async () => {
    const a = pg.server.url('audit_multi_a', { sslmode: 'disable' });
    const b = pg.server.url('audit_multi_b', { sslmode: 'disable' });
    const both = await openAuditStore({ uris: [a, b], dataDir: '/nonexistent' });
    const onlyB = await openPostgresAuditStore({ uri: b });
    try {
      const ev = eventAt(0);
      await both.emit(ev);
      expect((await both.search({ ...ALL, limit: 10, order: 'asc' })).events).toEqual([ev]);
      const late = eventAt(1);
      await onlyB.emit(late);
      expect((await both.search({ ...ALL, limit: 10, order: 'asc' })).events).toEqual([ev]);
      expect((await onlyB.search({ ...ALL, limit: 10, order: 'asc' })).events).toEqual([ev, late]);
    } finally {
      await both.close();
      await onlyB.close();
    }
  });
});

describe.skipIf(requirePostgres() === undefined)('postgres audit store over TLS (sslmode)', () => {
  let dir: string;
  let pki: TestPki;
  let server: PostgresServer;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'teleport-ts-audit-tls-'));
    pki = await makeTestPki(path.join(dir, 'pki'), { clientCommonName: 'postgres' });
    server = await startPostgres({
      tls: { certFile: pki.serverCert, keyFile: pki.serverKey, caFile: pki.caCert },
      hba: ['local all all trust', 'hostssl all all 127.0.0.1/32 cert', 'hostnossl all all 127.0.0.1/32 reject'],
    });
  });
  afterAll(async () => {
    await server?.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  const roundTrip = async (params: Record<string, string>) => {
    const store = await openPostgresAuditStore({ uri: server.url('audit_tls', params) });
    try {
      const ev = eventAt(0);
      await store.emit(ev);
      const { events } = await store.search({ ...ALL, eventTypes: ['user.login'], limit: 1000, order: 'desc' });
      expect(events.find((e) => e.uid === ev.uid)).toEqual(ev);
    } finally {
      await store.close();
    }
  };

  it('verify-full with sslrootcert and a client certificate (cert auth)', async () => {
    await roundTrip({ sslmode: 'verify-full', sslrootcert: pki.caCert, sslcert: pki.clientCert, sslkey: pki.clientKey });
  });

  it('require and prefer use TLS too', async () => {
    await roundTrip({ sslmode: 'require', sslcert: pki.clientCert, sslkey: pki.clientKey });
    await roundTrip({ sslmode: 'prefer', sslcert: pki.clientCert, sslkey: pki.clientKey });
  });

  it('verify-full without the CA fails: the server certificate is not trusted', async () => {
    const err = await openPostgresAuditStore({
      uri: server.url('audit_tls', { sslmode: 'verify-full', sslcert: pki.clientCert, sslkey: pki.clientKey }),
    }).then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ kind: 'connection-problem' });
  });

  it('allow falls back to TLS when the server refuses plaintext', async () => {
    await roundTrip({ sslmode: 'allow', sslcert: pki.clientCert, sslkey: pki.clientKey });
  });

  it('disable is refused by a server that requires TLS', async () => {
    const err = await openPostgresAuditStore({ uri: server.url('audit_tls', { sslmode: 'disable' }) }).then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ kind: 'access-denied' });
  });

  it('a missing sslrootcert file is a bad parameter naming the file', async () => {
    const missing = path.join(dir, 'nope.pem');
    const err = await openPostgresAuditStore({ uri: server.url('audit_tls', { sslmode: 'verify-full', sslrootcert: missing }) }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ kind: 'bad-parameter' });
    expect((err as Error).message).toContain(missing);
  });
});
