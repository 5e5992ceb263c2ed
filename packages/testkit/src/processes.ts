/**
 * The built programs of this repository (`bin/teleport-ts`, `bin/tsh`, `bin/tctl`) as child processes: started,
 * waited for, killed with `kill -9` and started again. Shared by the end-to-end tests and `pnpm soak`.
 */

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..', '..', '..');

/** Path of a built program in the repository's `bin/`. */
export const repoBin = (name: 'tsh' | 'tctl' | 'teleport-ts'): string => path.join(root, 'bin', name);

/** A port free right now on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** What a finished program said. */
export interface ProgramResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program to its end (killed after `timeoutMs`, default 60 s); never throws for a non-zero exit. */
export function runProgram(file: string, args: readonly string[], options: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<ProgramResult> {
  return new Promise((resolve) => {
    const child = execFile(file, args, { env: options.env ?? process.env, maxBuffer: 16 * 1024 * 1024, timeout: options.timeoutMs ?? 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      const killed = err && (err as { killed?: boolean }).killed ? `\nkilled after ${options.timeoutMs ?? 60_000} ms` : '';
      resolve({ code, stdout: String(stdout), stderr: String(stderr) + killed });
    });
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(options.input ?? '');
  });
}

/** Polls `check` every `intervalMs` (100) until it returns a value; throws after `timeoutMs` with `context()` in the message. */
export async function waitUntil<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs: number, context: () => string = () => '', intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${context()}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** A `teleport-ts` child process with its output; `kill9` is `kill -9`. */
export interface Daemon {
  child: ChildProcess;
  output(): string;
  kill9(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts the built daemon with `args` (not waiting for it). Output is kept, the last 1 MiB of it. */
export function spawnDaemon(args: string[]): Daemon {
  const child = spawn(repoBin('teleport-ts'), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (b: Buffer): void => {
    out += b.toString();
    if (out.length > 2 ** 21) out = out.slice(-(2 ** 20));
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  return {
    child,
    output: () => out,
    async kill9() {
      if (running()) child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (running()) child.kill('SIGTERM');
      const timer = setTimeout(() => running() && child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Starts the built daemon and waits until it says it is up (`press Ctrl-C to stop`). */
export async function startDaemonProcess(args: string[], timeoutMs = 60_000): Promise<Daemon> {
  const daemon = spawnDaemon(args);
  try {
    await waitUntil(
      `teleport-ts ${args.join(' ')} to start`,
      () => {
        if (daemon.child.exitCode !== null) throw new Error(`teleport-ts exited (${daemon.child.exitCode}) before it was up:\n${daemon.output()}`);
        return daemon.output().includes('press Ctrl-C to stop') ? true : undefined;
      },
      timeoutMs,
      daemon.output,
    );
  } catch (err) {
    await daemon.kill9();
    throw err;
  }
  return daemon;
}

/** Runs the built tsh with `TELEPORT_HOME=home` (TELEPORT_PROXY/USER cleared); `input` goes to stdin. */
export function runTshAt(home: string, args: string[], options: { input?: string; timeoutMs?: number } = {}): Promise<ProgramResult> {
  return runProgram(repoBin('tsh'), args, { ...options, env: { ...process.env, TELEPORT_HOME: home, TELEPORT_PROXY: '', TELEPORT_USER: '' } });
}

/** Completes an invite through the proxy's JSON API (what the page does) for a cluster without second factor. */
export async function completeInviteWithoutMfa(inviteUrl: string, password: string): Promise<void> {
  const url = new URL(inviteUrl);
  const token = url.pathname.split('/').pop()!;
  const https = await import('node:https');
  const status = await new Promise<number>((resolve, reject) => {
    const req = https.request(new URL('/v1/webapi/users/password/token', url), { method: 'PUT', rejectUnauthorized: false, headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(JSON.stringify({ token, password }));
  });
  if (status !== 200) throw new Error(`invite completion failed with HTTP ${status}`);
}
