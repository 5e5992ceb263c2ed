/**
 * `pnpm bench db`: database access through the chain against direct and against native programs doing the same hops,
 * all in one run, alternating, so machine noise hits every variant alike.
 *
 * - direct: pgbench -> PostgreSQL over TLS with a `db_client`-signed client certificate (what the db agent presents).
 * - chain:  pgbench -> `tsh proxy db --tunnel` (local, plain) -> proxy (TLS, teleport-postgres) -> reverse tunnel ->
 *           db agent (RBAC, audit) -> PostgreSQL (TLS, client certificate).
 * - 3 relays: three node processes that only `socket.pipe`, pgbench's TLS end to end through them.
 * - haproxy chain: three haproxy processes (one thread each) terminating and re-originating TLS on each hop.
 * - pgbouncer: one pgbouncer hop with TLS on both sides.
 *
 * Rows: `pgbench -S`, tpcb-like, `-C -S` (new session per transaction), `-c 1 -S` (one connection: round-trip latency)
 * and a bulk row (COPY of ~100 MB out of and into PostgreSQL with psql). Everything is the BUILT programs
 * (`pnpm build` first) as users run them. PostgreSQL stands in for CockroachDB (same wire protocol).
 *
 * Knobs: BENCH_DURATION_S (-T of the throughput rows, default 8), BENCH_DB_ROUNDS (default 2), BENCH_DB_RUNS=0,3
 * (only those rows; nothing written), BENCH_DB_VARIANTS=direct,chain (only those variants; nothing written),
 * BENCH_CPU_PROF_DIR (CPU profiles of the chain's node processes), BENCH_DB_HOLD (start everything and wait),
 * BENCH_DB_WORKERS (`db_service.workers` of the db agent: a number or `auto`; default 1; the agent's CPU column
 * then counts all its processes).
 */

import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { loadIdentity, newAuthClient } from '@teleport-ts/core/api';
import { generateKeyPair } from '@teleport-ts/core/ca';
import { agentConfigLines, findExecutable, freePort, roachService, startPostgres, type PostgresServer } from '@teleport-ts/testkit';
import { cli, cpuSeconds, loginAlice, startBenchCluster, startProcess, tool, type BenchProcess } from './_common.js';
import { startHaproxyChain, startPgbouncer } from './_db-anchors.js';
import { machineLine, markdownTable, writeSection, type Row } from './_report.js';

const root = path.resolve(import.meta.dirname, '..');
const DURATION_S = Number(process.env['BENCH_DURATION_S'] ?? 8);
const CONNECT_DURATION_S = Math.max(3, Math.min(10, Math.round(DURATION_S / 2)));
/** Each run is measured this many times (direct, chain, relays alternating); the tables show means. */
const ROUNDS = Math.max(1, Number(process.env['BENCH_DB_ROUNDS'] ?? 2));
const CLIENTS = 8;
const THREADS = 2;
const PASSWORD = 'correct horse battery staple';
/** `db_service.workers` of the agent (a number or `auto`); unset: the default. */
const DB_WORKERS = process.env['BENCH_DB_WORKERS'];

/** Live child processes of `pid`, from /proc (Linux). */
function childPids(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The parent's pid is the second field after the command name.
      if (stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1] === String(pid)) children.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return children;
}

/** CPU seconds of a process and its live descendants: the db agent's worker processes are its children. */
function treeCpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  return childPids(pid).reduce((sum, child) => sum + (treeCpuSeconds(child) || 0), cpuSeconds(pid));
}

interface PgbenchResult {
  tps: number;
  latencyMs: number;
}

async function pgbench(conninfo: string, args: string[]): Promise<PgbenchResult> {
  const out = await tool(findExecutable('pgbench') ?? 'pgbench', [...args, '-n', conninfo], { env: { ...process.env, PGCONNECT_TIMEOUT: '20' } });
  const tps = /tps = ([\d.]+)/.exec(out)?.[1];
  const latency = /latency average = ([\d.]+) ms/.exec(out)?.[1];
  if (tps === undefined) throw new Error(`no tps in pgbench output:\n${out}`);
  return { tps: Number(tps), latencyMs: latency === undefined ? NaN : Number(latency) };
}

