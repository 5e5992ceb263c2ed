/**
 * Programs of a session, run as the login's account: with a PTY (node-pty) for `ssh -t` and shells, or with pipes
 * for plain `exec` and the sftp subsystem. Output follows the channel's flow control both ways.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { basename } from 'node:path';
import { spawn as spawnPty } from 'node-pty';
import type { ServerChannel } from 'ssh2';
import type { HostAccount } from './users.js';

/** How a program ended: an exit status, or the signal (without `SIG`) that killed it. */
export type ProgramExit = { code: number } | { signal: string };

/** A running program of a session. */
export interface SessionProgram {
  resize(cols: number, rows: number): void;
  /** `name` without `SIG`, as in SSH's `signal` request. */
  kill(name: string): void;
  /** The client went away: SIGHUP to the program's process group, SIGKILL if it is still there 2 s later. */
  hangup(): void;
  readonly exited: Promise<ProgramExit>;
}

export interface ProgramOptions {
  account: HostAccount;
  env: Record<string, string>;
  /** `undefined`: the login shell. */
  command: string | undefined;
  channel: ServerChannel;
  /** Sees every byte the program writes to its output (the session recorder, the SFTP audit). */
  onOutput?: (data: Buffer) => void;
  /** Sees every byte the client sends (the SFTP audit). */
  onInput?: (data: Buffer) => void;
}

export interface PtyProgramOptions extends ProgramOptions {
  term: string;
  cols: number;
  rows: number;
}

const SIGNALS = new Set(['ABRT', 'ALRM', 'FPE', 'HUP', 'ILL', 'INT', 'KILL', 'PIPE', 'QUIT', 'SEGV', 'TERM', 'USR1', 'USR2']);

const shellArgs = (command: string | undefined): string[] => (command === undefined ? ['-l'] : ['-c', command]);

/** Starts a program on a PTY. */
export function startPtyProgram(o: PtyProgramOptions): SessionProgram {
  const child = spawnPty(o.account.shell, shellArgs(o.command), {
    name: o.term,
    cols: o.cols,
    rows: o.rows,
    cwd: o.account.home,
    env: o.env,
    uid: o.account.uid,
    gid: o.account.gid,
    encoding: null,
  } as Parameters<typeof spawnPty>[2]);
  child.onData((chunk: string | Buffer) => {
    const data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    // The client first, the recording after: a keystroke's echo does not wait for the recorder.
    if (!o.channel.write(data)) {
      child.pause();
      o.channel.once('drain', () => child.resume());
    }
    o.onOutput?.(data);
  });
  o.channel.on('data', (data: Buffer) => child.write(data as unknown as string));
  const exited = new Promise<ProgramExit>((resolve) => {
    child.onExit(({ exitCode, signal }) => {
      if (signal !== undefined && signal > 0) resolve({ signal: signalName(signal) });
      else resolve({ code: exitCode });
    });
  });
  const hasExited = exitFlag(exited);
  return {
    resize: (cols, rows) => child.resize(Math.max(1, cols), Math.max(1, rows)),
    kill: (name) => SIGNALS.has(name) && child.kill(`SIG${name}`),
    hangup: () => hangupGroup(child.pid, hasExited),
    exited,
  };
}

function signalName(signal: number): string {
  const signals = constants.signals as Record<string, number | undefined>;
  for (const name of SIGNALS) if (signals[`SIG${name}`] === signal) return name;
  return 'KILL';
}

/** Starts a program with pipes (stdin, stdout, stderr as the channel's data and extended data). */
export function startPipedProgram(o: ProgramOptions & { argv?: readonly string[] }): SessionProgram {
  const [file, ...args] = o.argv ?? [o.account.shell, ...shellArgs(o.command)];
  const child: ChildProcess = spawn(file!, args, {
    cwd: o.account.home,
    env: o.env,
    uid: o.account.uid,
    gid: o.account.gid,
    stdio: ['pipe', 'pipe', 'pipe'],
    // Its own process group, so that a hangup reaches what it started.
    detached: true,
    ...(o.command === undefined && o.argv === undefined ? { argv0: `-${basename(o.account.shell)}` } : {}),
  });
  child.stdin!.on('error', () => undefined);
  if (o.onInput) o.channel.on('data', o.onInput);
  o.channel.pipe(child.stdin!);
  if (o.onOutput) child.stdout!.on('data', o.onOutput);
  child.stdout!.pipe(o.channel, { end: false });
  child.stderr!.pipe(o.channel.stderr, { end: false });
  const exited = new Promise<ProgramExit>((resolve) => {
    child.once('error', () => resolve({ code: 127 }));
    child.once('close', (code, signal) => resolve(signal ? { signal: signal.replace(/^SIG/, '') } : { code: code ?? 255 }));
  });
  const hasExited = exitFlag(exited);
  return {
    resize: () => undefined,
    kill: (name) => SIGNALS.has(name) && child.kill(`SIG${name}` as NodeJS.Signals),
    hangup: () => hangupGroup(child.pid, hasExited),
    exited,
  };
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

/** Whether a program has exited, known synchronously (a pid is never signalled after its exit: it may be reused). */
function exitFlag(exited: Promise<ProgramExit>): () => boolean {
  let done = false;
  void exited.then(() => (done = true));
  return () => done;
}

/** SIGHUP to the process group led by `pid` (a PTY's session or a detached child), SIGKILL 2 s later if needed. */
function hangupGroup(pid: number | undefined, hasExited: () => boolean): void {
  if (pid === undefined || hasExited()) return;
  signalGroup(pid, 'SIGHUP');
  setTimeout(() => hasExited() || signalGroup(pid, 'SIGKILL'), 2_000).unref();
}
