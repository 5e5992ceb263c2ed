/**
 * `pnpm bench scale -- --agents=<n>` (default 200): what a fleet of n agents costs the cluster.
 * Two auth+proxy processes (the built `teleport-ts start`) on one PostgreSQL, proxy peering with one tunnel per
 * agent. n simulated agents in a few worker processes (`_scale-agents.ts`): each joins through a proxy with a
 * shared `node,db` token (reusable until it expires, as Teleport's), then heartbeats its `node` or `db_server`
 * (half each) with its own identity through the proxy's auth passthrough, at the daemon's period; the first
 * `--tunnels` (default half of them, at most 1,000) also keep a real reverse tunnel. The agents connect from 250
 * loopback addresses (127.10.0.x), so the per-address limits stay as shipped. Measured:
 * - join time; proxy resident memory before and after the tunnels (memory per 1,000 tunnels);
 * - over a steady-state window (`--window`, default 60 s): CPU of each auth+proxy process (utime+stime from
 *   /proc/<pid>/stat, as a share of the machine's cores), RSS, backend writes/s (tuples inserted, updated and
 *   deleted in the backend database, from pg_stat_database) and heartbeat latency p50/p99;
 * - the built `tsh ls` and `tsh db ls` with every resource listed (`--runs`, default 5, p50 and max); `--hold` keeps
 *   the cluster and the fleet up afterwards, until SIGUSR2, to run commands by hand.
 * Needs `pnpm build` first. The machine's load average is written with the figures.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadIdentity, newAuthClient } from '@teleport-ts/core/api';
import { clusterMemberConfig, freePort, repoBin, runProgram, startPostgres, type PostgresServer } from '@teleport-ts/testkit';
import { DEFAULT_HEARTBEAT } from '../packages/daemon/src/roles/heartbeat-timing.js';
import { cli, cpuSeconds, startProcess, type BenchProcess } from './_common.js';
import { machineLine, markdownTable, percentile, problemKey, writeSection, type Row } from './_report.js';
import type { WorkerCommand, WorkerPlan, WorkerStats } from './_scale-agents.js';

const root = path.resolve(import.meta.dirname, '..');
const PASSWORD = 'correct horse battery staple';
const CLUSTER = 'scale.example.com';
const AGENTS_PER_WORKER = 2500;
/**
 * The agents connect from 250 loopback addresses (127.10.0.1-250, agent i from the (i mod 250)-th), as a fleet
 * comes from many hosts: the proxies' per-address limits (joins' rate, connections still in their handshake) stay
 * as shipped instead of being lifted for the bench.
 */
const SOURCE_ADDRS = Array.from({ length: 250 }, (_, i) => `127.10.0.${i + 1}`);

interface Options {
  agents: number;
  tunnels: number;
  windowSec: number;
  runs: number;
  workers: number;
  /** `--tunnel-wait=<s>`: how long the tunnels may take to come up before the window starts anyway (default 600). */
  tunnelWaitSec: number;
  /** `--discovery=<s>`: the agents' fallback proxy discovery interval (default the daemon's, 5 min; the watch drives it). */
  discoverySec: number | undefined;
  record: boolean;
  /** `--hold`: after the measurements, keeps the cluster and the fleet up until SIGUSR2 (to run commands by hand). */
  hold: boolean;
}