/**
 * The floor of any three-hop chain on this machine: three node processes that only relay bytes (`socket.pipe`, no
 * TLS of their own, no parsing), chained in front of PostgreSQL. pgbench keeps its end-to-end TLS through them, so
 * the database and pgbench do exactly the direct run's work and the difference is the cost of three relaying hops
 * (wake-ups, copies, loopback TCP) on the same two cores.
 */
const RELAY_SCRIPT = `
const net = require('node:net');
const [listen, target] = process.argv.slice(1).map(Number);
const server = net.createServer({ noDelay: true }, (c) => {
  const u = net.connect({ port: target, host: '127.0.0.1', noDelay: true });
  c.pipe(u); u.pipe(c);
  c.on('error', () => u.destroy()); u.on('error', () => c.destroy());
  c.on('close', () => u.destroy()); u.on('close', () => c.destroy());
});
server.listen(listen, '127.0.0.1', () => process.stdout.write('relaying\\n'));
`;

async function startRelays(target: number, hops: number): Promise<{ port: number; pids: (number | undefined)[]; stop(): Promise<void> }> {
  const relays: BenchProcess[] = [];
  let next = target;
  for (let i = 0; i < hops; i++) {
    const port = await freePort();
    relays.push(await startProcess(process.execPath, ['-e', RELAY_SCRIPT, String(port), String(next)], /relaying/));
    next = port;
  }
  return { port: next, pids: relays.map((r) => r.child.pid), stop: async () => void (await Promise.all(relays.map((r) => r.stop()))) };
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

type VariantKey = 'direct' | 'chain' | 'relays' | 'haproxy' | 'pgbouncer';
const VARIANT_NAMES: Record<VariantKey, string> = { direct: 'direct', chain: 'chain', relays: '3 relays', haproxy: 'haproxy chain', pgbouncer: 'pgbouncer' };
const VARIANTS = process.env['BENCH_DB_VARIANTS']?.split(',') as VariantKey[] | undefined;

interface Variant {
  key: VariantKey;
  conninfo: string;
  /** Processes whose CPU time is counted for this variant (none for direct). */
  pids: (number | undefined)[];
}

interface RunResult {
  name: string;
  unit: string;
  /** Rate (TPS or sessions/s) or, for the bulk row, seconds; per variant, means over the rounds. */
  value: Partial<Record<VariantKey, number>>;
  latencyMs: Partial<Record<VariantKey, number>>;
  /** CPU µs per transaction (per MB for bulk) of each process of each variant, summed over the rounds. */
  cpuPerUnit: Partial<Record<VariantKey, number[]>>;
  lowerIsBetter: boolean;
}

/** CPU seconds used by `pids` while `work` runs. */
async function withCpu<T>(pids: (number | undefined)[], work: () => Promise<T>): Promise<{ result: T; cpu: number[] }> {
  const before = pids.map(treeCpuSeconds);
  const result = await work();
  return { result, cpu: pids.map((pid, i) => treeCpuSeconds(pid) - before[i]!) };
}

async function measureRun(r: { name: string; args: string[] }, variants: Variant[]): Promise<RunResult> {
  const warm = [...r.args.filter((a, i, all) => all[i - 1] !== '-T' && a !== '-T'), '-T', '2'];
  // A loaded machine may spend the whole warm-up connecting: that is fine, the point is the JIT and the caches.
  for (const v of variants) await pgbench(v.conninfo, warm).catch(() => undefined);
  const tps: Partial<Record<VariantKey, number[]>> = {};
  const lat: Partial<Record<VariantKey, number[]>> = {};
  const cpu: Partial<Record<VariantKey, number[]>> = {};
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate the order too, so that no variant always runs right after the same neighbour.
    const order = round % 2 === 0 ? variants : [...variants].reverse();
    for (const v of order) {
      const { result, cpu: used } = await withCpu(v.pids, () => pgbench(v.conninfo, r.args));
      (tps[v.key] ??= []).push(result.tps);
      (lat[v.key] ??= []).push(result.latencyMs);
      const transactions = result.tps * Number(r.args[r.args.indexOf('-T') + 1]);
      const perTx = used.map((s) => (s / transactions) * 1e6);
      cpu[v.key] = (cpu[v.key] ?? perTx.map(() => 0)).map((x, i) => x + perTx[i]! / ROUNDS);
    }
  }
  process.stdout.write(`${r.name}: ${variants.map((v) => `${v.key} ${tps[v.key]!.map((x) => x.toFixed(0)).join('/')}`).join('; ')}\n`);
  const means = (m: Partial<Record<VariantKey, number[]>>) => Object.fromEntries(Object.entries(m).map(([k, xs]) => [k, mean(xs)]));
  return { name: `pgbench ${r.name}`, unit: r.args.includes('-C') ? 'sessions/s' : 'TPS', value: means(tps), latencyMs: means(lat), cpuPerUnit: cpu, lowerIsBetter: false };
}

