/**
 * Session channels: `pty-req`, `env`, `window-change`, `signal`, `auth-agent-req`, then one of `shell`, `exec` or
 * the `sftp` subsystem, run as the login's account. Interactive (PTY) sessions are handed to the recorder.
 */

import { randomUUID } from 'node:crypto';
import type { AcceptConnection, ServerChannel, Session } from 'ssh2';
import { auditBase, type ConnectionState } from './state.js';
import { startAgentForward, type AgentForward } from './forward.js';
import { startPipedProgram, startPtyProgram, type ProgramExit, type SessionProgram } from './process.js';
import { startRelayedProgram } from './relay.js';
import { newSftpAuditor } from './sftp-audit.js';
import type { SshSessionRecorder } from './types.js';
import { acceptsEnv, canRunAs, lookupAccount, sessionEnv, type HostAccount } from './users.js';

const DEFAULT_SFTP_SERVER = '/usr/lib/openssh/sftp-server';

interface SessionState {
  id: string;
  env: Record<string, string>;
  pty: { term: string; cols: number; rows: number } | undefined;
  program: SessionProgram | undefined;
  agent: Promise<AgentForward | undefined> | undefined;
  recorder: SshSessionRecorder | undefined;
}

type Accept = (() => ServerChannel | undefined) | undefined;
type Reply = (() => void) | undefined;

/** Serves one session channel. */
export function serveSession(state: ConnectionState, accept: AcceptConnection<Session>): void {
  const session = accept();
  const s: SessionState = { id: randomUUID(), env: {}, pty: undefined, program: undefined, agent: undefined, recorder: undefined };
  session.on('pty', (ok: Reply, no: Reply, info: { term: string; cols: number; rows: number }) => {
    if (!state.user!.identity.permitPty) return refuseRequest(state, no, 'PTY allocation is not permitted by the certificate');
    s.pty = { term: info.term || 'xterm', cols: info.cols || 80, rows: info.rows || 24 };
    ok?.();
  });
  session.on('window-change', (ok: Reply, _no: Reply, info: { cols: number; rows: number }) => {
    if (s.pty) Object.assign(s.pty, { cols: info.cols, rows: info.rows });
    s.program?.resize(info.cols, info.rows);
    s.recorder?.resize(info.cols, info.rows);
    ok?.();
  });
  session.on('env', (ok: Reply, no: Reply, info: { key: string; val: string }) => {
    if (!acceptsEnv(info.key, info.val)) return no?.();
    s.env[info.key] = info.val;
    ok?.();
  });
  session.on('signal', (ok: Reply, _no: Reply, info: { name: string }) => {
    s.program?.kill(info.name);
    ok?.();
  });
  session.on('auth-agent', (ok: Reply, no: Reply) => requestAgent(state, s, ok, no));
  session.on('shell', (ok: Accept, no: Reply) => run(state, s, { ok, no }, undefined));
  session.on('exec', (ok: Accept, no: Reply, info: { command: string }) => run(state, s, { ok, no }, info.command));
  session.on('subsystem', (ok: Accept, no: Reply, info: { name: string }) => {
    if (info.name !== 'sftp') return no?.();
    run(state, s, { ok, no }, undefined, 'sftp');
  });
  session.on('close', () => void s.agent?.then((agent) => agent?.close()));
}

function refuseRequest(state: ConnectionState, no: Reply, reason: string): void {
  state.options.audit.emit('sessionRejected', { ...auditBase(state), reason });
  no?.();
}

function requestAgent(state: ConnectionState, s: SessionState, ok: Reply, no: Reply): void {
  const { identity, decision, login } = state.user!;
  if (state.upstream !== undefined) return refuseRequest(state, no, 'agent forwarding to agentless OpenSSH nodes is not supported');
  if (!decision.forwardAgent) return refuseRequest(state, no, 'agent forwarding is not permitted by the roles (options.forward_agent)');
  if (!identity.permitAgentForwarding) return refuseRequest(state, no, 'agent forwarding is not permitted by the certificate');
  s.agent = lookupAccount(login)
    .then((account) => startAgentForward(state.connection, account))
    .catch(() => undefined);
  ok?.();
}

/** Accepts the request and reports a failure on the channel, as sshd does when a session cannot start. */
function failChannel(channel: ServerChannel | undefined, message: string): void {
  if (channel === undefined) return;
  channel.stderr.write(`${message}\r\n`);
  channel.exit(1);
  channel.end();
}

/**
 * The account of the login, or the failure told on the channel. The channel is accepted before (synchronously):
 * ssh2 drops a request answered after the client's EOF, which `ssh host cmd </dev/null` sends at once.
 */
