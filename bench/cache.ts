/**
 * `pnpm bench cache`: what the watch-fed cache (`core/cache`) saves the auth server on PostgreSQL. Two auth servers
 * on one backend, one with the cache and one without (`cache: false`), answer the requests a proxy makes on every
 * database connection (`GET /db_servers` with 100 heartbeats stored: identify the caller, check its locks, list) and
 * a role read (`GET /roles/access`), from 1 and 16 concurrent clients. Also: one facade `get` against a backend `get`
 * in process, and the latency of a read right after a write of the same process (answered by the backend until the
 * barrier shows the write in memory).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { newAuthClient, type AuthClient } from '@teleport-ts/core/api';
import { openAuditStore } from '@teleport-ts/core/audit';
import { openBackend, type Backend } from '@teleport-ts/core/backend';
import { startBackendCache } from '@teleport-ts/core/cache';
import { systemClock } from '@teleport-ts/core/clock';
import { startPostgres } from '@teleport-ts/testkit';
import { startAuthServer, type AuthServer } from '../packages/daemon/src/roles/auth/index.js';
import { colocatedProxyIdentity } from '../packages/daemon/src/roles/proxy/index.js';
import { rate as loopRate } from './_common.js';
import { machineLine, markdownTable, percentile, writeSection, type Row } from './_report.js';

const DURATION_MS = Number(process.env['BENCH_DURATION_MS'] ?? 3000);
const enc = new TextEncoder();
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

/** Operations per second of `op` from `clients` concurrent loops for DURATION_MS. */
const rate = (clients: number, op: () => Promise<unknown>): Promise<number> => loopRate(clients, DURATION_MS, op);

async function startAuth(backend: Backend, dir: string, cache: boolean): Promise<{ auth: AuthServer; proxy: AuthClient }> {
  const clock = systemClock;
  const audit = await openAuditStore({ dataDir: dir, clock });
  const auth = await startAuthServer({
    backend,
    audit,
    dataDir: dir,
    nodename: 'bench',
    clusterName: 'bench.example.com',
    listenAddr: '127.0.0.1:0',
    rateLimit: { average: 1e6, burst: 1e6 },
    rotationCheckIntervalMs: 0,
    clock,
    ...(cache ? {} : { cache: false as const }),
  });
  const proxy = newAuthClient({ addr: auth.dialAddr, identity: await colocatedProxyIdentity(auth, auth.dialAddr) });
  return { auth, proxy };
}

async function apiRows(backend: Backend, tmp: string): Promise<Row[]> {
  const rows: Row[] = [];
  const withCache = await startAuth(backend, path.join(tmp, 'a'), true);
  const without = await startAuth(backend, path.join(tmp, 'b'), false);
  try {
    const expires = new Date(Date.now() + 3_600_000);
    for (let i = 0; i < 100; i++) {
      const server = { kind: 'db_server', version: 'v3', metadata: { name: `db${i}` }, spec: { host_id: `host-${i}`, hostname: 'h', version: '', database: { kind: 'db', version: 'v3', metadata: { name: `db${i}`, labels: {} }, spec: { protocol: 'postgres', uri: 'x:5432' } } } };
      await backend.put({ key: `/db_servers/host-${i}/db${i}`, value: enc.encode(JSON.stringify(server)), expires });
    }
    await new Promise((r) => setTimeout(r, 500));
    for (const [what, op] of [
      ['GET /db_servers (100 servers)', (c: AuthClient) => c.getDatabaseServers()],
      ['GET /roles/access', (c: AuthClient) => c.getRole('access')],
    ] as const) {
      for (const clients of [1, 16]) {
        const cached = await rate(clients, () => op(withCache.proxy));
        const direct = await rate(clients, () => op(without.proxy));
        rows.push({ request: what, clients, 'req/s with cache': fmt(cached), 'req/s without': fmt(direct), ratio: `${(cached / direct).toFixed(1)}x` });
      }
    }
  } finally {
    for (const x of [withCache, without]) {
      await x.proxy.close();
      await x.auth.close();
    }
  }
  return rows;
}

async function inProcessRows(backend: Backend): Promise<Row[]> {
  const cache = startBackendCache({ backend, prefixes: ['/bench/'] });
  await cache.whenReady(10_000);
  await backend.put({ key: '/bench/k', value: enc.encode('v') });
  await new Promise((r) => setTimeout(r, 200));
  const timed = async (n: number, op: () => Promise<unknown>): Promise<number[]> => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      await op();
      out.push(performance.now() - t);
    }
    return out.sort((x, y) => x - y);
  };
  const us = (ms: number): string => `${(ms * 1000).toFixed(0)} µs`;
  const fromMemory = await timed(2000, () => cache.cached.get('/bench/k'));
  const fromBackend = await timed(2000, () => backend.get('/bench/k'));
  // A write, then reads until the barrier came back: how long the backend answers for memory.
  const untilMemory: number[] = [];
  for (let i = 0; i < 50; i++) {
    await cache.cached.put({ key: '/bench/k', value: enc.encode(String(i)) });
    const t = performance.now();
    // A read from memory takes microseconds, one from PostgreSQL at least a few hundred.
    for (let fast = false; !fast && performance.now() - t < 5_000; ) {
      const before = performance.now();
      await cache.cached.get('/bench/k');
      fast = performance.now() - before < 0.05;
    }
    untilMemory.push(performance.now() - t);
  }
  untilMemory.sort((x, y) => x - y);
  await cache.close();
  return [
    { read: 'cache facade get (memory)', p50: us(percentile(fromMemory, 50)), p99: us(percentile(fromMemory, 99)) },
    { read: 'backend get', p50: us(percentile(fromBackend, 50)), p99: us(percentile(fromBackend, 99)) },
    { read: 'own write until served from memory again', p50: us(percentile(untilMemory, 50)), p99: us(percentile(untilMemory, 99)) },
  ];
}

async function main(): Promise<void> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'tp-bench-cache-'));
  const pg = await startPostgres();
  const backend = await openBackend({ storage: { type: 'postgres', conn_string: pg.url('teleport_bench', { sslmode: 'disable' }) }, dataDir: tmp });
  try {
    const api = await apiRows(backend, tmp);
    const local = await inProcessRows(backend);
    const body = [
      '## Cache (`pnpm bench cache`)',
      '',
      machineLine(),
      '',
      'Auth API on PostgreSQL, a Proxy identity as the caller (identify, lock check, then the read), with and without the watch-fed cache:',
      '',
      markdownTable(api),
      '',
      'In process, PostgreSQL backend:',
      '',
      markdownTable(local),
    ].join('\n');
    process.stdout.write(`${body}\n`);
    await writeSection('cache', body);
  } finally {
    await backend.close();
    await pg.destroy();
    await rm(tmp, { recursive: true, force: true });
  }
}

await main();
