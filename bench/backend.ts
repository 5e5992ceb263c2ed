/**
 * `pnpm bench backend`: puts/s, gets/s and compare-and-swap/s with 1 and 16 concurrent clients, and watch
 * latency, for the sqlite and postgres drivers. Each figure is shown next to a baseline measured in the same
 * run on the same storage: the same operation as one raw SQL statement through the same client library
 * (better-sqlite3 / pg), so the ratio is what our layer (transactions, revisions, events) costs.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { openBackend, rangeEnd, type Backend } from '@teleport-ts/core/backend';
import { isCompareFailed } from '@teleport-ts/core/errors';
import { startPostgres } from '@teleport-ts/testkit';
import { rate as loopRate } from './_common.js';
import { machineLine, markdownTable, percentile, writeSection, type Row } from './_report.js';

const DURATION_MS = Number(process.env['BENCH_DURATION_MS'] ?? 3000);
const WATCH_EVENTS = 1000;
const enc = new TextEncoder();
const value = enc.encode(JSON.stringify({ kind: 'bench', spec: { payload: 'x'.repeat(200) } }));

/** Runs `op` from `clients` concurrent loops for DURATION_MS; returns operations per second. */
const rate = (clients: number, op: (client: number, i: number) => Promise<void>): Promise<number> => loopRate(clients, DURATION_MS, op);

interface Ops {
  put(c: number, i: number): Promise<void>;
  get(c: number, i: number): Promise<void>;
  cas(c: number): Promise<void>;
  prepare(clients: number): Promise<void>;
}

function backendOps(bk: Backend): Ops {
  const counters = new Map<number, number>();
  return {
    put: async (c, i) => {
      await bk.put({ key: `/bench/put/${c}/${i % 1000}`, value });
    },
    get: async (c, i) => {
      await bk.get(`/bench/put/${c}/${i % 100}`);
    },
    prepare: async (clients) => {
      for (let c = 0; c < clients; c++) {
        for (let i = 0; i < 100; i++) await bk.put({ key: `/bench/put/${c}/${i}`, value });
        counters.set(c, 0);
        await bk.put({ key: `/bench/cas/${c}`, value: enc.encode('0') });
      }
    },
    cas: async (c) => {
      for (;;) {
        const n = counters.get(c) ?? 0;
        try {
          await bk.compareAndSwap({ key: `/bench/cas/${c}`, value: enc.encode(String(n)) }, { key: `/bench/cas/${c}`, value: enc.encode(String(n + 1)) });
          counters.set(c, n + 1);
          return;
        } catch (err) {
          if (!isCompareFailed(err)) throw err;
          const cur = await bk.get(`/bench/cas/${c}`);
          counters.set(c, Number(new TextDecoder().decode(cur.value)));
        }
      }
    },
  };
}

function rawSqliteOps(file: string): Ops & { close(): void } {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE IF NOT EXISTS raw (k TEXT PRIMARY KEY, v BLOB NOT NULL)');
  const put = db.prepare('INSERT OR REPLACE INTO raw (k, v) VALUES (?, ?)');
  const get = db.prepare('SELECT v FROM raw WHERE k = ?');
  const cas = db.prepare('UPDATE raw SET v = ? WHERE k = ? AND v = ?');
  const counters = new Map<number, number>();
  return {
    put: async (c, i) => {
      put.run(`/bench/put/${c}/${i % 1000}`, value);
    },
    get: async (c, i) => {
      get.get(`/bench/put/${c}/${i % 100}`);
    },
    prepare: async (clients) => {
      for (let c = 0; c < clients; c++) {
        for (let i = 0; i < 100; i++) put.run(`/bench/put/${c}/${i}`, value);
        put.run(`/bench/cas/${c}`, Buffer.from('0'));
        counters.set(c, 0);
      }
    },
    cas: async (c) => {
      const n = counters.get(c) ?? 0;
      cas.run(Buffer.from(String(n + 1)), `/bench/cas/${c}`, Buffer.from(String(n)));
      counters.set(c, n + 1);
    },
    close: () => db.close(),
  };
}

function rawPostgresOps(url: string): Ops & { close(): Promise<void> } {
  const pool = new pg.Pool({ connectionString: url, max: 16 });
  pool.on('error', () => undefined);
  const counters = new Map<number, number>();
  const put = (k: string, v: Uint8Array): Promise<unknown> =>
    pool.query('INSERT INTO raw (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = excluded.v', [k, v]);
  return {
    put: async (c, i) => {
      await put(`/bench/put/${c}/${i % 1000}`, value);
    },
    get: async (c, i) => {
      await pool.query('SELECT v FROM raw WHERE k = $1', [`/bench/put/${c}/${i % 100}`]);
    },
    prepare: async (clients) => {
      await pool.query('CREATE TABLE IF NOT EXISTS raw (k text COLLATE "C" PRIMARY KEY, v bytea NOT NULL)');
      for (let c = 0; c < clients; c++) {
        for (let i = 0; i < 100; i++) await put(`/bench/put/${c}/${i}`, value);
        await put(`/bench/cas/${c}`, Buffer.from('0'));
        counters.set(c, 0);
      }
    },
    cas: async (c) => {
      const n = counters.get(c) ?? 0;
      await pool.query('UPDATE raw SET v = $1 WHERE k = $2 AND v = $3', [Buffer.from(String(n + 1)), `/bench/cas/${c}`, Buffer.from(String(n))]);
      counters.set(c, n + 1);
    },
    close: () => pool.end(),
  };
}

