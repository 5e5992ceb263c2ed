/**
 * The cockroachdb driver.
 *
 * 1. Against a real CockroachDB, only when `TELEPORT_TS_TEST_COCKROACHDB_URL` is set (CockroachDB cannot be
 *    installed on the CI machines): the whole compliance suite, the real changefeed and row-level TTL.
 * 2. Always, against the real PostgreSQL of the testkit: the driver's own code (the shared SQL, its
 *    migration path, the changefeed session with its resolved-timestamp ordering buffer, reconnects) with
 *    the changefeed's row source replaced by a PostgreSQL stand-in. The stand-in produces rows in the shape
 *    CockroachDB documents, with CockroachDB's weaker delivery order (rows of different keys shuffled
 *    between resolved timestamps, duplicates re-sent), so the buffer really has to restore commit order.
 *    What this cannot show: that CockroachDB accepts the statements, emits rows exactly in this shape, and
 *    runs the TTL job; that is what part 1 is for.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { usePostgres } from '@teleport-ts/testkit';
import { newFakeClock } from '../../src/clock/index.js';
import { openBackend, type BackendEvent } from '../../src/backend/index.js';
import { openCockroachBackend, parseHlc, type ChangefeedRow, type ChangefeedRowStream, type Hlc } from '../../src/backend/cockroachdb/index.js';
import { runBackendCompliance } from './compliance.js';

const CRDB_URL = process.env['TELEPORT_TS_TEST_COCKROACHDB_URL'];
const HOW_TO_ENABLE =
  'set TELEPORT_TS_TEST_COCKROACHDB_URL=postgresql://root@host:26257/teleport_test?sslmode=... to run the cockroachdb suite against a real CockroachDB';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
/** A fake clock a day ahead of real time, so that CockroachDB's TTL job (real time) never races a test. */
const aheadClock = () => newFakeClock(new Date(Date.now() + 24 * 3600_000));