/** Runs psql with `sql`, stdin from `input` (or nothing), stdout discarded; resolves with the wall time in seconds. */
function psqlTimed(conninfo: string, sql: string, input?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const stdin = input === undefined ? 'ignore' : openSync(input, 'r');
    const started = process.hrtime.bigint();
    const child = spawn(findExecutable('psql') ?? 'psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', sql, conninfo], { stdio: [stdin, 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    child.on('exit', (code) => {
      if (typeof stdin === 'number') closeSync(stdin);
      if (code === 0) resolve(Number(process.hrtime.bigint() - started) / 1e9);
      else reject(new Error(`psql ${sql} failed: ${err}`));
    });
  });
}

/** The bulk row: COPY the ~100 MB `bulk` table out to psql and the same rows back in, per variant, seconds. */
async function measureBulk(pg: PostgresServer, variants: Variant[], dir: string): Promise<RunResult> {
  const file = path.join(dir, 'bulk.copy');
  const superuser = `host=${pg.socketDir} port=${pg.port} user=postgres dbname=bench`;
  await psqlTimed(superuser, `\\copy bulk to '${file}'`);
  const megabytes = statSync(file).size / 1e6;
  const secs: Partial<Record<VariantKey, number[]>> = {};
  const cpu: Partial<Record<VariantKey, number[]>> = {};
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? variants : [...variants].reverse();
    for (const v of order) {
      await psqlTimed(superuser, 'TRUNCATE bulk_in');
      const { result, cpu: used } = await withCpu(v.pids, async () => {
        const out = await psqlTimed(v.conninfo, 'COPY bulk TO STDOUT');
        return out + (await psqlTimed(v.conninfo, 'COPY bulk_in FROM STDIN', file));
      });
      (secs[v.key] ??= []).push(result);
      const perMb = used.map((s) => (s / (2 * megabytes)) * 1e6);
      cpu[v.key] = (cpu[v.key] ?? perMb.map(() => 0)).map((x, i) => x + perMb[i]! / ROUNDS);
    }
  }
  process.stdout.write(`bulk: ${variants.map((v) => `${v.key} ${secs[v.key]!.map((x) => x.toFixed(2)).join('/')} s`).join('; ')}\n`);
  const value = Object.fromEntries(Object.entries(secs).map(([k, xs]) => [k, mean(xs)]));
  return { name: `COPY ${megabytes.toFixed(0)} MB out, then in (psql)`, unit: 's', value, latencyMs: {}, cpuPerUnit: cpu, lowerIsBetter: true };
}

/**
 * CPU per `-S` query across the chain's three processes before the work on issue 15 (this bench, 2026-12-03, the
 * 2-core machine at load average 25; the idle-machine figure of the previous bench was 336 µs).
 */
const BASELINE_S_CPU_US = 591;

