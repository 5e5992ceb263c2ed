/**
 * `pnpm soak -- --duration=<s> --fault-every=<s> [--backend=postgres] [--seed=<n>] [--no-rotation]
 * [--rotation-grace=<duration>] [--no-ssh] [--no-docs]`: availability of a real HA cluster while its processes
 * die (see bench/soak/*.ts and docs/benchmarks.md). The last line is
 * `soak: availability <pct>% lost-writes <n> lost-audit-events <n>`.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { requirePostgres, requireTool, runTshAt, startHaCluster, startPostgres, waitUntil, type HaCluster, type HaMember } from '@teleport-ts/testkit';
import { machineLine, writeSection } from '../_report.js';
import { probeLoop, sessionLoop, sshLoop, writeLoop, type ClientContext, type Probe } from './clients.js';
import { DB_AGENTS, describeFault, faultLoop, planFaults, type FaultContext } from './faults.js';
import { newRecorder } from './record.js';
import { renderReport, summarize } from './report.js';
import { verify } from './verify.js';

interface Options {
  durationSec: number;
  faultEverySec: number;
  backend: 'postgres' | 'sqlite';
  seed: number;
  rotation: boolean;
  rotationGrace?: string;
  ssh: boolean;
  docs: boolean;
}

function fail(message: string): never {
  process.stderr.write(`ERROR: ${message}\n`);
  process.exit(1);
}

function parseArgs(argv: string[]): Options {
  const flags = new Map<string, string>();
  for (const a of argv.filter((x) => x !== '--')) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (!m) fail(`unexpected argument ${JSON.stringify(a)}; usage: pnpm soak -- --duration=<s> --fault-every=<s> [--backend=postgres|sqlite] [--seed=<n>]`);
    flags.set(m[1]!, m[2] ?? 'true');
  }
  const known = ['duration', 'fault-every', 'backend', 'seed', 'no-rotation', 'rotation-grace', 'no-ssh', 'no-docs'];
  for (const k of flags.keys()) if (!known.includes(k)) fail(`unknown flag --${k}; known: ${known.map((x) => `--${x}`).join(', ')}`);
  const num = (k: string, def?: number): number => {
    const v = flags.get(k);
    if (v === undefined && def !== undefined) return def;
    const n = Number(v);
    if (v === undefined || !Number.isInteger(n) || n <= 0) fail(`--${k}=<positive integer> is required`);
    return n;
  };
  const backend = flags.get('backend') ?? 'postgres';
  if (backend !== 'postgres' && backend !== 'sqlite') fail('--backend must be postgres or sqlite');
  return {
    durationSec: num('duration'),
    faultEverySec: num('fault-every'),
    backend,
    seed: num('seed', (Date.now() % 2 ** 31) + 1),
    rotation: !flags.has('no-rotation'),
    ...(flags.has('rotation-grace') ? { rotationGrace: flags.get('rotation-grace')! } : {}),
    ssh: !flags.has('no-ssh'),
    docs: !flags.has('no-docs'),
  };
}

const log = (line: string): void => void process.stderr.write(`soak: ${line}\n`);

/** Until the agent holds a tunnel to each proxy, `tsh db connect` works and (with SSH) `tsh ssh` does. */
async function warmUp(cluster: HaCluster, ssh: boolean): Promise<void> {
  const ids = cluster.members.map((m) => m.hostId).sort().join(',');
  for (const [i, agent] of cluster.agents.entries()) {
    await waitUntil(`db agent ${i + 1}'s tunnels to the three proxies`, () => (cluster.agentProxies(i).sort().join(',') === ids ? true : undefined), 60_000, agent.daemon.output);
  }
  const db = async () => ((await runTshAt(cluster.lbHome, ['db', 'connect', '--insecure', '--db-user=alice', 'roach'], { input: "select 'warm';\n" })).stdout.includes('warm') ? true : undefined);
  await waitUntil('tsh db connect through haproxy', db, 60_000);
  if (ssh) {
    const run = async () => ((await runTshAt(cluster.lbHome, ['ssh', '--insecure', 'root@soak-node', 'echo warm'])).stdout.includes('warm') ? true : undefined);
    await waitUntil('tsh ssh root@soak-node', run, 60_000, () => cluster.node?.daemon.output() ?? '');
  }
}

/**
 * The grace period of a rotation started at `atMs`: a third of what is left of the run, so that its phases (checked
 * every minute by the auth servers) reach standby, where only the new keys are trusted, before the clients stop.
 */
function rotationGrace(o: Options, atMs: number): string {
  if (o.rotationGrace) return o.rotationGrace;
  return `${Math.max(30, Math.floor((o.durationSec - atMs / 1000) / 3))}s`;
}