async function nextEvent(it: AsyncIterator<BackendEvent>, ms = 10_000): Promise<IteratorResult<BackendEvent>> {
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

// Defined only when a real CockroachDB is configured, so a run without one reports no skipped tests.
if (CRDB_URL) describe('cockroachdb backend against a real CockroachDB', () => {
  runBackendCompliance('cockroachdb', async () => {
    const clock = aheadClock();
    const open = () => openCockroachBackend({ connString: CRDB_URL!, clock, changeFeed: { resolvedInterval: '200ms' } });
    const backend = await open();
    return { backend, clock, newBackend: open, cleanup: () => backend.close() };
  });

  it('sets row-level TTL on kv with the configured schedule', async () => {
    const bk = await openCockroachBackend({ connString: CRDB_URL!, ttlJobCron: '*/5 * * * *' });
    try {
      const client = new pg.Client({ connectionString: CRDB_URL! });
      await client.connect();
      try {
        const res = await client.query<{ create_statement: string }>('SHOW CREATE TABLE kv');
        expect(res.rows[0]?.create_statement).toContain("ttl_expiration_expression = 'expires'");
        expect(res.rows[0]?.create_statement).toContain("ttl_job_cron = '*/5 * * * *'");
      } finally {
        await client.end();
      }
    } finally {
      await bk.close();
    }
  });
});

if (!CRDB_URL) process.stderr.write(`not running the real-CockroachDB cases: ${HOW_TO_ENABLE}\n`);

// ---- the PostgreSQL stand-in for a core changefeed ------------------------------------------------------

const STANDIN_CHANNEL = 'crdb_standin';

/** A trigger that notifies each row change in the shape of a wrapped JSON changefeed row (minus `updated`). */
const STANDIN_TRIGGER = [
  `CREATE OR REPLACE FUNCTION crdb_standin_notify() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE k bytea; after json;
    BEGIN
      IF TG_OP = 'DELETE' THEN
        k := OLD.key; after := NULL;
      ELSE
        k := NEW.key;
        after := json_build_object('expires', NEW.expires, 'key', '\\x' || encode(NEW.key, 'hex'),
                                   'revision', NEW.revision, 'value', '\\x' || encode(NEW.value, 'hex'));
      END IF;
      PERFORM pg_notify('${STANDIN_CHANNEL}', json_build_object(
        'key', json_build_array('\\x' || encode(k, 'hex'))::text, 'after', after, 'txid', txid_current())::text);
      RETURN NULL;
    END $$`,
  'DROP TRIGGER IF EXISTS crdb_standin_notify ON kv',
  'CREATE TRIGGER crdb_standin_notify AFTER INSERT OR UPDATE OR DELETE ON kv FOR EACH ROW EXECUTE FUNCTION crdb_standin_notify()',
];

/** An HLC clock: wall nanoseconds from the real clock, logical counter for ties. */
function hlcClock(): { next(): Hlc; current(): Hlc } {
  let wall = 0n;
  let logical = 0n;
  let last = parseHlc('0');
  return {
    next: () => {
      const now = BigInt(Date.now()) * 1_000_000n;
      if (now > wall) {
        wall = now;
        logical = 0n;
      } else {
        logical++;
      }
      last = parseHlc(`${wall}.${logical.toString().padStart(10, '0')}`);
      return last;
    },
    current: () => last,
  };
}

/**
 * A row source for `openCockroachBackend({ changeFeed: { openRows, clusterTime } })` over PostgreSQL:
 * LISTENs to the stand-in trigger, stamps each transaction with an HLC in commit (notification) order,
 * and every `tickMs` delivers the rows it holds shuffled across keys (per-key order kept), re-sends some,
 * then a resolved timestamp covering them.
 */
function postgresStandIn(connString: string, tickMs = 15): {
  openRows: (onRow: (r: ChangefeedRow) => void) => Promise<ChangefeedRowStream>;
  clusterTime: () => Promise<Hlc>;
  /** Breaks the current stream as a lost connection would. */
  breakStream(): void;
} {
  let current: { clusterTime: () => Promise<Hlc>; breakStream: () => void } | undefined;
  return {
    clusterTime: () => {
      if (!current) throw new Error('no stand-in stream');
      return current.clusterTime();
    },
    breakStream: () => current?.breakStream(),
    openRows: async (onRow) => {
      const client = new pg.Client({ connectionString: connString, application_name: 'crdb-standin' });
      let endWith!: (err: Error) => void;
      const ended = new Promise<Error>((resolve) => {
        endWith = resolve;
      });
      client.on('error', (err) => endWith(err));
      await client.connect();
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock(4242)');
      for (const statement of STANDIN_TRIGGER) await client.query(statement);
      await client.query('COMMIT');
      await client.query(`LISTEN ${STANDIN_CHANNEL}`);

      const clock = hlcClock();
      const cursor = clock.next();
      let window: Array<{ key: string; row: ChangefeedRow }> = [];
      const history: ChangefeedRow[] = [];
      let lastTxid: string | undefined;
      let stamp = cursor;
      const timeMarks = new Map<string, (t: Hlc) => void>();

      client.on('notification', (msg) => {
        const payload = msg.payload ?? '';
        if (payload.startsWith('#')) {
          timeMarks.get(payload.slice(1))?.(clock.next());
          timeMarks.delete(payload.slice(1));
          return;
        }
        const n = JSON.parse(payload) as { key: string; after: unknown; txid: string | number };
        if (String(n.txid) !== lastTxid) {
          lastTxid = String(n.txid);
          stamp = clock.next();
        }
        const row: ChangefeedRow = { table: 'kv', key: Buffer.from(n.key), value: Buffer.from(JSON.stringify({ after: n.after, updated: stamp.text })) };
        window.push({ key: n.key, row });
      });

      const tick = setInterval(() => {
        const rows = window;
        window = [];
        const perKey = new Map<string, ChangefeedRow[]>();
        for (const r of rows) perKey.set(r.key, [...(perKey.get(r.key) ?? []), r.row]);
        const queues = [...perKey.values()];
        while (queues.length > 0) {
          const i = Math.floor(Math.random() * queues.length);
          const row = queues[i]!.shift()!;
          if (queues[i]!.length === 0) queues.splice(i, 1);
          onRow(row);
          if (Math.random() < 0.1) onRow(row); // at-least-once delivery
          history.push(row);
        }
        // A late duplicate of something already resolved, as after a changefeed restart.
        if (history.length > 0 && Math.random() < 0.2) onRow(history[Math.floor(Math.random() * history.length)]!);
        if (history.length > 1000) history.splice(0, history.length - 1000);
        onRow({ table: null, key: null, value: Buffer.from(JSON.stringify({ resolved: clock.next().text })) });
      }, tickMs);

      const stop = async (): Promise<void> => {
        clearInterval(tick);
        endWith(new Error('stand-in stopped'));
        await client.end().catch(() => undefined);
      };
      current = {
        clusterTime: () =>
          new Promise<Hlc>((resolve, reject) => {
            const id = randomUUID();
            timeMarks.set(id, resolve);
            client.query('SELECT pg_notify($1, $2)', [STANDIN_CHANNEL, `#${id}`]).catch(reject);
          }),
        breakStream: () => {
          clearInterval(tick);
          endWith(new Error('stand-in connection lost'));
        },
      };
      return { cursor, ended, stop };
    },
  };
}

describe('cockroachdb driver on PostgreSQL with a stand-in changefeed', () => {
  const server = usePostgres();
  const url = (db: string) => server.server.url(db, { sslmode: 'disable' });

  runBackendCompliance('cockroachdb driver (SQL on PostgreSQL, stand-in changefeed)', async () => {
    const clock = aheadClock();
    const open = () => {
      const standIn = postgresStandIn(url('crdb_standin'));
      return openCockroachBackend({
        connString: url('crdb_standin'),
        clock,
        env: {},
        changeFeed: { openRows: standIn.openRows, clusterTime: standIn.clusterTime },
      });
    };
    const backend = await open();
    return { backend, clock, newBackend: open, cleanup: () => backend.close() };
  });

  it('is what openBackend returns for storage type cockroachdb, and creates its database when missing', async () => {
    const db = `crdb_${randomUUID().slice(0, 8)}`;
    // Without a stand-in the real changefeed statement is sent, which PostgreSQL rejects: open fails cleanly.
    const err = await openBackend({ storage: { type: 'cockroachdb', conn_string: url(db) }, dataDir: '/nonexistent' }).then(
      () => undefined,
      (e: unknown) => e as Error & { kind: string },
    );
    expect(err?.kind).toBe('connection-problem');
    expect(err?.message).toMatch(/change feed could not start/);
    const client = new pg.Client({ connectionString: url(db) });
    await client.connect();
    try {
      const tables = await client.query<{ table_name: string }>(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
      );
      expect(tables.rows.map((r) => r.table_name)).toEqual(['backend_version', 'kv']);
    } finally {
      await client.end();
    }
  });

  it('resets watchers when the changefeed stream breaks, then serves new watchers from a new stream', async () => {
    const standIn = postgresStandIn(url('crdb_reset'));
    const bk = await openCockroachBackend({
      connString: url('crdb_reset'),
      env: {},
      changeFeed: { openRows: standIn.openRows, clusterTime: standIn.clusterTime, reconnectBaseMs: 10, reconnectMaxMs: 50 },
    });
    try {
      const w = await bk.newWatcher({ prefixes: ['/reset/'] });
      const it = w[Symbol.asyncIterator]();
      expect((await nextEvent(it)).value).toEqual({ type: 'init' });
      await bk.put({ key: '/reset/a', value: enc('1') });
      expect(((await nextEvent(it)).value as BackendEvent).type).toBe('put');
      standIn.breakStream();
      expect((await nextEvent(it)).done).toBe(true);
      expect(w.closeReason).toMatchObject({ kind: 'connection-problem' });
      expect(w.closeReason?.message).toMatch(/stand-in connection lost/);

      const w2 = await bk.newWatcher({ prefixes: ['/reset/'] });
      const it2 = w2[Symbol.asyncIterator]();
      expect((await nextEvent(it2)).value).toEqual({ type: 'init' });
      await bk.put({ key: '/reset/b', value: enc('2') });
      const ev = (await nextEvent(it2)).value as BackendEvent;
      expect(ev.type === 'put' && ev.item.key).toBe('/reset/b');
      w2.close();
    } finally {
      await bk.close();
    }
  });

  it('restores commit order across keys from shuffled rows: concurrent writers, per-key sequences complete', async () => {
    const standIn = postgresStandIn(url('crdb_order'));
    const bk = await openCockroachBackend({ connString: url('crdb_order'), env: {}, changeFeed: { openRows: standIn.openRows, clusterTime: standIn.clusterTime } });
    try {
      const keys = ['/o/a', '/o/b', '/o/c', '/o/d'];
      const w = await bk.newWatcher({ prefixes: ['/o/'], queueSize: 1_000_000 });
      const it = w[Symbol.asyncIterator]();
      expect((await nextEvent(it)).value).toEqual({ type: 'init' });
      // Each writer bumps a global sequence and one key in one atomic write: commit order is the sequence.
      let seq = 0;
      const writer = async (wi: number): Promise<void> => {
        for (let i = 0; i < 25; i++) {
          for (;;) {
            const cur = await bk.get('/o/seq').then(
              (item) => ({ n: Number(new TextDecoder().decode(item.value)), rev: item.revision }),
              () => ({ n: 0, rev: undefined }),
            );
            const n = cur.n + 1;
            const key = keys[(wi + i) % keys.length]!;
            try {
              await bk.atomicWrite([
                {
                  key: '/o/seq',
                  condition: cur.rev ? { kind: 'revision', revision: cur.rev } : { kind: 'not-exists' },
                  action: { kind: 'put', item: { value: enc(String(n)) } },
                },
                { key, condition: { kind: 'whatever' }, action: { kind: 'put', item: { value: enc(String(n)) } } },
              ]);
              seq = Math.max(seq, n);
              break;
            } catch (err) {
              if ((err as { kind?: string }).kind !== 'compare-failed') throw err;
            }
          }
        }
      };
      await Promise.all(Array.from({ length: 6 }, (_, i) => writer(i)));
      expect(seq).toBe(150);
      const seqSeen: number[] = [];
      for (let i = 0; i < 2 * seq; i++) {
        const ev = (await nextEvent(it)).value as BackendEvent;
        if (ev.type !== 'put') throw new Error(`unexpected ${ev.type}`);
        if (ev.item.key === '/o/seq') seqSeen.push(Number(new TextDecoder().decode(ev.item.value)));
      }
      // Globally in commit order: the sequence key's values arrive as 1, 2, 3, ... with none missing or repeated.
      expect(seqSeen).toEqual(Array.from({ length: seq }, (_, i) => i + 1));
      w.close();
    } finally {
      await bk.close();
    }
  });
});
