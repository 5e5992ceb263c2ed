/**
 * What the process-level benches (`pnpm bench ssh`, `pnpm bench db`, `pnpm bench scale`) share: the built programs,
 * CPU readings from /proc, daemons started and waited for, tools run to completion, and the user `alice` made and
 * logged in with the built tctl and tsh. Free ports and the invite completion come from `@teleport-ts/testkit`.
 */

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { authProxyConfigLines, completeInviteWithoutMfa, freePort } from '@teleport-ts/testkit';

const root = path.resolve(import.meta.dirname, '..');

/** Path of a built program in the repository's `bin/`. */
export const bin = (name: string): string => path.join(root, 'bin', name);

/** `BENCH_CPU_PROF_DIR`: a directory to write CPU profiles of the node processes a bench starts through `cli`. */
export const CPU_PROF_DIR = process.env['BENCH_CPU_PROF_DIR'];
let profiles = 0;

/** A built program as [file, args]: through `node --cpu-prof` (one named profile per process) when profiling. */
export function cli(name: string, args: string[]): [string, string[]] {
  if (CPU_PROF_DIR === undefined) return [bin(name), args];
  const profile = `--cpu-prof-name=${name}-${args[0]}-${Date.now()}-${profiles++}.cpuprofile`;
  return [process.execPath, ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF_DIR}`, profile, bin(name), ...args]];
}

/** Runs `op` from `loops` concurrent loops for `durationMs` (`op(loop, i)`: the i-th call of that loop); operations per second. */
export async function rate(loops: number, durationMs: number, op: (loop: number, i: number) => Promise<unknown> | unknown): Promise<number> {
  const start = performance.now();
  const deadline = start + durationMs;
  let done = 0;
  await Promise.all(
    Array.from({ length: loops }, async (_, loop) => {
      for (let i = 0; performance.now() < deadline; i++) {
        await op(loop, i);
        done++;
      }
    }),
  );
  return done / ((performance.now() - start) / 1000);
}

/** Stops a child: SIGTERM, SIGKILL after `graceMs`; resolves once it has exited. */
export async function stopChild(child: ChildProcess, graceMs = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** CPU seconds (user + system) a process used so far, from /proc (Linux); NaN when it is gone or unknown. */
export function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the command name.
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/** A started program: its process, the start of its output, and a stop (SIGTERM, SIGKILL after 15 s). */
export interface BenchProcess {
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/** Starts a program and waits (60 s at most) for `ready` in its output. Keeps the first MiB of output only. */
export async function startProcess(file: string, args: string[], ready: RegExp, env: NodeJS.ProcessEnv = process.env): Promise<BenchProcess> {
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  const keep = (b: Buffer): void => {
    // Keep the start of the output (the CA pin, readiness) and drop the rest: sshd and the daemons log every connection.
    if (out.length < 1 << 20) out += b.toString();
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const deadline = Date.now() + 60_000;
  while (!ready.test(out)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${path.basename(file)} ${args.join(' ')} did not start:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    child,
    output: () => out,
    stop: () => stopChild(child),
  };
}

/** Runs a program to its end and returns its stdout; rejects (with its stderr) on a non-zero exit or after `timeoutMs`. */
export function tool(file: string, args: string[], options: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { env: options.env ?? process.env, maxBuffer: 16 << 20, timeout: options.timeoutMs ?? 600_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${path.basename(file)} ${args.join(' ')} failed: ${stderr || err.message}`));
      else resolve(stdout);
    });
    // A program that does not read its stdin (ssh-keygen) may exit before this write: EPIPE, not an error here.
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(options.input ?? '');
  });
}

/** One `teleport-ts start` process with auth and proxy (`bench.example.com`, no second factor), `tctl` on its config. */
export interface BenchCluster {
  process: BenchProcess;
  config: string;
  authAddr: string;
  proxyAddr: string;
  clusterName: string;
  /** The CA pin the process printed. */
  pin: string;
  tctl(args: string[]): Promise<string>;
}

/** Starts the cluster (data in `dir/data`, config `dir/teleport.yaml`); its stop goes first into `cleanups`. */
export async function startBenchCluster(dir: string, cleanups: (() => Promise<void>)[]): Promise<BenchCluster> {
  const [authPort, proxyPort] = [await freePort(), await freePort()];
  const clusterName = 'bench.example.com';
  const config = path.join(dir, 'teleport.yaml');
  await writeFile(config, [...authProxyConfigLines({ dir, nodename: 'bench', cluster: clusterName, authPort, proxyPort }), ''].join('\n'));
  const started = await startProcess(...cli('teleport-ts', ['start', '-c', config]), /press Ctrl-C to stop/);
  cleanups.unshift(started.stop);
  const pin = /CA pin: (sha256:[0-9a-f]{64})/.exec(started.output())![1]!;
  return { process: started, config, authAddr: `127.0.0.1:${authPort}`, proxyAddr: `127.0.0.1:${proxyPort}`, clusterName, pin, tctl: (args) => tool(bin('tctl'), ['-c', config, ...args]) };
}

/**
 * Adds the user `alice` with `tctl users add alice <roleArgs>` (`tctl` runs the built tctl on the cluster's config),
 * completes her invite with `password` (no second factor), logs her in with the built tsh into `home`, then waits until
 * `tsh <listArgs> --insecure` lists `name` (the agent's first heartbeat). Returns the environment that runs tsh as her.
 */
export async function loginAlice(o: { tctl: (args: string[]) => Promise<string>; roleArgs: string[]; password: string; proxyAddr: string; home: string; listArgs: string[]; name: string }): Promise<NodeJS.ProcessEnv> {
  const added = await o.tctl(['users', 'add', 'alice', ...o.roleArgs]);
  await completeInviteWithoutMfa(/https:\/\/\S+\/web\/invite\/[0-9a-f]+/.exec(added)![0], o.password);
  const tshEnv = { ...process.env, TELEPORT_HOME: o.home, TELEPORT_PROXY: '', TELEPORT_USER: '' };
  await tool(bin('tsh'), ['login', `--proxy=${o.proxyAddr}`, '--user=alice', '--insecure'], { input: `${o.password}\n`, env: tshEnv });
  for (let i = 0; !(await tool(bin('tsh'), [...o.listArgs, '--insecure'], { env: tshEnv })).includes(o.name); i++) {
    if (i > 100) throw new Error(`${o.name} never appeared in tsh ${o.listArgs.join(' ')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return tshEnv;
}