/** The issue's targets, each with what this run measured (a target whose row or variant did not run is left out). */
function verdicts(results: RunResult[]): string {
  const row = (prefix: string): RunResult | undefined => results.find((r) => r.name.startsWith(prefix));
  const lines: string[] = [];
  const check = (what: string, ok: boolean, figure: string): void => void lines.push(`- ${what}: ${ok ? 'met' : 'MISSED'} (${figure})`);
  for (const prefix of ['pgbench -S -c 8', 'pgbench tpcb-like']) {
    const r = row(prefix);
    if (r?.value.chain !== undefined && r.value.haproxy !== undefined) {
      const x = r.value.chain / r.value.haproxy;
      check(`${prefix.replace('pgbench ', '')}: chain >= 0.8x the haproxy chain`, x >= 0.8, `${x.toFixed(2)}x`);
    }
  }
  const readOnly = row('pgbench -S -c 8');
  if (readOnly?.cpuPerUnit.chain !== undefined) {
    const total = readOnly.cpuPerUnit.chain.reduce((a, b) => a + b, 0);
    check(
      `CPU per -S query across the three chain processes at most half of ${BASELINE_S_CPU_US} µs (measured before the work on issue 15, same machine)`,
      total <= BASELINE_S_CPU_US / 2,
      `${total.toFixed(0)} µs`,
    );
  }
  const one = row('pgbench -S -c 1');
  if (one?.latencyMs.chain !== undefined && one.latencyMs.haproxy !== undefined && one.latencyMs.direct !== undefined) {
    const x = (one.latencyMs.chain - one.latencyMs.direct) / (one.latencyMs.haproxy - one.latencyMs.direct);
    check('-c 1 -S: the chain adds at most 2x the latency the haproxy chain adds over direct', x <= 2, `${x.toFixed(2)}x`);
  }
  const c = row('pgbench -C');
  if (c?.value.chain !== undefined && c.value.direct !== undefined && c.value.haproxy !== undefined) {
    const x = c.value.chain / c.value.direct;
    check('-C -S: sessions/s through the chain >= 0.65x direct and >= the haproxy chain', x >= 0.65 && c.value.chain >= c.value.haproxy, `${x.toFixed(2)}x direct, ${(c.value.chain / c.value.haproxy).toFixed(2)}x haproxy`);
  }
  const bulk = row('COPY');
  if (bulk?.value.chain !== undefined && bulk.value.direct !== undefined) {
    const x = bulk.value.chain / bulk.value.direct;
    check('bulk: chain time <= 1.3x direct', x <= 1.3, `${x.toFixed(2)}x`);
  }
  return lines.length === 0 ? '' : ['Targets (issue 15):', '', ...lines, ''].join('\n');
}

function renderTables(results: RunResult[], variants: Variant[]): string {
  const keys = variants.map((v) => v.key);
  const ratio = (r: RunResult, a: VariantKey, b: VariantKey): string => {
    const [x, y] = [r.value[a], r.value[b]];
    if (x === undefined || y === undefined) return '';
    // For times, the ratio is still "how much of b's speed a reaches": b's time over a's.
    return `${(r.lowerIsBetter ? y / x : x / y).toFixed(2)}x`;
  };
  const main: Row[] = results.map((r) => ({
    run: r.name,
    unit: r.unit,
    ...Object.fromEntries(keys.map((k) => [VARIANT_NAMES[k], r.value[k] === undefined ? '' : r.value[k]!.toFixed(r.unit === 's' ? 2 : 0)])),
    'chain / direct': ratio(r, 'chain', 'direct'),
    'chain / haproxy': ratio(r, 'chain', 'haproxy'),
    'haproxy / direct': ratio(r, 'haproxy', 'direct'),
    'pgbouncer / direct': ratio(r, 'pgbouncer', 'direct'),
    '3 relays / direct': ratio(r, 'relays', 'direct'),
  }));
  const latency: Row[] = results
    .filter((r) => Object.keys(r.latencyMs).length > 0)
    .map((r) => {
      const d = r.latencyMs.direct ?? NaN;
      const added = (k: VariantKey): number => (r.latencyMs[k] ?? NaN) - d;
      return {
        run: r.name,
        ...Object.fromEntries(keys.map((k) => [`${VARIANT_NAMES[k]} ms`, (r.latencyMs[k] ?? NaN).toFixed(3)])),
        'chain adds (ms)': added('chain').toFixed(3),
        'haproxy adds (ms)': added('haproxy').toFixed(3),
        'chain added / haproxy added': `${(added('chain') / added('haproxy')).toFixed(2)}x`,
      };
    });
  const cpu: Row[] = results.map((r) => {
    const c = r.cpuPerUnit;
    const sum = (xs: number[] | undefined): string => (xs === undefined ? '' : xs.reduce((a, b) => a + b, 0).toFixed(0));
    return {
      run: r.name,
      unit: r.unit === 's' ? 'µs/MB' : r.unit === 'TPS' ? 'µs/tx' : 'µs/session',
      'auth+proxy': c.chain?.[0]?.toFixed(0) ?? '',
      'db agent': c.chain?.[1]?.toFixed(0) ?? '',
      'tsh proxy db': c.chain?.[2]?.toFixed(0) ?? '',
      'chain total': sum(c.chain),
      'haproxy x3 (each)': c.haproxy === undefined ? '' : `${sum(c.haproxy)} (${c.haproxy.map((x) => x.toFixed(0)).join(' + ')})`,
      pgbouncer: sum(c.pgbouncer),
      '3 relays': sum(c.relays),
      'chain / haproxy': c.chain && c.haproxy ? `${(c.chain.reduce((a, b) => a + b, 0) / c.haproxy.reduce((a, b) => a + b, 0)).toFixed(1)}x` : '',
    };
  });
  return [
    'Throughput (bulk: seconds, and the ratios are speed ratios, i.e. the other variant\'s time over this one\'s):',
    '',
    verdicts(results),
    '',
    markdownTable(main),
    '',
    ...(latency.length === 0 ? [] : ['Mean latency per transaction as pgbench reports it, and what each chain adds over direct:', '', markdownTable(latency), '']),
    'CPU time (user + system, from /proc) of each process of a variant per transaction (per session for -C, per MB moved for bulk), µs:',
    '',
    markdownTable(cpu),
  ].join('\n');
}