function parseOptions(argv: string[]): Options {
  const flag = (name: string): number | undefined => {
    const hit = argv.find((a) => a.startsWith(`--${name}=`));
    return hit === undefined ? undefined : Number(hit.slice(name.length + 3));
  };
  const agents = flag('agents') ?? 200;
  return {
    agents,
    tunnels: Math.min(agents, flag('tunnels') ?? Math.min(1000, Math.ceil(agents / 2))),
    windowSec: flag('window') ?? 60,
    runs: flag('runs') ?? 5,
    workers: flag('workers') ?? Math.max(1, Math.ceil(agents / AGENTS_PER_WORKER)),
    discoverySec: flag('discovery'),
    tunnelWaitSec: flag('tunnel-wait') ?? 600,
    record: !argv.includes('--no-record'),
    hold: argv.includes('--hold'),
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const log = (line: string): void => void process.stderr.write(`scale: ${line}\n`);

// ---- the cluster: two auth+proxy processes on PostgreSQL ------------------------------------------------

interface Member {
  daemon: BenchProcess;
  config: string;
  dataDir: string;
  proxyAddr: string;
}

async function startMember(dir: string, index: number, backend: string, audit: string): Promise<Member> {
  const ports = { auth: await freePort(), proxy: await freePort(), peer: await freePort() };
  const config = path.join(dir, `teleport-${index}.yaml`);
  const teleport = [
    '  log:',
    '    severity: WARN',
    // Joins through a proxy reach the auth server from the proxy's address (the passthrough does not carry the
    // client's address yet; Teleport's signed PROXY headers do): the auth server's per-address rate of joins is
    // shared by the whole fleet behind a proxy and must let it in. The pre-auth connection cap is not raised: the
    // agents come from 250 addresses.
    '  connection_limits:',
    '    rates:',
    '    - { period: 1s, average: 100000, burst: 100000 }',
  ];
  const auth = ['  tunnel_strategy:', '    type: proxy_peering', '    agent_connection_count: 1'];
  await writeFile(config, clusterMemberConfig({ dir, index, namePrefix: 'scale', cluster: CLUSTER, backend, audit, ports, teleport, auth }));
  // Through `cli`: with BENCH_CPU_PROF_DIR each auth+proxy process writes a CPU profile of its run when it stops.
  const daemon = await startProcess(...cli('teleport-ts', ['start', '-c', config]), /press Ctrl-C to stop/);
  return { daemon, config, dataDir: path.join(dir, `data-${index}`), proxyAddr: `127.0.0.1:${ports.proxy}` };
}

/** The token every agent joins with, the CA pin, and a user logged in with the built tsh. */
async function prepareCluster(first: Member, home: string): Promise<{ token: string; caPin: string; tshEnv: NodeJS.ProcessEnv }> {
  const admin = newAuthClient({ addr: /listen_addr: (\S+)/.exec(await readFile(first.config, 'utf8'))![1]!, identity: await loadIdentity(path.join(first.dataDir, 'admin')) });
  try {
    const token = await admin.createToken({ roles: ['Node', 'Db'], ttl: 4 * 3600_000 });
    const { token: invite } = await admin.createUser({ name: 'alice', roles: ['access'], logins: ['alice'] });
    await admin.completeUserToken({ tokenId: invite.id, password: PASSWORD });
    const status = await runProgram(repoBin('tctl'), ['-c', first.config, 'status', '--format=json']);
    const caPin = (JSON.parse(status.stdout) as { cluster: { ca_pins: string[] } }).cluster.ca_pins[0]!;
    const tshEnv = { ...process.env, TELEPORT_HOME: home, TELEPORT_PROXY: '', TELEPORT_USER: '' };
    const login = await runProgram(repoBin('tsh'), ['login', `--proxy=${first.proxyAddr}`, '--user=alice', '--insecure'], { env: tshEnv, input: `${PASSWORD}\n` });
    if (login.code !== 0) throw new Error(`tsh login failed: ${login.stderr}`);
    return { token: token.metadata.name, caPin, tshEnv };
  } finally {
    await admin.close();
  }
}

// ---- what is measured -----------------------------------------------------------------------------------

function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

/** The postmaster and its backends. */
function postgresPids(postmaster: number): number[] {
  const pids = [postmaster];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === postmaster) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

async function backendCounters(pg: PostgresServer, db: string): Promise<{ writes: number; commits: number }> {
  const [row] = await pg.query<{ w: string; c: string }>('SELECT tup_inserted + tup_updated + tup_deleted AS w, xact_commit AS c FROM pg_stat_database WHERE datname = $1', [db]);
  return { writes: Number(row?.w ?? 0), commits: Number(row?.c ?? 0) };
}

// ---- the workers ------------------------------------------------------------------------------------------

interface Worker {
  child: ChildProcess;
  call<T>(message: { plan: WorkerPlan } | WorkerCommand): Promise<T>;
}

function startWorker(): Worker {
  const child = fork(path.join(import.meta.dirname, '_scale-agents.ts'), [], {
    execArgv: ['--conditions=source', '--import', 'tsx', '--max-old-space-size=4096'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let next = 0;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  child.on('message', (m: { id: number; result?: unknown; error?: string }) => {
    const p = pending.get(m.id);
    pending.delete(m.id);
    if (m.error !== undefined) p?.reject(new Error(m.error));
    else p?.resolve(m.result);
  });
  child.on('exit', (code) => {
    for (const p of pending.values()) p.reject(new Error(`an agent worker exited (${code})`));
    pending.clear();
  });
  return {
    child,
    call: <T>(message: object) =>
      new Promise<T>((resolve, reject) => {
        const id = next++;
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        child.send({ ...message, id }, (err) => {
          if (err === null) return;
          pending.delete(id);
          reject(err);
        });
      }),
  };
}

async function allStats(workers: Worker[]): Promise<WorkerStats & { workerRss: number }> {
  const all = await Promise.all(workers.map((w) => w.call<WorkerStats>({ cmd: 'stats' })));
  return {
    joined: all.reduce((n, s) => n + s.joined, 0),
    tunnelsUp: all.reduce((n, s) => n + s.tunnelsUp, 0),
    beats: all.reduce((n, s) => n + s.beats, 0),
    failures: all.reduce((n, s) => n + s.failures, 0),
    latencies: all.flatMap((s) => s.latencies).sort((a, b) => a - b),
    rssBytes: 0,
    workerRss: all.reduce((n, s) => n + s.rssBytes, 0),
    problems: mergeCounts(all.map((s) => s.problems)),
  };
}

function mergeCounts(counts: Record<string, number>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of counts) for (const [k, n] of Object.entries(c)) out[k] = (out[k] ?? 0) + n;
  return out;
}

/** The auth+proxy processes' warnings and errors in the output they kept, grouped (numbers masked). */
function daemonProblems(members: Member[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const [i, m] of members.entries()) {
    for (const line of m.daemon.output().split('\n')) {
      const hit = / (WARN|ERROR) (.*)$/.exec(line);
      if (hit === null) continue;
      const key = `auth+proxy ${i}: ${hit[1]} ${problemKey(hit[2]!, 160)}`;
      counts[key] = (counts[key] ?? 0) + 1;
    }
  }
  return counts;
}

/** The workers' most frequent failures (grouped texts), most frequent first, one per line. */
function problemLines(problems: Record<string, number>, top = 8): string[] {
  return Object.entries(problems)
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([text, n]) => `  ${n} × ${text}`);
}

async function startFleet(options: Options, proxyAddrs: string[], token: string, caPin: string): Promise<Worker[]> {
  const workers: Worker[] = [];
  for (let w = 0; w < options.workers; w++) {
    const first = Math.floor((options.agents * w) / options.workers);
    const count = Math.floor((options.agents * (w + 1)) / options.workers) - first;
    const tunnels = Math.floor((options.tunnels * (w + 1)) / options.workers) - Math.floor((options.tunnels * w) / options.workers);
    const worker = startWorker();
    const plan: WorkerPlan = { worker: w, first, count, tunnels, proxyAddrs, sourceAddrs: SOURCE_ADDRS, token, caPin, joinConcurrency: 8, ...(options.discoverySec !== undefined ? { discoveryIntervalMs: options.discoverySec * 1000 } : {}) };
    await worker.call({ plan });
    workers.push(worker);
  }
  return workers;
}

interface Sample {
  cpu: number[];
  rss: number[];
  pgCpu: number;
  at: number;
}

function sample(pids: number[], postmaster: number): Sample {
  return { cpu: pids.map(cpuSeconds), rss: pids.map(rssBytes), pgCpu: postgresPids(postmaster).reduce((n, p) => n + (existsSync(`/proc/${p}`) ? cpuSeconds(p) : 0), 0), at: performance.now() };
}

/** Runs `tsh <args>` `runs` times; sorted wall times and the number of rows the last run printed. */
async function timeTsh(env: NodeJS.ProcessEnv, args: string[], runs: number): Promise<{ ms: number[]; rows: number }> {
  const ms: number[] = [];
  let rows = 0;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = await runProgram(...cli('tsh', args), { env });
    if (r.code !== 0) throw new Error(`tsh ${args.join(' ')} failed: ${r.stderr}`);
    ms.push(performance.now() - t0);
    rows = r.stdout.split('\n').filter((l) => l.includes('scale-')).length;
  }
  return { ms: ms.sort((a, b) => a - b), rows };
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10_000);
  }
}

