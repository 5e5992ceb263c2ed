/**
 * One `tsh ssh` session on a connected node: a command (`exec`) or a login shell, with tsh's stdin, stdout and stderr,
 * a PTY of the local terminal's size when asked for (following its resizes), and the remote exit status as the
 * result.
 */

import type { Client, ClientChannel, PseudoTtyOptions } from '@teleport-ts/core/protocol/ssh';
import { ConnectionProblemError } from '@teleport-ts/core/errors';

/** The exit status OpenSSH's ssh reports for a command killed by a signal or a session without a status. */
const EXIT_NO_STATUS = 255;

export interface SessionStdio {
  stdin: NodeJS.ReadStream | NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export interface SessionOptions {
  /** The command line; empty for a login shell. */
  command: string;
  /** Ask for a PTY. */
  tty: boolean;
  /** `$TERM` for the PTY. */
  term: string;
  stdio: SessionStdio;
}

/** The PTY request for the local terminal (80x24 when stdout is not one). */
function ptyOptions(term: string, stdout: NodeJS.WritableStream): PseudoTtyOptions {
  const tty = stdout as NodeJS.WriteStream;
  return { term, cols: tty.columns || 80, rows: tty.rows || 24, width: 0, height: 0 };
}

function openChannel(client: Client, options: SessionOptions): Promise<ClientChannel> {
  const pty = options.tty ? ptyOptions(options.term, options.stdio.stdout) : undefined;
  return new Promise((resolve, reject) => {
    const done = (err: Error | undefined, channel: ClientChannel): void => {
      if (err) reject(new ConnectionProblemError(`ssh: ${err.message}`));
      else resolve(channel);
    };
    if (options.command !== '') client.exec(options.command, pty ? { pty } : {}, done);
    else client.shell(pty ?? false, done);
  });
}

/** Raw mode on a terminal stdin while a PTY session runs, restored after. */
function rawStdin(stdin: SessionStdio['stdin'], tty: boolean): () => void {
  const input = stdin as NodeJS.ReadStream;
  if (!tty || !input.isTTY) return () => undefined;
  input.setRawMode(true);
  return () => input.setRawMode(false);
}

/** Sends the local terminal's size on every SIGWINCH (node's `resize` event on stdout). */
function followResizes(channel: ClientChannel, stdout: NodeJS.WritableStream, tty: boolean): () => void {
  const out = stdout as NodeJS.WriteStream;
  if (!tty || !out.isTTY) return () => undefined;
  const onResize = (): void => {
    channel.setWindow(out.rows, out.columns, 0, 0);
  };
  out.on('resize', onResize);
  return () => out.off('resize', onResize);
}

/**
 * Runs the session and resolves with the remote exit status. stdin ending sends EOF; the channel's stdout and
 * stderr go to tsh's until the channel closes.
 */
export async function runSession(client: Client, options: SessionOptions): Promise<number> {
  const channel = await openChannel(client, options);
  const { stdin, stdout, stderr } = options.stdio;
  const restoreStdin = rawStdin(stdin, options.tty);
  const stopResizes = followResizes(channel, stdout, options.tty);
  let status: number | undefined;
  channel.on('exit', (code: number | null) => {
    status = code ?? EXIT_NO_STATUS;
  });
  stdin.pipe(channel);
  channel.pipe(stdout, { end: false });
  channel.stderr.pipe(stderr, { end: false });
  try {
    await new Promise<void>((resolve) => channel.once('close', () => resolve()));
  } finally {
    stdin.unpipe(channel);
    stopResizes();
    restoreStdin();
  }
  return status ?? EXIT_NO_STATUS;
}