async function prepare(state: ConnectionState, channel: ServerChannel): Promise<HostAccount | undefined> {
  const { login } = state.user!;
  try {
    const account = await lookupAccount(login);
    if (!canRunAs(account)) throw new Error(`failed to log in as ${JSON.stringify(login)}: the node cannot start programs as that user`);
    return account;
  } catch (err) {
    failChannel(channel, (err as Error).message);
    return undefined;
  }
}

function run(state: ConnectionState, s: SessionState, replies: { ok: Accept; no: Reply }, requested: string | undefined, subsystem?: 'sftp'): void {
  const channel = replies.ok?.();
  if (channel !== undefined) void runAccepted(state, s, channel, requested, subsystem);
}

async function runAccepted(state: ConnectionState, s: SessionState, channel: ServerChannel, requested: string | undefined, subsystem: 'sftp' | undefined): Promise<void> {
  // Relayed, the program runs on the node as its sshd decides: no account here.
  const account = state.upstream === undefined ? await prepare(state, channel) : undefined;
  if (account === undefined && state.upstream === undefined) return;
  const { identity } = state.user!;
  const command = subsystem === undefined ? (identity.forceCommand ?? requested) : undefined;
  if (identity.forceCommand !== undefined && requested !== undefined) s.env['SSH_ORIGINAL_COMMAND'] = requested;
  const env = account === undefined ? { ...s.env } : sessionEnv({
    account, clientEnv: s.env, term: s.pty?.term, remoteAddr: state.remoteHost, remotePort: state.remotePort, localPort: 0,
    sessionId: s.id, agentSocket: (await s.agent)?.socketPath, user: identity.username,
  });
  state.channels.add(channel);
  // A session whose channel closes (the client left, a lock ended it) takes its programs with it, as sshd does.
  channel.once('close', () => s.program?.hangup());
  const base = { ...auditBase(state), sid: s.id };
  state.options.audit.emit('sessionStart', { ...base, interactive: s.pty !== undefined, command, subsystem });
  if (subsystem === 'sftp') state.options.audit.emit('sftp', base);
  let exit: ProgramExit;
  try {
    exit = await startProgram(state, s, { channel, account, env, command, subsystem });
  } catch (err) {
    channel.stderr.write(`failed to start the session: ${(err as Error).message}\r\n`);
    exit = { code: 255 };
  }
  state.channels.delete(channel);
  if (!channel.destroyed) {
    if ('code' in exit) channel.exit(exit.code);
    else channel.exit(exit.signal, false, '');
    channel.end();
  }
  if (command !== undefined) state.options.audit.emit('exec', { ...base, command, exitCode: 'code' in exit ? exit.code : 255, signal: 'signal' in exit ? exit.signal : undefined });
  state.options.audit.emit('sessionEnd', { ...base, interactive: s.pty !== undefined });
  await s.recorder?.end().catch(() => undefined);
}

interface ProgramStart {
  channel: ServerChannel;
  /** Undefined when relayed. */
  account: HostAccount | undefined;
  env: Record<string, string>;
  command: string | undefined;
  subsystem: 'sftp' | undefined;
}

async function startProgram(state: ConnectionState, s: SessionState, p: ProgramStart): Promise<ProgramExit> {
  const { options } = state;
  if (s.pty !== undefined && options.recorder !== undefined) {
    s.recorder = await options.recorder({
      sessionId: s.id, user: state.user!.identity.username, login: state.user!.login, clusterName: options.clusterName,
      hostUUID: options.hostUUID, nodeName: options.nodeName, remoteAddr: state.remoteAddr, command: p.command,
      cols: s.pty.cols, rows: s.pty.rows, startedAt: state.clock.now(),
    });
  }
  const recorder = s.recorder;
  const taps = p.subsystem === 'sftp' ? sftpTaps(state, s) : recorder ? { onOutput: (d: Buffer) => recorder.output(d) } : {};
  if (state.upstream !== undefined) {
    s.program = startRelayedProgram({ ...p, client: state.upstream, pty: s.pty, ...taps });
    return s.program.exited;
  }
  const local = { ...p, account: p.account!, ...taps };
  if (p.subsystem === 'sftp') {
    return startPipedProgram({ ...local, argv: [options.sftpServerPath ?? DEFAULT_SFTP_SERVER] }).exited;
  }
  s.program = s.pty === undefined ? startPipedProgram(local) : startPtyProgram({ ...local, ...s.pty });
  return s.program.exited;
}

/** The SFTP audit's view of the subsystem's bytes: every file operation becomes an `sftp` event of the session. */
function sftpTaps(state: ConnectionState, s: SessionState): { onInput(d: Buffer): void; onOutput(d: Buffer): void } {
  const auditor = newSftpAuditor((name, event) => state.options.audit.emit(name, { ...auditBase(state), sid: s.id, ...event }));
  return { onInput: auditor.fromClient, onOutput: auditor.fromServer };
}