interface Figures {
  options: Options;
  joinSec: number;
  tunnelsUp: number;
  rssBeforeTunnels: number[];
  rssAfterTunnels: number[];
  window: { start: Sample; end: Sample; writes: number; commits: number };
  beats: WorkerStats & { workerRss: number };
  ls: { ms: number[]; rows: number };
  dbls: { ms: number[]; rows: number };
  load: { start: number[]; end: number[] };
}

async function measure(options: Options, members: Member[], pg: PostgresServer, db: string, prepared: Awaited<ReturnType<typeof prepareCluster>>): Promise<Figures> {
  const pids = members.map((m) => m.daemon.child.pid!);
  const load = { start: os.loadavg(), end: [] as number[] };
  const workers = await startFleet(options, members.map((m) => m.proxyAddr), prepared.token, prepared.caPin);
  try {
    const t0 = performance.now();
    await Promise.all(workers.map((w) => w.call({ cmd: 'join' })));
    const joinSec = (performance.now() - t0) / 1000;
    log(`${options.agents} agents joined in ${joinSec.toFixed(1)} s; heartbeats start over one period`);
    await Promise.all(workers.map((w) => w.call({ cmd: 'beat' })));
    await sleep(DEFAULT_HEARTBEAT.intervalMs + 5_000);
    const rssBeforeTunnels = pids.map(rssBytes);
    await Promise.all(workers.map((w) => w.call({ cmd: 'tunnels' })));
    // The tunnels that came up in `--tunnel-wait` (10 minutes) are what is measured (the report says how many).
    await waitFor(`${options.tunnels} tunnels`, async () => {
      const stats = await allStats(workers);
      log([`${stats.tunnelsUp} tunnels up`, ...problemLines(stats.problems), ...problemLines(daemonProblems(members), 6)].join('\n'));
      return stats.tunnelsUp >= options.tunnels;
    }, options.tunnelWaitSec * 1000).catch((err: Error) => log(err.message));
    await sleep(10_000);
    const rssAfterTunnels = pids.map(rssBytes);
    log(`${(await allStats(workers)).tunnelsUp} tunnels up; steady-state window of ${options.windowSec} s`);
    await Promise.all(workers.map((w) => w.call({ cmd: 'reset' })));
    const c0 = await backendCounters(pg, db);
    const start = sample(pids, pg.pid!);
    await sleep(options.windowSec * 1000);
    const end = sample(pids, pg.pid!);
    const c1 = await backendCounters(pg, db);
    const beats = await allStats(workers);
    log('tsh ls / tsh db ls');
    const ls = await timeTsh(prepared.tshEnv, ['ls', '--insecure'], options.runs);
    const dbls = await timeTsh(prepared.tshEnv, ['db', 'ls', '--insecure'], options.runs);
    load.end = os.loadavg();
    if (options.hold) {
      log(`holding the fleet for commands by hand: TELEPORT_HOME=${prepared.tshEnv['TELEPORT_HOME']} bin/tsh ls --insecure; \`kill -USR2 ${process.pid}\` ends it`);
      await new Promise<void>((resolve) => process.once('SIGUSR2', () => resolve()));
    }
    const tunnelsUp = (await allStats(workers)).tunnelsUp;
    return { options, joinSec, tunnelsUp, rssBeforeTunnels, rssAfterTunnels, window: { start, end, writes: c1.writes - c0.writes, commits: c1.commits - c0.commits }, beats, ls, dbls, load };
  } finally {
    await Promise.all(workers.map((w) => w.call({ cmd: 'stop' }).catch(() => undefined)));
    for (const w of workers) w.child.kill();
  }
}

