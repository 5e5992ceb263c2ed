/**
 * Relay mode of the SSH server (`NodeSshServerOptions.relay`): the proxy in front of an agentless OpenSSH node serves
 * the user's connection itself (certificate, RBAC, locks, audit, recording) and runs each session's program on the
 * node, through its own SSH connection to the node's `sshd` (`ConnectionState.upstream`). A relayed program is a
 * {@link SessionProgram} like a local one: `exec`, `shell` with a PTY, the `sftp` subsystem, window changes, signals
 * and the exit status (or signal) pass through.
 */

import type { Client, ClientChannel, PseudoTtyOptions, ServerChannel } from 'ssh2';
import type { ProgramExit, SessionProgram } from './process.js';

/** How long output may still arrive after the node closed the channel. */
const CLOSE_GRACE_MS = 2_000;

export interface RelayedProgramOptions {
  /** The proxy's connection to the node. */
  client: Client;
  /** The user's session channel. */
  channel: ServerChannel;
  /** `undefined`: the login shell (or the subsystem). */
  command: string | undefined;
  subsystem: 'sftp' | undefined;
  pty: { term: string; cols: number; rows: number } | undefined;
  /** Variables the client sent with `env` (the node's `AcceptEnv` decides). */
  env: Readonly<Record<string, string>>;
  /** Sees every byte of output, stderr aside (the session recorder: a PTY has none; the SFTP audit). */
  onOutput?: (data: Buffer) => void;
  /** Sees every byte the client sends (the SFTP audit). */
  onInput?: (data: Buffer) => void;
}

/** Opens the node's session channel and asks for what the client asked for. */
function openUpstream(o: RelayedProgramOptions): Promise<ClientChannel> {
  return new Promise((resolve, reject) => {
    const done = (err: Error | undefined, channel: ClientChannel): void => (err ? reject(err) : resolve(channel));
    const pty: PseudoTtyOptions | undefined = o.pty === undefined ? undefined : { term: o.pty.term, cols: o.pty.cols, rows: o.pty.rows, width: 0, height: 0 };
    const env = { ...o.env };
    if (o.subsystem !== undefined) o.client.subsys(o.subsystem, done);
    else if (o.command !== undefined) o.client.exec(o.command, { env, ...(pty ? { pty } : {}) }, done);
    else o.client.shell(pty ?? false, { env }, done);
  });
}

/** Relays both ways until the node closes the channel; resolves with how the program ended. */
function relay(up: ClientChannel, o: RelayedProgramOptions): Promise<ProgramExit> {
  const down = o.channel;
  // No exit status from the node (it went away): what OpenSSH's client reports then.
  let exit: ProgramExit = { code: 255 };
  up.on('exit', (code: number | null | undefined, signal?: string) => {
    exit = typeof code === 'number' ? { code } : { signal: signal ?? 'KILL' };
  });
  if (o.onOutput !== undefined) up.on('data', o.onOutput);
  up.pipe(down, { end: false });
  up.stderr.pipe(down.stderr, { end: false });
  if (o.onInput !== undefined) down.on('data', o.onInput);
  down.pipe(up);
  down.on('error', () => up.close());
  up.on('error', () => down.destroy());
  return new Promise((resolve) => {
    // The exit status goes after the last output: wait for the output to be read and sent.
    const finish = (): void => {
      if (down.writableLength === 0 || down.destroyed) resolve(exit);
      else down.once('drain', () => resolve(exit));
    };
    up.once('close', () => {
      if (up.readableEnded) return finish();
      const timer = setTimeout(finish, CLOSE_GRACE_MS);
      up.once('end', () => {
        clearTimeout(timer);
        finish();
      });
    });
  });
}

/**
 * Runs a session's program on the node the proxy relays to.
 *
 * @example
 * ```ts
 * const program = startRelayedProgram({ client: state.upstream, channel, command: 'uname', subsystem: undefined, pty: undefined, env: {} });
 * const exit = await program.exited;
 * ```
 */
export function startRelayedProgram(o: RelayedProgramOptions): SessionProgram {
  let upstream: ClientChannel | undefined;
  const exited = openUpstream(o).then(
    (channel) => {
      upstream = channel;
      return relay(channel, o);
    },
    (err: Error): ProgramExit => {
      o.channel.stderr.write(`failed to start the session on the node: ${err.message}\r\n`);
      return { code: 255 };
    },
  );
  return {
    resize: (cols, rows) => upstream?.setWindow(rows, cols, 0, 0),
    kill: (name) => upstream?.signal(name),
    hangup: () => upstream?.close(),
    exited,
  };
}