/** The host CA's rotation state as `tctl status` shows it, e.g. `in progress (mode: automatic, phase: update_clients)`. */
async function hostRotation(cluster: HaCluster): Promise<string | undefined> {
  const status = await cluster.tctl(['status'], { timeoutMs: 20_000 });
  const line = status.stdout.split('\n').map((l) => l.trim().replace(/\s+/g, ' ')).find((l) => /^host (standby|in progress)/.test(l));
  const state = /^host (standby|in progress \(mode: \w+, phase: \w+)/.exec(line ?? '')?.[1];
  return state === undefined || state === 'standby' ? state : `${state})`;
}

/** Logs each change of the host CA's rotation state (every 10 s) while the run lasts. */
async function watchRotation(cluster: HaCluster, ctx: { stopping: boolean; t: () => number }, seen: string[]): Promise<void> {
  let last: string | undefined;
  while (!ctx.stopping) {
    const state = await hostRotation(cluster).catch(() => undefined);
    if (state !== undefined && state !== last) {
      if (last !== undefined) {
        seen.push(`t=${(ctx.t() / 1000).toFixed(0)} s ${state}`);
        log(`host CA: ${state}`);
      }
      last = state;
    }
    for (let i = 0; i < 40 && !ctx.stopping; i++) await new Promise((r) => setTimeout(r, 250));
  }
}

async function runClients(cluster: HaCluster, o: Options, dir: string) {
  const rec = newRecorder();
  const down = new Set<HaMember>();
  const ctx: ClientContext = { cluster, rec, dir, stopping: false, down, withSsh: o.ssh };
  const faults: FaultContext = { cluster, rec, down, stopping: false, rotationGrace: (atMs) => rotationGrace(o, atMs) };
  const plan = planFaults({ durationSec: o.durationSec, faultEverySec: o.faultEverySec, seed: o.seed, rotation: o.rotation });
  log(`plan: ${plan.map((p) => `${p.at / 1000}s ${describeFault(p)}`).join(', ') || 'no faults'}`);
  const probes: Probe[] = [];
  const rotationStates: string[] = [];
  const loops = [probeLoop(ctx, probes), sessionLoop(ctx), writeLoop(ctx), ...(o.ssh ? [sshLoop(ctx)] : [])];
  const watching = watchRotation(cluster, Object.assign(ctx, { t: rec.now }), rotationStates);
  const faulting = faultLoop(faults, plan, log);
  await new Promise((r) => setTimeout(r, o.durationSec * 1000));
  const durationMs = rec.now();
  ctx.stopping = true;
  await Promise.all([...loops, watching]);
  // A fault still running at the end is undone before anything is read back.
  await faulting;
  faults.stopping = true;
  return { rec, probes, durationMs, startedAt: new Date(rec.t0), rotationStates };
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  if (o.backend === 'sqlite') fail('--backend=sqlite: three auth processes cannot share one sqlite file, so the soak runs on postgres only for now');
  if (requirePostgres() === undefined) fail('PostgreSQL server binaries are missing (Debian package postgresql)');
  for (const [tool, pkg] of [['haproxy', 'haproxy'], ['psql', 'postgresql-client']] as const) if (!requireTool(tool, pkg).available) fail(`${tool} is missing (Debian package ${pkg})`);
  const commandLine = `pnpm soak -- ${process.argv.slice(2).filter((a) => a !== '--' && a !== '--no-docs').join(' ')}`;
  const backend = await startPostgres();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tp-soak-'));
  let cluster: HaCluster | undefined;
  try {
    log(`starting PostgreSQL, three auth+proxy processes, haproxy, ${DB_AGENTS} db agents` + (o.ssh ? ' and an SSH node' : ''));
    cluster = await startHaCluster({ backend, node: o.ssh, memberLogins: false, dbAgents: DB_AGENTS });
    await warmUp(cluster, o.ssh);
    log(`running ${o.durationSec}s, a fault every ${o.faultEverySec}s, seed ${o.seed}`);
    const run = await runClients(cluster, o, dir);
    log('reading back writes and audit events');
    const lost = await verify(cluster, run.rec.ops, run.startedAt);
    const summary = summarize({ ops: run.rec.ops, faults: run.rec.faults, probes: run.probes, durationMs: run.durationMs });
    const auditWarnings = [...cluster.agents, ...(cluster.node ? [cluster.node] : [])].map((a) => (a.daemon.output().match(/could not send audit events/g) ?? []).length);
    const notes = [
      `three auth+proxy processes on one PostgreSQL behind haproxy (TCP, health check /readyz?service=proxy), ${DB_AGENTS} db agents serving the same database and an SSH node joined through haproxy (agent mesh); clients through haproxy with the built tsh; tctl runs on an auth host that is up`,
      `host CA rotation states seen (tctl status every 10 s): ${run.rotationStates.join('; ') || 'no change'}`,
      `'could not send audit events' warnings in the last run of the db agents / the node: ${auditWarnings.join(' / ')}`,
      `machine load while measuring: ${os.loadavg().map((l) => l.toFixed(1)).join(' / ')} (1/5/15 min)`,
    ];
    const report = renderReport({ commandLine, machine: machineLine(), seed: o.seed, summary, lost, notes });
    process.stdout.write(`${report}\n\n`);
    if (o.docs) await writeSection(`soak-${o.durationSec}-${o.faultEverySec}`, `## Soak: ${o.durationSec} s, a fault every ${o.faultEverySec} s\n\n${report}`);
    process.stdout.write(`soak: availability ${summary.availabilityPct.toFixed(3)}% lost-writes ${lost.writes.length} lost-audit-events ${lost.auditEvents.length}\n`);
  } finally {
    await cluster?.stop().catch((err: Error) => log(`stopping the cluster: ${err.message}`));
    await backend.destroy();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
