import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { lookup } from 'node:dns/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestPki, startPostgres, usePostgres, type PostgresServer, type TestPki } from '@teleport-ts/testkit';
import { newFakeClock } from '../../src/clock/index.js';
import { isCompareFailed } from '../../src/errors/index.js';
import { openBackend, rangeEnd, type Backend, type BackendEvent, type Watcher } from '../../src/backend/index.js';
import { openPostgresBackend } from '../../src/backend/postgres/index.js';
import type { SqlBackend } from '../../src/backend/sql/backend.js';
import { runBackendCompliance } from './compliance.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

/** Next event of a watcher, or a failure after `ms` instead of a hang. */
async function nextEvent(it: AsyncIterator<BackendEvent>, ms = 5_000): Promise<IteratorResult<BackendEvent>> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      it.next(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no watch event within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function expectInit(w: Watcher): Promise<AsyncIterator<BackendEvent>> {
  const it = w[Symbol.asyncIterator]();
  expect((await nextEvent(it)).value).toEqual({ type: 'init' });
  return it;
}

/** Polls `check` until it holds (for conditions another process brings about), failing after `ms`. */
async function eventually(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('postgres backend', () => {
  const server = usePostgres();
  const url = (db = 'teleport_compliance', params: Record<string, string> = {}) =>
    server.server.url(db, { sslmode: 'disable', ...params });

  runBackendCompliance('postgres', async () => {
    const clock = newFakeClock(new Date('2026-01-01T00:00:00Z'));
    const open = () => openPostgresBackend({ connString: url(), clock, sweepIntervalMs: 0 });
    const backend = await open();
    return { backend, clock, newBackend: open, cleanup: () => backend.close() };
  });

  describe('schema', () => {
    it('creates the database when it is missing, then kv, backend_version, kv_events and the notify trigger', async () => {
      const db = `fresh_${randomUUID().slice(0, 8)}`;
      const bk = await openBackend({ storage: { type: 'postgresql', conn_string: url(db) }, dataDir: '/nonexistent' });
      try {
        expect(bk.kind).toBe('postgres');
        const client = new pg.Client({ connectionString: url(db) });
        await client.connect();
        try {
          const tables = await client.query<{ table_name: string }>(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
          );
          expect(tables.rows.map((r) => r.table_name)).toEqual(['backend_version', 'kv', 'kv_events']);
          const cols = await client.query<{ column_name: string; data_type: string; is_nullable: string }>(
            "SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_name = 'kv' ORDER BY ordinal_position",
          );
          expect(cols.rows).toEqual([
            { column_name: 'key', data_type: 'bytea', is_nullable: 'NO' },
            { column_name: 'value', data_type: 'bytea', is_nullable: 'NO' },
            { column_name: 'expires', data_type: 'timestamp with time zone', is_nullable: 'YES' },
            { column_name: 'revision', data_type: 'text', is_nullable: 'NO' },
          ]);
          const versions = await client.query<{ version: number }>('SELECT version FROM backend_version');
          expect(versions.rows).toEqual([{ version: 1 }]);
          const triggers = await client.query<{ tgname: string }>("SELECT tgname FROM pg_trigger WHERE tgrelid = 'kv'::regclass AND NOT tgisinternal");
          expect(triggers.rows).toEqual([{ tgname: 'kv_notify_change' }]);
        } finally {
          await client.end();
        }
      } finally {
        await bk.close();
      }
    });

    it('lets several processes open a fresh database at once (the migration runs once)', async () => {
      const db = `race_${randomUUID().slice(0, 8)}`;
      const backends = await Promise.all(Array.from({ length: 4 }, () => openPostgresBackend({ connString: url(db), sweepIntervalMs: 0 })));
      try {
        await backends[0]!.put({ key: '/race', value: enc('ok') });
        expect(dec((await backends[3]!.get('/race')).value)).toBe('ok');
        const rows = await server.server.query(`SELECT count(*)::int AS n FROM pg_database WHERE datname = '${db}'`);
        expect(rows).toEqual([{ n: 1 }]);
      } finally {
        for (const b of backends) await b.close();
      }
      const again = await openPostgresBackend({ connString: url(db), sweepIntervalMs: 0 });
      await again.close();
    });

    it('reports a missing database the role may not create as access-denied, without the password', async () => {
      await server.server.query("DO $$ BEGIN CREATE ROLE nocreate LOGIN PASSWORD 's3cret-pw'; EXCEPTION WHEN duplicate_object THEN NULL; END $$");
      const conn = `postgres://nocreate:s3cret-pw@${server.server.host}:${server.server.port}/not_allowed_db?sslmode=disable`;
      const err = await openPostgresBackend({ connString: conn }).then(
        () => undefined,
        (e: unknown) => e as Error & { kind: string },
      );
      expect(err?.kind).toBe('access-denied');
      expect(err?.message).not.toContain('s3cret-pw');
    });

    it('reports an unreachable server as connection-problem, without the password', async () => {
      const err = await openPostgresBackend({ connString: 'postgres://u:hunter2@127.0.0.1:1/db?sslmode=disable&connect_timeout=2' }).then(
        () => undefined,
        (e: unknown) => e as Error & { kind: string },
      );
      expect(err?.kind).toBe('connection-problem');
      expect(err?.message).not.toContain('hunter2');
    });
  });

  describe('watch', () => {
    let bk: SqlBackend;
    let other: SqlBackend;
    beforeAll(async () => {
      bk = await openPostgresBackend({ connString: url('teleport_watch'), sweepIntervalMs: 0 });
      other = await openPostgresBackend({ connString: url('teleport_watch'), sweepIntervalMs: 0 });
    });
    afterAll(async () => {
      await bk?.close();
      await other?.close();
    });

    it('delivers events larger than a NOTIFY payload through kv_events, in order with small ones', async () => {
      const prefix = `/big/${randomUUID()}/`;
      const w = await bk.newWatcher({ prefixes: [prefix] });
      const it = await expectInit(w);
      const big = 'x'.repeat(50_000);
      const longKey = prefix + 'k'.repeat(4000);
      await bk.put({ key: prefix + 'small1', value: enc('s1') });
      await bk.put({ key: prefix + 'big', value: enc(big), expires: new Date('2030-01-01T00:00:00.123Z') });
      await bk.put({ key: prefix + 'small2', value: enc('s2') });
      await bk.put({ key: longKey, value: enc('long key') });
      await bk.delete(longKey);
      const seen: string[] = [];
      for (let i = 0; i < 5; i++) {
        const ev = (await nextEvent(it)).value as BackendEvent;
        if (ev.type === 'put') {
          seen.push(`put ${ev.item.key.slice(prefix.length, prefix.length + 6)} ${ev.item.value.length}`);
          if (ev.item.key === prefix + 'big') {
            expect(dec(ev.item.value)).toBe(big);
            expect(ev.item.expires?.toISOString()).toBe('2030-01-01T00:00:00.123Z');
          }
        } else if (ev.type === 'delete') {
          seen.push(`delete ${ev.item.key.slice(prefix.length, prefix.length + 6)}`);
          expect(ev.item.key).toBe(longKey);
        }
      }
      expect(seen).toEqual(['put small1 2', 'put big 50000', 'put small2 2', 'put kkkkkk 8', 'delete kkkkkk']);
      w.close();

      // The sweep prunes spilled events once they are old.
      const client = new pg.Client({ connectionString: url('teleport_watch') });
      await client.connect();
      try {
        expect((await client.query('SELECT count(*)::int AS n FROM kv_events')).rows[0].n).toBeGreaterThan(0);
        await client.query("UPDATE kv_events SET created = now() - interval '1 hour'");
        await bk.sweepExpired();
        expect((await client.query('SELECT count(*)::int AS n FROM kv_events')).rows).toEqual([{ n: 0 }]);
      } finally {
        await client.end();
      }
    });

    it('never shows a write that completed before newWatcher() was called (watchers attach at a barrier)', async () => {
      const prefix = `/barrier/${randomUUID()}/`;
      for (let i = 0; i < 40; i++) {
        // Written by the other instance: its notification reaches this instance's LISTEN connection on its own time.
        await other.put({ key: `${prefix}before`, value: enc(String(i)) });
        const w = await bk.newWatcher({ prefixes: [prefix] });
        const it = await expectInit(w);
        await other.put({ key: `${prefix}after`, value: enc(String(i)) });
        const ev = (await nextEvent(it)).value as BackendEvent;
        expect(ev.type === 'put' && `${ev.item.key.slice(prefix.length)} ${dec(ev.item.value)}`).toBe(`after ${i}`);
        w.close();
      }
    });

    it('2 instances x 4 concurrent writers: every change reaches the watcher once, per key in commit order', async () => {
      const prefix = `/order/${randomUUID()}/`;
      const keys = Array.from({ length: 3 }, (_, i) => `${prefix}k${i}`);
      for (const key of keys) await bk.put({ key, value: enc('0') });
      const w = await bk.newWatcher({ prefixes: [prefix], queueSize: 1_000_000 });
      const it = await expectInit(w);

      // Every write is a compare-and-swap increment, so per key the committed values are exactly 1, 2, 3, ...
      // in commit order; every 7th value is padded past the NOTIFY limit to mix spilled and inline events.
      const WRITES_PER_WRITER = 60;
      const committed = new Map<string, number>(keys.map((k) => [k, 0]));
      const revisions = new Map<string, string[]>(keys.map((k) => [k, []]));
      const body = (n: number): string => (n % 7 === 0 ? `${n}:${'p'.repeat(9000)}` : `${n}:`);
      const counterOf = (v: Uint8Array): number => Number(dec(v).split(':')[0]);
      const writer = async (b: Backend, seed: number): Promise<void> => {
        for (let i = 0; i < WRITES_PER_WRITER; i++) {
          const key = keys[(seed + i) % keys.length]!;
          for (;;) {
            const current = await b.get(key);
            const n = counterOf(current.value) + 1;
            try {
              const lease = await b.compareAndSwap({ key, value: current.value }, { key, value: enc(body(n)) });
              committed.set(key, Math.max(committed.get(key)!, n));
              revisions.get(key)![n - 1] = lease.revision;
              break;
            } catch (err) {
              if (!isCompareFailed(err)) throw err;
            }
          }
        }
      };
      const writers = [bk, other].flatMap((b, bi) => Array.from({ length: 4 }, (_, wi) => writer(b, bi * 4 + wi)));
      await Promise.all(writers);
      const total = 8 * WRITES_PER_WRITER;

      const seen = new Map<string, number[]>(keys.map((k) => [k, []]));
      const seenRevisions = new Map<string, string[]>(keys.map((k) => [k, []]));
      for (let i = 0; i < total; i++) {
        const ev = (await nextEvent(it)).value as BackendEvent;
        if (ev.type !== 'put') throw new Error(`unexpected ${ev.type} event`);
        const n = counterOf(ev.item.value);
        if (n % 7 === 0) expect(ev.item.value.length).toBeGreaterThan(9000);
        seen.get(ev.item.key)!.push(n);
        seenRevisions.get(ev.item.key)!.push(ev.item.revision);
      }
      for (const key of keys) {
        const final = committed.get(key)!;
        expect(seen.get(key)).toEqual(Array.from({ length: final }, (_, i) => i + 1));
        expect(seenRevisions.get(key)).toEqual(revisions.get(key));
      }
      expect([...committed.values()].reduce((a, b) => a + b, 0)).toBe(total);
      // Nothing beyond the committed writes.
      await bk.put({ key: prefix + 'marker', value: enc('end') });
      const marker = (await nextEvent(it)).value as BackendEvent;
      expect(marker.type === 'put' && marker.item.key).toBe(prefix + 'marker');
      w.close();
    });
  });

  describe('retries', () => {
    /**
     * Makes the first write of a key ending in `/slow` sleep inside the statement, so that a test can kill the
     * session mid-write. The call count lives in a sequence: unlike a table row, it survives the rollback.
     */
    const installSlowTrigger = async (db: string): Promise<void> => {
      const client = new pg.Client({ connectionString: url(db) });
      await client.connect();
      try {
        await client.query('CREATE SEQUENCE IF NOT EXISTS slow_calls');
        await client.query(`CREATE OR REPLACE FUNCTION slow_write() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN
            IF convert_from(NEW.key, 'UTF8') LIKE '%/slow' AND nextval('slow_calls') = 1 THEN
              PERFORM pg_sleep(30);
            END IF;
            RETURN NEW;
          END $$`);
        await client.query('CREATE TRIGGER slow_write BEFORE INSERT OR UPDATE ON kv FOR EACH ROW EXECUTE FUNCTION slow_write()');
      } finally {
        await client.end();
      }
    };
    const slowCalls = async (db: string): Promise<number> => {
      const client = new pg.Client({ connectionString: url(db) });
      await client.connect();
      try {
        const res = await client.query<{ n: number }>('SELECT last_value::int AS n FROM slow_calls');
        return res.rows[0]!.n;
      } finally {
        await client.end();
      }
    };
    /** Terminates our session that sleeps in `slow_write`, once there is one. */
    const killSleepingWriter = async (db: string): Promise<void> => {
      await eventually(async () => {
        const rows = await server.server.query<{ pid: number }>(
          "SELECT pid FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND datname = $1",
          [db],
        );
        for (const r of rows) await server.server.query('SELECT pg_terminate_backend($1)', [r.pid]);
        return rows.length > 0;
      });
    };

    it('runs an idempotent put again after the connection drops mid-statement', async () => {
      const db = `retry_${randomUUID().slice(0, 8)}`;
      const bk = await openPostgresBackend({ connString: url(db), sweepIntervalMs: 0 });
      try {
        await installSlowTrigger(db);
        const put = bk.put({ key: '/p/slow', value: enc('v') });
        await killSleepingWriter(db);
        await put;
        expect(dec((await bk.get('/p/slow')).value)).toBe('v');
        expect(await slowCalls(db)).toBe(2);
      } finally {
        await bk.close();
      }
    });

    it('never runs a create twice after an ambiguous failure: it reads back and reports connection-problem', async () => {
      const db = `ambig_${randomUUID().slice(0, 8)}`;
      const bk = await openPostgresBackend({ connString: url(db), sweepIntervalMs: 0 });
      try {
        await installSlowTrigger(db);
        const create = bk.create({ key: '/c/slow', value: enc('v') }).then(
          () => undefined,
          (e: unknown) => e as Error & { kind: string },
        );
        await killSleepingWriter(db);
        const err = await create;
        expect(err?.kind).toBe('connection-problem');
        expect(err?.message).toMatch(/not applied/);
        await expect(bk.get('/c/slow')).rejects.toMatchObject({ kind: 'not-found' });
        expect(await slowCalls(db)).toBe(1);
        // The backend is fine afterwards.
        await bk.create({ key: '/c/slow', value: enc('second try by the caller') });
      } finally {
        await bk.close();
      }
    });
  });

  describe('TLS', () => {
    let dir: string;
    let pki: TestPki;
    let tlsServer: PostgresServer;
    beforeAll(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'teleport-ts-pg-tls-'));
      pki = await makeTestPki(dir, { clientCommonName: 'teleport' });
      tlsServer = await startPostgres({
        tls: { certFile: pki.serverCert, keyFile: pki.serverKey, caFile: pki.caCert },
        hba: ['local all all trust', 'hostssl all all 127.0.0.1/32 cert', 'hostnossl all all 127.0.0.1/32 reject'],
      });
      await tlsServer.query('CREATE ROLE teleport LOGIN CREATEDB');
    });
    afterAll(async () => {
      await tlsServer?.destroy();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    const base = () => `postgres://teleport@localhost:${tlsServer.port}/teleport_tls`;

    it('connects with sslmode=verify-full and a client certificate, and watches', async () => {
      const conn = `${base()}?sslmode=verify-full&sslrootcert=${pki.caCert}&sslcert=${pki.clientCert}&sslkey=${pki.clientKey}`;
      const bk = await openPostgresBackend({ connString: conn, sweepIntervalMs: 0, env: {} });
      try {
        const w = await bk.newWatcher({ prefixes: ['/tls/'] });
        const it = await expectInit(w);
        await bk.put({ key: '/tls/a', value: enc('secure') });
        expect(dec((await bk.get('/tls/a')).value)).toBe('secure');
        const ev = (await nextEvent(it)).value as BackendEvent;
        expect(ev.type === 'put' && dec(ev.item.value)).toBe('secure');
        w.close();
        const ssl = await tlsServer.query<{ ssl: boolean; client_dn: string }>(
          "SELECT ssl, client_dn FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) WHERE usename = 'teleport' LIMIT 1",
        );
        expect(ssl[0]).toEqual({ ssl: true, client_dn: '/CN=teleport' });
      } finally {
        await bk.close();
      }
    });

    it('reads the certificate paths from PGSSLROOTCERT, PGSSLCERT and PGSSLKEY', async () => {
      const bk = await openPostgresBackend({
        connString: `${base()}?sslmode=verify-full`,
        sweepIntervalMs: 0,
        env: { PGSSLROOTCERT: pki.caCert, PGSSLCERT: pki.clientCert, PGSSLKEY: pki.clientKey },
      });
      await bk.put({ key: '/tls/env', value: enc('env') });
      await bk.close();
    });

    it('pool_max_conns caps the connections the server sees (pg_stat_activity), as in the seed connection string', async () => {
      // The LISTEN session of the change feed is one more connection, outside the pool (LISTEN is per session).
      const connections = async (feed: boolean): Promise<number> =>
        Number((await tlsServer.query<{ n: string }>(
          "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = 'teleport_pool' AND usename = 'teleport' " +
            `AND (application_name = 'teleport-ts change feed') = ${feed}`,
        ))[0]?.n);
      const settings = `sslmode=verify-full&sslrootcert=${pki.caCert}&sslcert=${pki.clientCert}&sslkey=${pki.clientKey}`;
      const bk = await openPostgresBackend({
        connString: `postgres://teleport@localhost:${tlsServer.port}/teleport_pool?${settings}&pool_max_conns=3`,
        sweepIntervalMs: 0,
        env: {},
      });
      try {
        let peak = 0;
        const sample = setInterval(() => void connections(false).then((n) => (peak = Math.max(peak, n))), 5);
        // 200 concurrent operations want 200 connections; the pool lends at most three.
        await Promise.all(Array.from({ length: 200 }, (_, i) => bk.put({ key: `/pool/${i % 20}`, value: enc(String(i)) })));
        clearInterval(sample);
        peak = Math.max(peak, await connections(false));
        expect(peak).toBe(3);
        expect(await connections(true)).toBe(1);
      } finally {
        await bk.close();
      }
    });

    it('verify-ca accepts a certificate that does not name the host; verify-full refuses it', async (ctx) => {
      // This machine's host name usually resolves to 127.0.0.1 but is not in the server certificate.
      const alias = hostname();
      const address = await lookup(alias).then((a) => a.address, () => undefined);
      if (address !== '127.0.0.1' || alias === 'localhost') return ctx.skip();
      const params = `sslrootcert=${pki.caCert}&sslcert=${pki.clientCert}&sslkey=${pki.clientKey}`;
      const viaAlias = `postgres://teleport@${alias}:${tlsServer.port}/teleport_tls`;
      const bk = await openPostgresBackend({ connString: `${viaAlias}?sslmode=verify-ca&${params}`, sweepIntervalMs: 0, env: {} });
      await bk.put({ key: '/tls/ca-only', value: enc('ok') });
      await bk.close();
      const err = await openPostgresBackend({ connString: `${viaAlias}?sslmode=verify-full&${params}`, env: {} }).then(
        () => undefined,
        (e: unknown) => e as Error & { kind: string },
      );
      expect(err?.kind).toBe('connection-problem');
      expect(err?.message).toMatch(/altnames|Hostname/i);
    });

    it('verify-full refuses a server certificate from another CA', async () => {
      const other = await mkdtemp(path.join(tmpdir(), 'teleport-ts-pg-otherca-'));
      try {
        const otherPki = await makeTestPki(other);
        const err = await openPostgresBackend({
          connString: `${base()}?sslmode=verify-full&sslrootcert=${otherPki.caCert}&sslcert=${pki.clientCert}&sslkey=${pki.clientKey}`,
          env: {},
        }).then(
          () => undefined,
          (e: unknown) => e as Error & { kind: string },
        );
        expect(err?.kind).toBe('connection-problem');
      } finally {
        await rm(other, { recursive: true, force: true });
      }
    });
  });

  describe('restart', () => {
    let restartServer: PostgresServer;
    beforeAll(async () => {
      restartServer = await startPostgres();
    });
    afterAll(async () => {
      await restartServer?.destroy();
    });

    it('closes watchers with a reason when the server stops, keeps running, and watches again after it starts', async () => {
      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown): void => {
        unhandled.push(reason);
      };
      process.on('unhandledRejection', onUnhandled);
      const conn = restartServer.url('teleport_restart', { sslmode: 'disable' });
      const bk = await openPostgresBackend({
        connString: conn,
        sweepIntervalMs: 50,
        retry: { budgetMs: 500 },
        changeFeed: { reconnectBaseMs: 20, reconnectMaxMs: 200, heartbeatMs: 200 },
      });
      try {
        const w = await bk.newWatcher({ prefixes: ['/restart/'] });
        const it = await expectInit(w);
        await bk.put({ key: '/restart/before', value: enc('1') });
        expect(((await nextEvent(it)).value as BackendEvent).type).toBe('put');

        await restartServer.stop();
        const end = await nextEvent(it);
        expect(end.done).toBe(true);
        await w.done;
        expect(w.closeReason).toMatchObject({ kind: 'connection-problem' });
        expect(w.closeReason?.message).toMatch(/change feed was interrupted/);

        // While the server is down: calls fail with connection-problem, nothing crashes.
        await expect(bk.get('/restart/before')).rejects.toMatchObject({ kind: 'connection-problem' });
        await expect(bk.put({ key: '/restart/down', value: enc('x') })).rejects.toMatchObject({ kind: 'connection-problem' });
        // A watcher opened during the outage waits for init.
        const waiting = await bk.newWatcher({ prefixes: ['/restart/'] });
        await new Promise((r) => setTimeout(r, 300));

        await restartServer.start();
        const itWaiting = await expectInit(waiting);
        const w2 = await bk.newWatcher({ prefixes: ['/restart/'] });
        const it2 = await expectInit(w2);
        await eventually(async () =>
          bk.put({ key: '/restart/after', value: enc('2') }).then(
            () => true,
            () => false,
          ),
        );
        for (const iter of [it2, itWaiting]) {
          const ev = (await nextEvent(iter)).value as BackendEvent;
          expect(ev.type === 'put' && ev.item.key).toBe('/restart/after');
        }
        expect(dec((await bk.get('/restart/before')).value)).toBe('1');
        w2.close();
        waiting.close();
      } finally {
        await bk.close();
        process.off('unhandledRejection', onUnhandled);
      }
      expect(unhandled).toEqual([]);
    });
  });

  it('exports the range helper the suite relies on', () => {
    expect(rangeEnd('/a/')).toBe('/a/\u{10FFFF}');
  });
});
