/** The state of one SSH connection to the node, shared by its steps (auth, sessions, forwarding). */

import type { Server } from 'node:net';
import type { SshCertificate, SshUserIdentity } from '@teleport-ts/core/ca';
import type { Clock } from '@teleport-ts/core/clock';
import type { LockSubject } from '@teleport-ts/core/types';
import type { Client, Connection, ServerChannel } from 'ssh2';
import type { NodeSshServerOptions, SshAccessDecision, SshAuditFields } from './types.js';

/** Who is logged in, once authentication succeeded. */
export interface LoggedIn {
  login: string;
  certificate: SshCertificate;
  identity: SshUserIdentity;
  decision: SshAccessDecision;
}

export interface ConnectionState {
  options: NodeSshServerOptions;
  clock: Clock;
  connection: Connection;
  /** The client's address as handed to the server (`host:port` or a bare host). */
  remoteAddr: string;
  remoteHost: string;
  remotePort: number;
  user: LoggedIn | undefined;
  /** Relay mode: the connection to the node, once logged in. */
  upstream?: Client;
  /** Channels of running sessions, told why when the connection is ended from here. */
  channels: Set<ServerChannel>;
  /** `-R` listeners by `addr:port`. */
  forwards: Map<string, Server>;
  /** Run once when the connection closes. */
  cleanups: Array<() => void>;
  closed: boolean;
}

/** Splits `host:port`, `[v6]:port` or a bare host. */
export function splitAddress(addr: string): { host: string; port: number } {
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(addr);
  if (v6) return { host: v6[1]!, port: Number(v6[2]) };
  const v4 = /^([^:]+):(\d+)$/.exec(addr);
  if (v4) return { host: v4[1]!, port: Number(v4[2]) };
  return { host: addr, port: 0 };
}

/** The fields every audit event of the connection carries. */
export function auditBase(state: ConnectionState): SshAuditFields {
  const { options, user } = state;
  return {
    user: user?.identity.username,
    login: user?.login,
    server_id: options.hostUUID,
    server_hostname: options.nodeName,
    cluster_name: options.clusterName,
    'addr.remote': state.remoteAddr,
  };
}

export function lockSubject(state: ConnectionState, user: Pick<LoggedIn, 'identity' | 'login'>): LockSubject {
  return { user: user.identity.username, roles: user.identity.roles, logins: [user.login], serverId: state.options.hostUUID };
}

/** Ends the connection, first telling every running session why (on its stderr). */
export function endConnection(state: ConnectionState, message: string): void {
  for (const channel of state.channels) {
    channel.stderr.write(`\r\n${message}\r\n`);
    channel.exit(255);
    channel.end();
  }
  // Let the messages go out before the transport closes.
  setTimeout(() => state.connection.end(), 50).unref();
}
