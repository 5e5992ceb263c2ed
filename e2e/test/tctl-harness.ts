/**
 * Test-only: a running cluster for the tctl end-to-end tests. It starts the BUILT daemon
 * (`bin/teleport-ts start -c <cfg>`) with a temporary data dir and a free `auth_service.listen_addr`, and runs
 * the BUILT `bin/tctl -c <cfg>` as an admin would on the auth host.
 */

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '@teleport-ts/testkit';

const root = path.resolve(import.meta.dirname, '../..');
const daemonBin = path.join(root, 'bin', 'teleport-ts');
const tctlBin = path.join(root, 'bin', 'tctl');

export { freePort };

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout as bytes, for binary output. */
  raw: Buffer;
}

/** Runs a program and collects its output; never throws for a non-zero exit. */
export function run(file: string, args: readonly string[], options: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { cwd: options.cwd, env: options.env ?? process.env, encoding: 'buffer', maxBuffer: 16 * 1024 * 1024, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1) : 0;
        if (err && code === -1 && !(stdout.length || stderr.length)) return reject(err);
        resolve({ code, stdout: stdout.toString('utf8'), stderr: stderr.toString('utf8'), raw: stdout });
      },
    );
    if (options.input !== undefined) child.stdin!.end(options.input);
    else child.stdin!.end();
  });
}

export interface ClusterOptions {
  /** The `teleport.storage` block, YAML lines indented under `storage:`; default sqlite. */
  storage?: string[];
  clusterName?: string;
}

export interface Cluster {
  dir: string;
  configPath: string;
  dataDir: string;
  /** `127.0.0.1:<port>` of the auth API. */
  authAddr: string;
  clusterName: string;
  /** Daemon output so far. */
  log(): string;
  /** `bin/tctl -c <cfg> ...args`, run in the cluster's directory. */
  tctl(args: readonly string[], options?: { input?: string; config?: boolean }): Promise<RunResult>;
  stop(): Promise<void>;
}

async function waitFor(check: () => boolean, what: string, child: ChildProcess, log: () => string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (child.exitCode !== null) throw new Error(`the daemon exited (${child.exitCode}) before ${what}:\n${log()}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts the built daemon with auth only (proxy off), on a free port. */
export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tp-tctl-e2e-'));
  const clusterName = options.clusterName ?? 'e2e.example.com';
  const dataDir = path.join(dir, 'data');
  const configPath = path.join(dir, 'teleport.yaml');
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const authAddr = `127.0.0.1:${port}`;
    await writeFile(
      configPath,
      [
        'version: v3',
        'teleport:',
        '  nodename: tctl-e2e',
        `  data_dir: ${dataDir}`,
        '  storage:',
        ...(options.storage ?? ['type: sqlite']).map((l) => `    ${l}`),
        'auth_service:',
        '  enabled: yes',
        `  listen_addr: ${authAddr}`,
        `  cluster_name: ${clusterName}`,
        'proxy_service:',
        '  enabled: no',
        '',
      ].join('\n'),
    );
    const child = spawn(daemonBin, ['start', '-c', configPath], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      await waitFor(() => out.includes('press Ctrl-C to stop'), 'the auth service to come up', child, () => out);
    } catch (err) {
      child.kill('SIGKILL');
      await exited;
      // Someone else took the port between our probe and the daemon's bind: try another.
      if (attempt < 2 && /EADDRINUSE/.test(out)) continue;
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
    return {
      dir,
      configPath,
      dataDir,
      authAddr,
      clusterName,
      log: () => out,
      tctl: (args, opts = {}) => run(tctlBin, opts.config === false ? args : ['-c', configPath, ...args], { cwd: dir, ...(opts.input !== undefined ? { input: opts.input } : {}) }),
      stop: async () => {
        if (child.exitCode === null) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
          await exited;
          clearTimeout(timer);
        }
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
}

/** The lines of an `ERROR:` report: exactly one, and nothing on stdout. */
export function expectOneErrorLine(result: RunResult): string {
  const lines = result.stderr.split('\n').filter((l) => l !== '');
  if (result.code !== 1 || lines.length !== 1 || !lines[0]!.startsWith('ERROR: ')) {
    throw new Error(`expected one ERROR line and exit 1, got exit ${result.code}:\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  }
  return lines[0]!;
}