async function main(): Promise<void> {
  for (const name of ['tsh', 'tctl', 'teleport-ts']) {
    if (!existsSync(path.join(root, 'packages', name === 'teleport-ts' ? 'daemon' : name, 'dist', 'cli.js'))) {
      throw new Error('build first: pnpm build');
    }
  }
  if (findExecutable('pgbench') === undefined) throw new Error('pgbench not found: apt-get install -y postgresql-client');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tp-bench-db-'));
  const cleanups: (() => Promise<void>)[] = [];
  try {
    // ---- cluster: auth + proxy ------------------------------------------------------------------------------
    const { process: cluster, authAddr, proxyAddr, pin, tctl } = await startBenchCluster(dir, cleanups);

    // ---- PostgreSQL with the cluster's certificates, client certificates required -----------------------------
    const certs = path.join(dir, 'certs');
    await tctl(['auth', 'sign', '--format=cockroachdb', '--host=localhost', `--out=${certs}`]);
    const pg: PostgresServer = await startPostgres({
      tls: { certFile: path.join(certs, 'node.crt'), keyFile: path.join(certs, 'node.key'), caFile: path.join(certs, 'ca-client.crt') },
      // The plain line is for the haproxy chain's last hop (haproxy cannot do PostgreSQL's in-protocol TLS upgrade).
      hba: ['local all all trust', 'hostssl all all 127.0.0.1/32 cert', 'host bench alice 127.0.0.1/32 trust'],
      settings: { max_connections: 300 },
    });
    cleanups.unshift(() => pg.destroy());
    await pg.query('CREATE ROLE alice LOGIN');
    await pg.createDatabase('bench');
    await pg.query('ALTER DATABASE bench OWNER TO alice');
    await tool(findExecutable('pgbench') ?? 'pgbench', ['-i', '-q', '-s', '1', '-h', pg.socketDir, '-p', String(pg.port), '-U', 'postgres', 'bench']);
    // The bulk row's table: about 100 MB as COPY text (1,000,000 rows of ~100 bytes).
    const bulkSql = "CREATE TABLE bulk AS SELECT i AS id, md5(i::text) || repeat('x', 60) AS pad FROM generate_series(1, 1000000) i; CREATE TABLE bulk_in (LIKE bulk)";
    await tool(findExecutable('psql') ?? 'psql', ['-h', pg.socketDir, '-p', String(pg.port), '-U', 'postgres', '-d', 'bench', '-c', bulkSql]);
    const grant = 'GRANT ALL ON ALL TABLES IN SCHEMA public TO alice';
    await tool(findExecutable('psql') ?? 'psql', ['-h', pg.socketDir, '-p', String(pg.port), '-U', 'postgres', '-d', 'bench', '-c', grant]);

    // The direct path's client certificate: issued by the cluster's db_client CA, as the agent's are.
    const keys = await generateKeyPair('ecdsa-p256');
    const admin = newAuthClient({ addr: authAddr, identity: await loadIdentity(path.join(dir, 'data', 'admin')) });
    const clientCert = await admin.generateDatabaseClientCert({ publicKey: keys.publicKeyPem, dbUser: 'alice', ttl: 3_600_000 });
    await admin.close();
    await writeFile(path.join(dir, 'alice.crt'), clientCert.cert);
    await writeFile(path.join(dir, 'alice.key'), keys.privateKeyPem, { mode: 0o600 });
    const direct = [
      'host=localhost',
      'hostaddr=127.0.0.1',
      `port=${pg.port}`,
      'dbname=bench',
      'user=alice',
      'sslmode=verify-full',
      `sslrootcert=${path.join(certs, 'ca.crt')}`,
      `sslcert=${path.join(dir, 'alice.crt')}`,
      `sslkey=${path.join(dir, 'alice.key')}`,
    ].join(' ');

    // ---- db agent in its own process, joined through the proxy -----------------------------------------------
    const token = /--token=([0-9a-f]+)/.exec(await tctl(['tokens', 'add', '--type=db']))![1]!;
    const agentConfig = path.join(dir, 'agent.yaml');
    const services = roachService({ port: pg.port, caFile: path.join(certs, 'ca.crt'), labels: { env: 'bench' } });
    if (DB_WORKERS !== undefined) services.splice(services.indexOf('  enabled: yes') + 1, 0, `  workers: ${DB_WORKERS}`);
    await writeFile(agentConfig, [...agentConfigLines({ name: 'bench-db-agent', dataDir: path.join(dir, 'agent'), services }), ''].join('\n'));
    const agent = await startProcess(
      ...cli('teleport-ts', ['start', '--roles=db', `--auth-server=${proxyAddr}`, `--token=${token}`, `--ca-pin=${pin}`, '-c', agentConfig]),
      /press Ctrl-C to stop/,
    );
    cleanups.unshift(agent.stop);

    // ---- user alice, tsh login, tsh proxy db --tunnel ---------------------------------------------------------
    // Waits for the agent's heartbeat too.
    const tshEnv = await loginAlice({ tctl, roleArgs: ['--roles=access', '--db-users=alice', '--db-names=bench'], password: PASSWORD, proxyAddr, home: path.join(dir, 'tsh'), listArgs: ['db', 'ls'], name: 'roach' });
    const localPort = await freePort();
    const tunnel = await startProcess(
      ...cli('tsh', ['proxy', 'db', '--tunnel', '--insecure', `--port=${localPort}`, '--db-user=alice', '--db-name=bench', 'roach']),
      /Started authenticated tunnel/,
      tshEnv,
    );
    cleanups.unshift(tunnel.stop);
    const chain = `host=127.0.0.1 port=${localPort} dbname=bench user=alice sslmode=disable`;

    if (process.env['BENCH_DB_HOLD'] !== undefined) {
      // For poking at the chain by hand (strace, perf, psql): print where things are and wait for Ctrl-C.
      process.stdout.write(
        `direct: ${direct}\nchain: ${chain}\npids: cluster ${cluster.child.pid}, agent ${agent.child.pid}, tsh ${tunnel.child.pid}, postgres ${pg.pid}\n`,
      );
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
      return;
    }

    // ---- the anchors: three relaying node processes, three haproxy TLS hops, one pgbouncer TLS hop --------------
    const relays = await startRelays(pg.port, 3);
    cleanups.unshift(relays.stop);
    const anchorCerts = {
      serverCert: path.join(certs, 'node.crt'),
      serverKey: path.join(certs, 'node.key'),
      serverCa: path.join(certs, 'ca.crt'),
      clientCert: path.join(dir, 'alice.crt'),
      clientKey: path.join(dir, 'alice.key'),
      clientCa: path.join(certs, 'ca-client.crt'),
    };
    const plainAt = (port: number): string => `host=127.0.0.1 port=${port} dbname=bench user=alice sslmode=disable`;
    const tlsAt = (port: number): string => direct.replace(`port=${pg.port}`, `port=${port}`).replace(/ sslcert=\S+ sslkey=\S+/, '');
    const haproxy = await startHaproxyChain(dir, anchorCerts, pg.port, plainAt);
    if (haproxy !== undefined) cleanups.unshift(haproxy.stop);
    // Its own directory: as root, pgbouncer runs as `postgres`, which must read it (the bench's directory is 0700).
    const pgbouncerDir = await mkdtemp(path.join(os.tmpdir(), 'tp-bench-pgb-'));
    cleanups.unshift(() => rm(pgbouncerDir, { recursive: true, force: true }));
    const bouncer = await startPgbouncer(pgbouncerDir, anchorCerts, pg.port, tlsAt);
    if (bouncer !== undefined) cleanups.unshift(bouncer.stop);
    const missing = [haproxy === undefined ? 'haproxy' : '', bouncer === undefined ? 'pgbouncer' : ''].filter(Boolean);
    if (missing.length > 0) process.stdout.write(`skipping the ${missing.join(' and ')} anchor (apt-get install -y ${missing.join(' ')})\n`);

    const all: Variant[] = [
      { key: 'direct', conninfo: direct, pids: [] },
      { key: 'chain', conninfo: chain, pids: [cluster.child.pid, agent.child.pid, tunnel.child.pid] },
      { key: 'relays', conninfo: direct.replace(`port=${pg.port}`, `port=${relays.port}`), pids: relays.pids },
      ...(haproxy === undefined ? [] : [{ key: 'haproxy' as const, conninfo: haproxy.conninfo, pids: haproxy.pids }]),
      ...(bouncer === undefined ? [] : [{ key: 'pgbouncer' as const, conninfo: bouncer.conninfo, pids: bouncer.pids }]),
    ];
    const variants = all.filter((v) => VARIANTS === undefined || VARIANTS.includes(v.key));

    const base = ['-c', String(CLIENTS), '-j', String(THREADS)];
    const runs: { name: string; args: string[] }[] = [
      { name: `-S ${base.join(' ')} -T ${DURATION_S}`, args: ['-S', ...base, '-T', String(DURATION_S)] },
      { name: `tpcb-like ${base.join(' ')} -T ${DURATION_S}`, args: [...base, '-T', String(DURATION_S)] },
      { name: `-C -S ${base.join(' ')} -T ${CONNECT_DURATION_S}`, args: ['-C', '-S', ...base, '-T', String(CONNECT_DURATION_S)] },
      { name: `-S -c 1 -j 1 -T ${CONNECT_DURATION_S}`, args: ['-S', '-c', '1', '-j', '1', '-T', String(CONNECT_DURATION_S)] },
    ];
    const only = process.env['BENCH_DB_RUNS'];
    const selected = (i: number): boolean => only === undefined || only.split(',').includes(String(i));
    const results: RunResult[] = [];
    for (const [i, r] of runs.entries()) {
      if (!selected(i)) continue;
      results.push(await measureRun(r, variants));
    }
    if (selected(runs.length)) results.push(await measureBulk(pg, variants, dir));

    const tables = renderTables(results, variants);
    if (only !== undefined || VARIANTS !== undefined) {
      process.stdout.write(`${tables}\n(BENCH_DB_RUNS or BENCH_DB_VARIANTS set: docs/benchmarks.md not written)\n`);
      return;
    }
    const body = [
      '## Database access (`pnpm bench db`)',
      '',
      'Command: `npx -y pnpm@10 build && npx -y pnpm@10 bench db` (about 6 minutes; `BENCH_DURATION_S` sets -T of the throughput rows, `BENCH_DB_ROUNDS` the rounds; ' +
        '`BENCH_DB_RUNS=0,3` runs only some rows and `BENCH_DB_VARIANTS=direct,chain` only some variants, and then writes nothing here; ' +
        '`BENCH_DB_WORKERS` sets the db agent\'s `db_service.workers`). ' +
        'The anchors need `apt-get install -y haproxy pgbouncer` (skipped when missing).',
      `Machine: ${machineLine()}; load average at start ${os.loadavg()[0]!.toFixed(2)}. Durations: -T ${DURATION_S} s (-C and -c 1 runs ${CONNECT_DURATION_S} s), after a 2 s warm-up of each variant; ` +
        `each run measured ${ROUNDS} times with the variants alternating, figures are means. db agent processes (\`db_service.workers\`): ${DB_WORKERS ?? 1}.`,
      '',
      'direct = pgbench -> PostgreSQL (TLS, ECDSA P-256 db_client certificate, as the agent presents); chain = pgbench -> `tsh proxy db --tunnel` -> proxy -> reverse tunnel -> db agent -> PostgreSQL; ' +
        '3 relays = three node processes that only relay bytes (`socket.pipe`), pgbench\'s TLS end to end; haproxy = three haproxy processes (`nbthread 1`) ' +
        'in the chain\'s hop structure, each terminating and re-originating TLS (plain -> TLS, TLS -> TLS with client certificates, TLS -> plain to PostgreSQL); ' +
        'pgbouncer = one pgbouncer hop, TLS from pgbench and TLS with the client certificate to PostgreSQL (session pooling, so -C reuses server connections). ' +
        'Everything shares the same 2 cores.',
      '',
      tables,
    ].join('\n');
    await writeSection('db', body);
    process.stdout.write(`\n${body}\n`);
  } finally {
    for (const c of cleanups) await c().catch(() => {});
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