/** Latency from the start of a put to its event reaching a watcher, over WATCH_EVENTS sequential puts. */
async function watchLatency(bk: Backend): Promise<{ p50: number; p99: number }> {
  const prefix = '/bench/watch/';
  const watcher = await bk.newWatcher({ prefixes: [prefix], name: 'bench' });
  const it = watcher[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done || first.value.type !== 'init') throw new Error('watcher did not start with init');
  const sent = new Map<string, number>();
  const lat: number[] = [];
  const reader = (async () => {
    while (lat.length < WATCH_EVENTS) {
      const r = await it.next();
      if (r.done) throw new Error(`watcher closed: ${watcher.closeReason?.message ?? 'no reason'}`);
      if (r.value.type !== 'put') continue;
      const t0 = sent.get(r.value.item.key);
      if (t0 !== undefined) lat.push(performance.now() - t0);
    }
  })();
  for (let i = 0; i < WATCH_EVENTS; i++) {
    const key = `${prefix}${i}`;
    sent.set(key, performance.now());
    await bk.put({ key, value });
    if (i % 50 === 0) await new Promise((r) => setTimeout(r, 1));
  }
  await reader;
  watcher.close();
  await bk.deleteRange(prefix, rangeEnd(prefix));
  lat.sort((a, b) => a - b);
  return { p50: percentile(lat, 50), p99: percentile(lat, 99) };
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}x`;

async function measure(driver: string, bk: Backend, raw: Ops): Promise<Row[]> {
  const ours = backendOps(bk);
  const rows: Row[] = [];
  for (const clients of [1, 16]) {
    await ours.prepare(clients);
    await raw.prepare(clients);
    for (const [name, pick] of [
      ['put', (o: Ops) => o.put],
      ['get', (o: Ops) => o.get],
      ['compare-and-swap', (o: Ops) => (c: number) => o.cas(c)],
    ] as const) {
      const base = await rate(clients, pick(raw));
      const got = await rate(clients, pick(ours));
      rows.push({ driver, operation: `${name}/s`, clients, 'teleport-ts': fmt(got), 'raw SQL baseline': fmt(base), ratio: ratio(got, base) });
      process.stdout.write(`${driver} ${name} x${clients}: ${fmt(got)}/s (raw ${fmt(base)}/s, ${ratio(got, base)})\n`);
    }
  }
  const w = await watchLatency(bk);
  rows.push({ driver, operation: 'watch latency p50 / p99 (ms)', clients: 1, 'teleport-ts': `${w.p50.toFixed(1)} / ${w.p99.toFixed(1)}`, 'raw SQL baseline': '-', ratio: '-' });
  process.stdout.write(`${driver} watch latency: p50 ${w.p50.toFixed(1)} ms, p99 ${w.p99.toFixed(1)} ms\n`);
  return rows;
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'tp-bench-'));
  try {
    const bk = await openBackend({ storage: { type: 'sqlite', path: path.join(tmp, 'backend') }, dataDir: tmp });
    const raw = rawSqliteOps(path.join(tmp, 'raw.db'));
    try {
      rows.push(...(await measure('sqlite', bk, raw)));
    } finally {
      await bk.close();
      raw.close();
    }
    const server = await startPostgres();
    try {
      const url = server.url('postgres');
      const pgbk = await openBackend({ storage: { type: 'postgres', conn_string: server.url('teleport_bench') }, dataDir: tmp });
      const rawPg = rawPostgresOps(url);
      try {
        rows.push(...(await measure('postgres', pgbk, rawPg)));
      } finally {
        await pgbk.close();
        await rawPg.close();
      }
    } finally {
      await server.destroy();
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  const body = [
    '## Storage backends',
    '',
    'Command: `npx -y pnpm@10 bench backend` (each figure runs for 3 s; `BENCH_DURATION_MS` changes that).',
    `Machine: ${machineLine()}. PostgreSQL 15 is the test harness's server on loopback (fsync=off, synchronous_commit=off).`,
    'Baseline: the same operation as a single raw SQL statement through the same client library, on the same storage, in the same run.',
    'Put and get keys are spread over 1,000 keys per client; compare-and-swap increments one counter per client.',
    '',
    markdownTable(rows),
  ].join('\n');
  await writeSection('backend', body);
  process.stdout.write('\nwritten to docs/benchmarks.md\n');
}

await main();
