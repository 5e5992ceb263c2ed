/**
 * `tsh ssh [-l login] [-p port] [-t|-T] [-L spec] [-R spec] [-N] [-A] [user@]host [command...]`: one node through the
 * proxy, or every node matching a label selector (`root@env=dev`) with each output line prefixed by the node's name.
 * The result is the exit status tsh exits with: the remote command's.
 */

import os from 'node:os';
import { Readable } from 'node:stream';
import { BadParameterError, NotFoundError } from '@teleport-ts/core/errors';
import { connectNode, type NodeConnection } from './connect.js';
import { parseForwardSpec, startLocalForward, startRemoteForward, type ForwardSpec } from './forward.js';
import { lineLabeledWriter } from './labeled.js';
import { parseLabelSelector, selectNodes } from './nodes.js';
import { openSshProfile, parseUserHostPort, type SshGlobals, type SshProfile } from './profile.js';
import { runSession, type SessionStdio } from './session.js';

export interface TshSshOptions {
  login?: string;
  port?: string;
  /** `-t` true, `-T` false, neither undefined (a PTY for an interactive shell on a terminal). */
  tty?: boolean;
  forward?: string[];
  remoteForward?: string[];
  noRemoteExec?: boolean;
  forwardAgent?: boolean;
  cluster?: string;
}

/** What a run needs besides the options: the environment and the process's streams. */
export interface TshSshIo extends SessionStdio {
  env: NodeJS.ProcessEnv;
}

interface Plan {
  login: string;
  host: string;
  port: number;
  command: string;
  local: ForwardSpec[];
  remote: ForwardSpec[];
}

function parsePort(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!/^\d+$/.test(text) || !(n > 0 && n < 65536)) throw new BadParameterError(`invalid --port ${JSON.stringify(text)}`);
  return n;
}

/** Checks every input before anything touches the network. */
function plan(target: string, command: readonly string[], options: TshSshOptions): Plan {
  const parsed = parseUserHostPort(target, 'host');
  return {
    login: options.login ?? parsed.user ?? os.userInfo().username,
    host: parsed.host,
    port: parsePort(options.port) ?? parsed.port ?? 0,
    command: command.join(' '),
    local: (options.forward ?? []).map(parseForwardSpec),
    remote: (options.remoteForward ?? []).map(parseForwardSpec),
  };
}

function agentSocket(options: TshSshOptions, env: NodeJS.ProcessEnv): string | undefined {
  if (options.forwardAgent !== true) return undefined;
  const sock = env['SSH_AUTH_SOCK'];
  if (sock === undefined || sock === '') throw new BadParameterError('cannot forward the agent: SSH_AUTH_SOCK is not set', { hint: 'start ssh-agent and add your keys first' });
  return sock;
}

/** Resolves when the connection ends or on the first SIGINT/SIGTERM (`-N`). */
function untilClosed(conn: NodeConnection): Promise<void> {
  return new Promise((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    conn.client.once('close', stop);
  });
}

/** One node: forwards, then the session (or nothing with `-N`). */
async function runOnNode(sshProfile: SshProfile, p: Plan, options: TshSshOptions, io: TshSshIo): Promise<number> {
  const cluster = options.cluster ?? sshProfile.profile.site_name;
  const forwardAgent = agentSocket(options, io.env);
  const conn = await connectNode(sshProfile, { host: p.host, port: p.port, cluster, login: p.login, ...(forwardAgent ? { forwardAgent } : {}) });
  const servers = [];
  try {
    for (const spec of p.local) servers.push(await startLocalForward(conn.client, spec));
    for (const spec of p.remote) await startRemoteForward(conn.client, spec);
    if (options.noRemoteExec === true) {
      await untilClosed(conn);
      return 0;
    }
    const tty = options.tty ?? (p.command === '' && (io.stdin as NodeJS.ReadStream).isTTY === true);
    return await runSession(conn.client, { command: p.command, tty, term: io.env['TERM'] || 'xterm', stdio: io });
  } finally {
    for (const server of servers) server.close();
    conn.close();
  }
}

/**
 * Every node matching the selector, in parallel, without stdin; each line of output prefixed with `[hostname] `.
 * The exit status is the first non-zero one, in the order of the hostnames.
 */
async function runOnLabels(sshProfile: SshProfile, p: Plan, options: TshSshOptions, io: TshSshIo): Promise<number> {
  if (p.command === '') throw new BadParameterError('a command is required to run on every node matching a label selector');
  const cluster = options.cluster ?? sshProfile.profile.site_name;
  const nodes = await selectNodes(sshProfile, parseLabelSelector(p.host));
  if (nodes.length === 0) throw new NotFoundError('no matching SSH hosts found for search terms or query expression');
  const statuses = await Promise.all(
    nodes.map(async (node) => {
      const stdout = lineLabeledWriter(io.stdout, node.hostname);
      const stderr = lineLabeledWriter(io.stderr, node.hostname);
      try {
        const conn = await connectNode(sshProfile, { host: node.name, port: 0, cluster, login: p.login });
        try {
          return await runSession(conn.client, { command: p.command, tty: false, term: 'xterm', stdio: { stdin: Readable.from([]), stdout, stderr } });
        } finally {
          conn.close();
        }
      } catch (err) {
        stderr.write(`ERROR: ${(err as Error).message}\n`);
        return 1;
      } finally {
        stdout.end();
        stderr.end();
      }
    }),
  );
  return statuses.find((s) => s !== 0) ?? 0;
}

/** Runs `tsh ssh` and returns the exit status. */
export async function tshSsh(target: string, command: readonly string[], options: TshSshOptions, globals: SshGlobals, io: TshSshIo): Promise<number> {
  const p = plan(target, command, options);
  const sshProfile = await openSshProfile(globals, io.env);
  return p.host.includes('=') ? runOnLabels(sshProfile, p, options, io) : runOnNode(sshProfile, p, options, io);
}
