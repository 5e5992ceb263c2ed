/**
 * `pnpm bench listing -- [--resources=<n>] [--runs=<k>]`: what `tsh ls` and `tsh db ls` cost with n resources
 * (default 10,000: half SSH nodes, half databases, as in `pnpm bench scale`), without the fleet: the resources are
 * written into the embedded backend (sqlite) before the built `teleport-ts start` (auth + proxy) opens it, with an
 * expiry two hours on, so the auth server lists them as live heartbeats. A user with the preset `access` role logs in
 * with the built tsh; then `node -e ''`, `tsh version`, `tsh ls` and `tsh db ls` run k times each, interleaved, as new
 * processes (wall time, p50 and max). This is the quick loop for issue 13's listing line; `pnpm bench scale` measures
 * the same commands with 10,000 agents heartbeating. Needs `pnpm build` first. `--serve` only starts, seeds and logs
 * in, prints the environment that runs tsh as the user, and waits for Ctrl-C (to profile one command by hand).
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openBackend, key } from '@teleport-ts/core/backend';
import { systemClock } from '@teleport-ts/core/clock';
import { encodeJson } from '@teleport-ts/core/services';
import { runProgram } from '@teleport-ts/testkit';
import { bin, loginAlice, startBenchCluster } from './_common.js';
import { machineLine, markdownTable, percentile, writeSection, type Row } from './_report.js';

const PASSWORD = 'correct horse battery staple';

function flag(name: string, fallback: number): number {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  const value = hit === undefined ? fallback : Number(hit.slice(name.length + 3));
  if (!Number.isInteger(value) || value < 2) throw new Error(`--${name} must be an integer of at least 2`);
  return value;
}

/** Writes n/2 nodes and n/2 db_servers as the agents of `pnpm bench scale` heartbeat them (label env=scale). */
async function seed(dataDir: string, n: number): Promise<void> {
  const backend = await openBackend({ storage: { type: 'sqlite' }, dataDir, clock: systemClock });
  const expires = new Date(Date.now() + 2 * 3600_000);
  try {
    for (let i = 0; i < n; i++) {
      const name = `scale-${String(i).padStart(5, '0')}`;
      const hostId = randomUUID();
      if (i % 2 === 0) {
        const node = { kind: 'node', version: 'v2', metadata: { name: hostId, labels: { env: 'scale' } }, spec: { addr: '', hostname: name, use_tunnel: true, version: '0.1.0' } };
        await backend.put({ key: key('nodes', 'default', hostId), value: encodeJson(node), expires });
      } else {
        const database = { kind: 'db', version: 'v3', metadata: { name, labels: { env: 'scale' } }, spec: { protocol: 'postgres', uri: 'db.internal:5432' } };
        const server = { kind: 'db_server', version: 'v3', metadata: { name, expires: expires.toISOString() }, spec: { host_id: hostId, hostname: name, version: '0.1.0', database } };
        await backend.put({ key: key('db_servers', hostId, name), value: encodeJson(server), expires });
      }
    }
  } finally {
    await backend.close();
  }
}

async function wall(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ ms: number; rows: number }> {
  const t0 = performance.now();
  const r = await runProgram(file, args, { env });
  const ms = performance.now() - t0;
  if (r.code !== 0) throw new Error(`${path.basename(file)} ${args.join(' ')} failed: ${r.stderr}`);
  return { ms, rows: r.stdout.split('\n').filter((l) => l.includes('scale-')).length };
}

async function main(): Promise<void> {
  const resources = flag('resources', 10_000);
  const runs = flag('runs', 9);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tp-bench-listing-'));
  const cleanups: (() => Promise<void>)[] = [];
  try {
    await seed(path.join(dir, 'data'), resources);
    const cluster = await startBenchCluster(dir, cleanups);
    const env = await loginAlice({ tctl: cluster.tctl, roleArgs: ['--roles=access'], password: PASSWORD, proxyAddr: cluster.proxyAddr, home: path.join(dir, 'tsh'), listArgs: ['ls'], name: 'scale-00000' });
    if (process.argv.includes('--serve')) {
      process.stdout.write(`TELEPORT_HOME=${env['TELEPORT_HOME']} ${bin('tsh')} ls --insecure\nCtrl-C stops the cluster\n`);
      await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
      return;
    }
    const measures: [string, string, string[]][] = [
      ["baseline: `node -e ''`", process.execPath, ['-e', '']],
      ['`tsh version`', bin('tsh'), ['version']],
      ['`tsh ls`', bin('tsh'), ['ls', '--insecure']],
      ['`tsh db ls`', bin('tsh'), ['db', 'ls', '--insecure']],
    ];
    const samples = measures.map(() => [] as number[]);
    const rows = measures.map(() => 0);
    for (let r = 0; r < runs; r++) {
      for (const [i, [, file, args]] of measures.entries()) {
        const out = await wall(file, args, env);
        samples[i]!.push(out.ms);
        rows[i] = out.rows;
      }
    }
    const table: Row[] = measures.map(([label], i) => {
      const s = samples[i]!.sort((a, b) => a - b);
      const line = { command: label, rows: i >= 2 ? String(rows[i]) : '-', p50: `${percentile(s, 50).toFixed(0)} ms`, max: `${s.at(-1)!.toFixed(0)} ms` };
      process.stdout.write(`${label}: p50 ${line.p50}, max ${line.max}${i >= 2 ? `, ${rows[i]} rows` : ''}\n`);
      return line;
    });
    const body = [
      '## Listing with many resources (`tsh ls`, `tsh db ls`)',
      '',
      `Command: \`npx -y pnpm@10 build && npx -y pnpm@10 bench listing -- --resources=${resources} --runs=${runs}\`.`,
      `Machine: ${machineLine()}.`,
      `${resources / 2} SSH nodes and ${resources / 2} databases written into the embedded backend before the built \`teleport-ts start\` (auth + proxy, sqlite) opens it; the user holds the preset \`access\` role (sees every one of them). Wall times of new processes of the built CLI, interleaved, ${runs} runs each; the cluster is otherwise idle (\`pnpm bench scale\` measures the same with the fleet heartbeating).`,
      '',
      markdownTable(table),
    ].join('\n');
    if (!process.argv.includes('--no-record')) {
      await writeSection('listing', body);
      process.stdout.write('\nwritten to docs/benchmarks.md\n');
    }
  } finally {
    for (const c of cleanups) await c().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
