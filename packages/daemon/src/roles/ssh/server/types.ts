/** The interfaces of the node's SSH server: what the node service passes in (see `./index.ts`). */

import type { SshCertificate, SshUserIdentity } from '@teleport-ts/core/ca';
import type { Clock } from '@teleport-ts/core/clock';
import type { LockSubject } from '@teleport-ts/core/types';
import type { Client } from 'ssh2';
import type { SftpAuditEventName } from './sftp-audit.js';

/**
 * Audit events the server emits; each name is the audit catalogue key the node service maps it to (Teleport's
 * event in brackets): `authAttemptFailure` (auth, T3007W), `sessionRejected` (session.rejected, T1006W),
 * `sessionStart` (session.start, T2000I), `sessionEnd` (session.end, T2004I), `exec` (exec, T3002I / T3002E with
 * a non-zero exit), `sftp` (sftp, TS001I, at the subsystem's start and for every file opened), the other SFTP
 * operations (`sftpRemove`, `sftpRename`..., see `./sftp-audit.ts`), `portForward` (port, T3003I).
 */
export type SshAuditEventName = 'authAttemptFailure' | 'sessionRejected' | 'sessionStart' | 'sessionEnd' | 'exec' | 'sftp' | 'portForward' | SftpAuditEventName;

/** JSON-safe fields of an audit event (`user`, `login`, `server_id`, `sid`, `addr.remote`, ...). */
export type SshAuditFields = Record<string, string | number | boolean | string[] | undefined>;

interface SshAuditEmitter {
  emit(event: SshAuditEventName, fields: SshAuditFields): void;
}

/** What the server asks the access check. */
interface SshAccessRequest {
  /** The verified user certificate. */
  certificate: SshCertificate;
  /** Roles, traits and user name read from the certificate. */
  identity: SshUserIdentity;
  /** The requested login (already checked to be a principal of the certificate). */
  login: string;
}

/** What a session may do, once allowed. */
export interface SshAccessDecision {
  /** `options.port_forwarding` of the roles (some role allows it). */
  portForwarding: boolean;
  /** `options.forward_agent` of the roles (some role sets it). */
  forwardAgent: boolean;
  /** The smallest `max_session_ttl` of the roles, in milliseconds: the connection ends after that long. */
  maxSessionTtlMs: number;
}

/**
 * Decides whether the user may log in as `login` to this node; throws `AccessDeniedError` (one line, shown to the
 * client) when not. `newRoleAccess` (`./access.ts`) is the implementation over the user's roles.
 */
export type SshAccessCheck = (request: SshAccessRequest) => Promise<SshAccessDecision>;

/** The lock view of the node (`../../lockwatcher.ts`'s `LockWatcher`). */
interface SshLockView {
  assertNotLocked(subject: LockSubject): void;
  watch(subject: LockSubject, onLocked: (message: string) => void): () => void;
}

/** What a recorder learns at the start of an interactive session. */
export interface SshSessionStart {
  sessionId: string;
  /** The Teleport user. */
  user: string;
  login: string;
  clusterName: string;
  hostUUID: string;
  nodeName: string;
  remoteAddr: string;
  /** The command (`exec` with a PTY), or undefined for a shell. */
  command: string | undefined;
  cols: number;
  rows: number;
  startedAt: Date;
}

/** A session recording in progress (the rec helper's `newSessionRecorder`); it takes its own timings. */
export interface SshSessionRecorder {
  output(data: Buffer): void;
  resize(cols: number, rows: number): void;
  end(): Promise<void>;
}

/** Builds the recorder of one interactive (PTY) session. */
export type SshRecorderFactory = (session: SshSessionStart) => SshSessionRecorder | Promise<SshSessionRecorder>;

/**
 * Relay mode (the proxy in front of an agentless OpenSSH node): once the user is allowed, `login` opens the SSH
 * connection to the node that sessions and `-L` forwards go through (`./relay.ts`); throwing refuses the login with
 * the error's line.
 */
export interface SshRelay {
  login(request: SshAccessRequest): Promise<Client>;
}

/** Options for `newNodeSshServer`. */
export interface NodeSshServerOptions {
  /** The host private key (PKCS#8/SEC1 PEM or OpenSSH). */
  hostKey: string;
  /** The host certificate from the cluster's host CA (an OpenSSH `-cert.pub` line). */
  hostCert: string;
  clusterName: string;
  nodeName: string;
  hostUUID: string;
  /** The user CA keys as `authorized_keys` lines, read at every login (rotation: old and new). */
  userCAs: () => readonly string[];
  access: SshAccessCheck;
  locks?: SshLockView;
  audit: SshAuditEmitter;
  recorder?: SshRecorderFactory;
  /** Relay mode: programs run on another SSH server, not here. */
  relay?: SshRelay;
  clock?: Clock;
  /** How long a connection may take to log in (sshd's `LoginGraceTime`); default 60 s. */
  loginGraceMs?: number;
  /** Where the `sftp` subsystem is; default `/usr/lib/openssh/sftp-server`. */
  sftpServerPath?: string;
}
