/**
 * docs/getting-started.md, run from the markdown itself: every shell block in order, on the default ports, in a
 * fresh HOME and TMPDIR, and every output shown compared with what the command printed (the rules for reading the
 * guide and the placeholders for values that change are in `guide-runner.ts`). Also: every command the start-up
 * banner suggests is one the guide ran successfully.
 */

import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findPostgresBinaries, reportMissingDependency, requireTool } from '@teleport-ts/testkit';
import { completeInvite, nextTotp } from './tsh-cluster.js';
import {
  expectsFailure,
  newGuideShell,
  normalizeOutput,
  parseGuide,
  readGuide,
  stopTerminal,
  type GuideShell,
  type GuideStep,
} from './guide-runner.js';

const root = path.resolve(import.meta.dirname, '../..');
const PASSWORD = 'correct horse battery staple';
/** The guide's default ports: auth, proxy, the stand-in database, the tunnel. */
const PORTS = [3025, 3080, 26257, 15432];

const psql = requireTool('psql', 'postgresql-client');
const postgres = findPostgresBinaries();
if (!postgres) reportMissingDependency('the getting-started guide', 'PostgreSQL server programs not found; apt-get install postgresql');

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, () => s.close(() => resolve(true)));
  });
}

interface Run {
  shell: GuideShell;
  workDir: string;
  terminals: ReturnType<GuideShell['startTerminal']>[];
  /** Commands the guide ran that did what the guide shows. */
  passed: string[];
  banner: string;
  lastOutput: string;
  totpSecret?: string;
}

const compare = (run: Run, actual: string): string => normalizeOutput(actual, { workDir: run.workDir, hostname: os.hostname() });
const where = (step: GuideStep): string => `docs/getting-started.md:${step.line}`;

async function runCommand(run: Run, step: Extract<GuideStep, { kind: 'command' }>): Promise<void> {
  const input = step.directives.some((d) => d.startsWith('input=')) ? `${PASSWORD}\n${nextTotp(run.totpSecret ?? '')}\n` : undefined;
  const deadline = Date.now() + (step.directives.includes('retry') ? 5_000 : 0);
  for (;;) {
    const res = await run.shell.run(step.command, input !== undefined ? { input } : {});
    run.lastOutput = res.output;
    const ok = compare(run, res.output) === normalizeOutput(step.expected) && (res.code !== 0) === expectsFailure(step.expected);
    if (ok) {
      run.passed.push(step.command);
      return;
    }
    if (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      continue;
    }
    expect(compare(run, res.output), `${where(step)}: $ ${step.command} (exit ${res.code})`).toBe(normalizeOutput(step.expected));
    expect(res.code !== 0, `${where(step)}: exit code ${res.code} of $ ${step.command}`).toBe(expectsFailure(step.expected));
  }
}

async function runTerminal(run: Run, step: Extract<GuideStep, { kind: 'command' }>): Promise<void> {
  const term = run.shell.startTerminal(step.command);
  run.terminals.push(term);
  const want = normalizeOutput(step.expected);
  const deadline = Date.now() + 30_000;
  while (!compare(run, term.output()).startsWith(want) && !term.exited() && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
  const got = compare(run, term.output());
  expect(got.startsWith(want) ? want : got, `${where(step)}: $ ${step.command}\n(stderr: ${term.logs()})`).toBe(want);
  run.passed.push(step.command);
  if (run.banner === '') run.banner = term.output();
}

async function runStep(run: Run, step: GuideStep): Promise<void> {
  if (step.kind === 'directive' && step.directive === 'invite') {
    const url = /https:\/\/\S+\/web\/invite\/[0-9a-f]+/.exec(run.lastOutput)?.[0];
    expect(url, `${where(step)}: an invite link in the output before`).toBeDefined();
    // As the guide says when the host name does not resolve: the same page on 127.0.0.1.
    const local = new URL(url!);
    local.hostname = '127.0.0.1';
    run.totpSecret = await completeInvite(local.toString(), PASSWORD);
  } else if (step.kind === 'directive' && step.directive === 'stop-terminals') {
    for (const t of run.terminals.reverse()) await stopTerminal(t.process);
    run.terminals = [];
  } else if (step.kind === 'script') {
    const res = await run.shell.run(step.text, { errexit: true });
    expect(res.code, `${where(step)}: the sh block failed:\n${res.output}`).toBe(0);
    run.passed.push(...step.text.split('\n'));
  } else if (step.kind === 'command') {
    await (step.directives.includes('terminal') ? runTerminal(run, step) : runCommand(run, step));
  }
}

/** When a step failed after PostgreSQL started (the guide's clean-up did not run): a fast shutdown, as `pg_ctl stop`. */
async function stopPostgres(dataDir: string): Promise<void> {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return;
  try {
    process.kill(pid, 'SIGINT');
  } catch {
    return;
  }
  for (let i = 0; i < 100 && existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 100));
}

/** What the guide writes into its work dir; before, it wrote some of these into the clone. */
const WORK_FILES = ['.teleport-ts', 'certs', 'db-agent', 'db.yaml', 'db-token', 'node-data', 'node-token', 'pgdata', 'env.sh'];

describe.skipIf(!psql.available || !postgres)('docs/getting-started.md', () => {
  let run: Run | undefined;
  let tmp = '';
  afterAll(async () => {
    for (const t of run?.terminals ?? []) await stopTerminal(t.process);
    if (run) await stopPostgres(path.join(run.workDir, 'pgdata'));
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('runs every command in order, each printing what the guide shows', async () => {
    for (const port of PORTS) {
      expect(await portFree(port), `port ${port} is in use: the guide runs on the default ports`).toBe(true);
    }
    tmp = await mkdtemp(path.join(os.tmpdir(), 'tp-guide-'));
    // As root the guide runs PostgreSQL as the postgres user, which must reach the work dir under TMPDIR.
    await chmod(tmp, 0o755);
    const home = path.join(tmp, 'home');
    await mkdir(home);
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!/^(TELEPORT_|PG)/.test(k)) env[k] = v;
    Object.assign(env, { HOME: home, TMPDIR: tmp });
    const shell = await newGuideShell({ stateDir: path.join(tmp, 'shell-state'), cwd: root, env });
    run = { shell, workDir: path.join(tmp, 'teleport-ts-guide'), terminals: [], passed: [], banner: '', lastOutput: '' };
    const steps = parseGuide(await readGuide(root));
    expect(steps.filter((s) => s.kind === 'command').length).toBeGreaterThan(20);
    const inCloneBefore = WORK_FILES.filter((f) => existsSync(path.join(root, f)));
    for (const step of steps) await runStep(run, step);
    // Nothing written into the clone, and the guide's clean-up removed the work dir.
    expect(WORK_FILES.filter((f) => existsSync(path.join(root, f)))).toEqual(inCloneBefore);
    expect(existsSync(run.workDir)).toBe(false);
  }, 180_000);

  it('suggests at start-up only commands that the guide ran as shown', () => {
    expect(run?.banner).toContain('Next steps:');
    const suggested = run!.banner
      .split('\n')
      .filter((l) => /^\s+(tctl|tsh|teleport-ts) /.test(l))
      .map((l) => l.trim());
    expect(suggested.length).toBe(3);
    for (const command of suggested) expect(run!.passed, command).toContain(command);
  });
});