// ---- the report -------------------------------------------------------------------------------------------

const mib = (b: number): string => `${(b / 2 ** 20).toFixed(0)} MiB`;
const ms = (n: number): string => `${n.toFixed(0)} ms`;

function report(f: Figures): { body: string; summary: string } {
  const secs = (f.window.end.at - f.window.start.at) / 1000;
  const cores = os.cpus().length;
  const cpuPct = f.window.start.cpu.map((c, i) => ((f.window.end.cpu[i]! - c) / secs / cores) * 100);
  const totalCpu = cpuPct.reduce((a, b) => a + b, 0);
  const tunnelBytes = f.rssAfterTunnels.reduce((a, b) => a + b, 0) - f.rssBeforeTunnels.reduce((a, b) => a + b, 0);
  const lat = f.beats.latencies;
  const rows: Row[] = cpuPct.map((pct, i) => ({
    process: `auth+proxy ${i}`,
    'CPU (% of the machine)': `${pct.toFixed(1)} %`,
    'RSS at the end': mib(f.window.end.rss[i]!),
    'RSS: before tunnels → with tunnels': `${mib(f.rssBeforeTunnels[i]!)} → ${mib(f.rssAfterTunnels[i]!)}`,
  }));
  rows.push({ process: 'both', 'CPU (% of the machine)': `**${totalCpu.toFixed(1)} %**`, 'RSS at the end': mib(f.window.end.rss.reduce((a, b) => a + b, 0)), 'RSS: before tunnels → with tunnels': '' });
  const pgPct = ((f.window.end.pgCpu - f.window.start.pgCpu) / secs / cores) * 100;
  const figures: Row[] = [
    { figure: 'agents (half nodes, half db servers) / joined in', value: `${f.options.agents} / ${f.joinSec.toFixed(0)} s` },
    { figure: 'reverse tunnels up', value: String(f.tunnelsUp) },
    { figure: 'heartbeats/s (window) / failed', value: `${(f.beats.beats / secs).toFixed(0)} / ${f.beats.failures}` },
    { figure: 'heartbeat latency p50 / p99', value: `${ms(percentile(lat, 50))} / **${ms(percentile(lat, 99))}**` },
    { figure: 'backend writes/s (rows) / commits/s', value: `${(f.window.writes / secs).toFixed(0)} / ${(f.window.commits / secs).toFixed(0)}` },
    { figure: 'proxy memory per 1,000 tunnels', value: `**${mib((tunnelBytes / Math.max(1, f.tunnelsUp)) * 1000)}**` },
    { figure: `\`tsh ls\` (${f.ls.rows} nodes) p50 / max of ${f.ls.ms.length}`, value: `**${ms(percentile(f.ls.ms, 50))}** / ${ms(f.ls.ms.at(-1)!)}` },
    { figure: `\`tsh db ls\` (${f.dbls.rows} databases) p50 / max of ${f.dbls.ms.length}`, value: `**${ms(percentile(f.dbls.ms, 50))}** / ${ms(f.dbls.ms.at(-1)!)}` },
    { figure: 'PostgreSQL CPU (all its processes) / agent workers RSS', value: `${pgPct.toFixed(1)} % / ${mib(f.beats.workerRss)}` },
  ];
  const load = (l: number[]): string => l.map((x) => x.toFixed(1)).join(' ');
  const body = [
    '## Scale: a fleet of simulated agents (`pnpm bench scale`)',
    '',
    `\`npx -y pnpm@10 bench scale -- --agents=${f.options.agents} --tunnels=${f.options.tunnels} --window=${f.options.windowSec}${f.options.discoverySec !== undefined ? ` --discovery=${f.options.discoverySec}` : ''}\` on ${machineLine()};`,
    `load average ${load(f.load.start)} at the start, ${load(f.load.end)} at the end (the machine is shared: the CPU shares include waiting for it).`,
    '',
    markdownTable(rows),
    '',
    markdownTable(figures),
  ].join('\n');
  const summary = `scale: agents ${f.options.agents} cpu ${totalCpu.toFixed(1)}% hb-p99 ${percentile(lat, 99).toFixed(0)}ms ls-p50 ${percentile(f.ls.ms, 50).toFixed(0)}ms dbls-p50 ${percentile(f.dbls.ms, 50).toFixed(0)}ms`;
  return { body, summary };
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  for (const dist of ['packages/daemon/dist/cli.js', 'packages/tsh/dist/cli.js', 'packages/tctl/dist/cli.js']) {
    if (!existsSync(path.join(root, dist))) throw new Error('run `pnpm build` first: this bench runs the built teleport-ts, tctl and tsh');
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tp-bench-scale-'));
  const pg = await startPostgres({ settings: { max_connections: 300 } });
  const members: Member[] = [];
  try {
    await pg.createDatabase('scale');
    await pg.createDatabase('scale_audit');
    const backend = pg.url('scale', { sslmode: 'disable' });
    const audit = pg.url('scale_audit', { sslmode: 'disable' });
    // One after the other: the first creates the cluster, the second finds it in the backend.
    for (let i = 0; i < 2; i++) members.push(await startMember(dir, i, backend, audit));
    const prepared = await prepareCluster(members[0]!, path.join(dir, 'tsh'));
    // Ctrl-C or a kill ends the run through the cleanup below (the workers exit with their IPC channel).
    const stopped = new Promise<never>((_, reject) => {
      for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => reject(new Error(`stopped by ${signal}`)));
    });
    const figures = await Promise.race([measure(options, members, pg, 'scale', prepared), stopped]);
    const { body, summary } = report(figures);
    process.stdout.write(`${body}\n\n${summary}\n`);
    if (options.record) await writeSection('scale', body);
  } catch (err) {
    for (const m of members) process.stderr.write(`--- process output (tail)\n${m.daemon.output().slice(-3000)}\n`);
    throw err;
  } finally {
    await Promise.all(members.map((m) => m.daemon.stop()));
    await pg.destroy();
    await rm(dir, { recursive: true, force: true });
  }
}

await main().catch((err: unknown) => {
  process.stderr.write(`ERROR: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
