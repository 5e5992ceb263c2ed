/**
 * The soak's smoke run in CI: `pnpm soak -- --duration=60 --fault-every=20` (the script itself, with the built
 * programs: three auth+proxy processes on PostgreSQL behind haproxy, two db agents, an SSH node, client loops through
 * haproxy). The seed is fixed so that CI always injects the same two faults: the host CA rotation, then `kill -9`
 * of a db agent (whose batched audit events are the easiest to lose). What is asserted is what must hold on
 * any machine, however loaded: nothing acknowledged is lost (writes read back, every audited operation has its
 * event). Availability is printed, not asserted: on a loaded 2-core runner it measures the runner.
 */

import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { requirePostgres, requireTool } from '@teleport-ts/testkit';

const postgres = requirePostgres();
const psql = requireTool('psql', 'postgresql-client');
const haproxy = requireTool('haproxy', 'haproxy');
const root = path.resolve(import.meta.dirname, '../..');
/** planFaults(60, 20, seed 5): 20 s rotate-host-ca, 40 s kill-agent (one of the two db agents). */
const SEED = 5;

function runSoak(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', path.join(root, 'bench', 'soak', 'cli.ts'), ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

describe.skipIf(postgres === undefined || !psql.available || !haproxy.available)('pnpm soak -- --duration=60 --fault-every=20 (smoke)', () => {
  it('injects its faults, and loses no acknowledged write and no audit event', async () => {
    const res = await runSoak(['--duration=60', '--fault-every=20', `--seed=${SEED}`, '--no-docs']);
    console.log(`${res.stderr}\n${res.stdout}`);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toMatch(/plan: 20s rotate-host-ca, 40s kill-agent db agent [12]\n/);
    expect(res.stderr).toMatch(/fault kill-agent over\n/);
    expect(res.stderr).toMatch(/fault rotate-host-ca over\n/);
    // Every client loop ran and was recorded.
    for (const kind of ['tsh login', 'tsh db connect', 'db session query', 'tctl users add', 'tctl create role', 'tctl lock', 'tsh ssh']) {
      expect(res.stdout).toMatch(new RegExp(`^\\| ${kind} \\| [1-9]`, 'm'));
    }
    const last = res.stdout.trimEnd().split('\n').at(-1)!;
    expect(last).toMatch(/^soak: availability \d+\.\d{3}% lost-writes \d+ lost-audit-events \d+$/);
    expect(last).toMatch(/ lost-writes 0 lost-audit-events 0$/);
  }, 900_000);
});
