/**
 * The host account behind a login, and the environment a session starts with (as sshd builds it: the account's
 * home, shell, user names, a default PATH, the SSH_* variables, then what the client sent with `env`).
 */

import { execFile } from 'node:child_process';
import { AccessDeniedError } from '@teleport-ts/core/errors';

export interface HostAccount {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const USER_PATH = '/usr/local/bin:/usr/bin:/bin:/usr/games';

/** Looks the login up through NSS (`getent passwd`), so LDAP and other sources work as for sshd. */
export function lookupAccount(login: string): Promise<HostAccount> {
  const unknown = (): AccessDeniedError =>
    new AccessDeniedError(`failed to log in as ${JSON.stringify(login)}: the user does not exist on this host`, { code: 'ERR_TP_SSH_DENIED' });
  if (!/^[A-Za-z0-9._][A-Za-z0-9._-]{0,63}\$?$/.test(login)) return Promise.reject(unknown());
  return new Promise((resolve, reject) => {
    execFile('getent', ['passwd', login], { timeout: 5_000 }, (err, stdout) => {
      const fields = err ? [] : stdout.trim().split('\n')[0]!.split(':');
      const [name, , uid, gid, , home, shell] = fields;
      if (name !== login || uid === undefined || gid === undefined) return reject(unknown());
      resolve({ name, uid: Number(uid), gid: Number(gid), home: home || '/', shell: shell || '/bin/sh' });
    });
  });
}

/** Whether this process can start programs as `account` (as root, any; otherwise only as itself). */
export function canRunAs(account: HostAccount): boolean {
  const uid = process.getuid?.();
  return uid === 0 || uid === account.uid;
}

/** Names a client may not set with `env`: they would change how the session's programs load or who they run as. */
const PROTECTED_ENV = /^(LD_.*|DYLD_.*|PATH|HOME|USER|LOGNAME|SHELL|MAIL|IFS|BASH_ENV|ENV|SSH_.*|TELEPORT_.*|PYTHON.*|PERL5.*|NODE_OPTIONS)$/;

/** Whether an `env` request is honoured. */
export function acceptsEnv(name: string, value: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]{0,127}$/.test(name) && !PROTECTED_ENV.test(name) && value.length <= 8192;
}

export interface SessionEnvOptions {
  account: HostAccount;
  /** Variables the client sent, already filtered by {@link acceptsEnv}. */
  clientEnv: Readonly<Record<string, string>>;
  term: string | undefined;
  remoteAddr: string;
  remotePort: number;
  localPort: number;
  sessionId: string;
  /** `SSH_AUTH_SOCK` when the agent is forwarded. */
  agentSocket: string | undefined;
  /** The Teleport user. */
  user: string;
}

export function sessionEnv(o: SessionEnvOptions): Record<string, string> {
  const env: Record<string, string> = {
    ...o.clientEnv,
    HOME: o.account.home,
    USER: o.account.name,
    LOGNAME: o.account.name,
    SHELL: o.account.shell,
    PATH: o.account.uid === 0 ? DEFAULT_PATH : USER_PATH,
    SSH_CLIENT: `${o.remoteAddr} ${o.remotePort} ${o.localPort}`,
    SSH_CONNECTION: `${o.remoteAddr} ${o.remotePort} 127.0.0.1 ${o.localPort}`,
    SSH_SESSION_ID: o.sessionId,
    SSH_TELEPORT_USER: o.user,
    SSH_TELEPORT_SESSION_ID: o.sessionId,
  };
  if (o.term !== undefined) env['TERM'] = o.term;
  if (o.agentSocket !== undefined) env['SSH_AUTH_SOCK'] = o.agentSocket;
  return env;
}
