import { systemClock, type Clock } from '../clock/index.js';
import type { AuditEvent, JsonValue } from './types.js';
import { newEventUid } from './uid.js';

/**
 * The audit events teleport-ts emits: one row per (event name, code). Codes are Teleport's
 * (`lib/events/codes.go`), so that tools reading Teleport audit logs read ours; the suffix says the
 * severity: `I` info, `W` warning (a denied or failed attempt), `E` error.
 *
 * To add an event, add a row here; never reuse or change a code once shipped.
 */
export const AUDIT_EVENT_CATALOGUE = [
  { key: 'userLogin', event: 'user.login', code: 'T1000I', description: 'A local user logged in.' },
  { key: 'userLoginFailure', event: 'user.login', code: 'T1000W', description: 'A local user failed to log in.' },
  { key: 'userCreate', event: 'user.create', code: 'T1002I', description: 'A user was created.' },
  { key: 'userUpdate', event: 'user.update', code: 'T1003I', description: 'A user was updated.' },
  { key: 'userDelete', event: 'user.delete', code: 'T1004I', description: 'A user was deleted.' },
  { key: 'userPasswordChange', event: 'user.password_change', code: 'T1005I', description: 'A user changed their password.' },
  { key: 'resetPasswordTokenCreate', event: 'reset_password_token.create', code: 'T6000I', description: 'An invite or password reset token was created.' },
  { key: 'authAttemptFailure', event: 'auth', code: 'T3007W', description: 'An authentication attempt failed (bad certificate, key or MFA).' },
  { key: 'joinTokenCreate', event: 'join_token.create', code: 'TJT00I', description: 'A join (provision) token was created.' },
  { key: 'roleCreated', event: 'role.created', code: 'T9000I', description: 'A role was created.' },
  { key: 'roleDeleted', event: 'role.deleted', code: 'T9001I', description: 'A role was deleted.' },
  { key: 'roleUpdated', event: 'role.updated', code: 'T9002I', description: 'A role was updated.' },
  { key: 'instanceJoin', event: 'instance.join', code: 'TJ002I', description: 'An instance (node, proxy, db agent) joined the cluster.' },
  { key: 'instanceJoinFailure', event: 'instance.join', code: 'TJ002E', description: 'An instance failed to join the cluster.' },
  { key: 'lockCreated', event: 'lock.created', code: 'TLK00I', description: 'A lock was created.' },
  { key: 'lockDeleted', event: 'lock.deleted', code: 'TLK01I', description: 'A lock was deleted.' },
  { key: 'accessRequestCreate', event: 'access_request.create', code: 'T5000I', description: 'An access request was created.' },
  { key: 'accessRequestUpdate', event: 'access_request.update', code: 'T5001I', description: 'An access request was approved, denied or expired.' },
  { key: 'accessRequestReview', event: 'access_request.review', code: 'T5002I', description: 'An access request was reviewed.' },
  { key: 'accessRequestDelete', event: 'access_request.delete', code: 'T5003I', description: 'An access request was deleted.' },
  { key: 'certificateCreate', event: 'cert.create', code: 'TC000I', description: 'A user certificate was issued.' },
  { key: 'sessionStart', event: 'session.start', code: 'T2000I', description: 'An interactive SSH session started.' },
  { key: 'sessionResize', event: 'resize', code: 'T2002I', description: 'The terminal of an SSH session was resized.' },
  { key: 'sessionEnd', event: 'session.end', code: 'T2004I', description: 'An interactive SSH session ended.' },
  { key: 'sessionUpload', event: 'session.upload', code: 'T2005I', description: 'The recording of a session was uploaded to the audit sessions storage.' },
  { key: 'sessionRecordingAccess', event: 'session.recording.access', code: 'T2012I', description: 'A session recording was read (tsh play).' },
  { key: 'sessionRejected', event: 'session.rejected', code: 'T1006W', description: 'An SSH session or connection was refused.' },
  { key: 'subsystem', event: 'subsystem', code: 'T3001I', description: 'An SSH subsystem (sftp) was requested.' },
  { key: 'subsystemFailure', event: 'subsystem', code: 'T3001E', description: 'An SSH subsystem failed to start.' },
  { key: 'exec', event: 'exec', code: 'T3002I', description: 'A command ran over SSH (exec request).' },
  { key: 'execFailure', event: 'exec', code: 'T3002E', description: 'A command run over SSH failed.' },
  { key: 'portForward', event: 'port', code: 'T3003I', description: 'A port was forwarded over SSH (-L or -R).' },
  { key: 'portForwardFailure', event: 'port', code: 'T3003E', description: 'Port forwarding over SSH was refused or failed.' },
  { key: 'scpDownload', event: 'scp', code: 'T3004I', description: 'A file was downloaded with scp.' },
  { key: 'scpDownloadFailure', event: 'scp', code: 'T3004E', description: 'A download with scp failed.' },
  { key: 'scpUpload', event: 'scp', code: 'T3005I', description: 'A file was uploaded with scp.' },
  { key: 'scpUploadFailure', event: 'scp', code: 'T3005E', description: 'An upload with scp failed.' },
  { key: 'sftp', event: 'sftp', code: 'TS001I', description: 'SFTP activity: the sftp subsystem started, or a file was opened (Teleport\'s SFTP open code).' },
  { key: 'sftpFailure', event: 'sftp', code: 'TS001E', description: 'An SFTP operation failed.' },
  { key: 'sftpSetstat', event: 'sftp', code: 'TS007I', description: 'SFTP: file attributes were set.' },
  { key: 'sftpSetstatFailure', event: 'sftp', code: 'TS007E', description: 'SFTP: setting file attributes failed.' },
  { key: 'sftpRemove', event: 'sftp', code: 'TS011I', description: 'SFTP: a file was removed.' },
  { key: 'sftpRemoveFailure', event: 'sftp', code: 'TS011E', description: 'SFTP: removing a file failed.' },
  { key: 'sftpMkdir', event: 'sftp', code: 'TS012I', description: 'SFTP: a directory was created.' },
  { key: 'sftpMkdirFailure', event: 'sftp', code: 'TS012E', description: 'SFTP: creating a directory failed.' },
  { key: 'sftpRmdir', event: 'sftp', code: 'TS013I', description: 'SFTP: a directory was removed.' },
  { key: 'sftpRmdirFailure', event: 'sftp', code: 'TS013E', description: 'SFTP: removing a directory failed.' },
  { key: 'sftpRename', event: 'sftp', code: 'TS016I', description: 'SFTP: a file was renamed.' },
  { key: 'sftpRenameFailure', event: 'sftp', code: 'TS016E', description: 'SFTP: renaming a file failed.' },
  { key: 'sftpSymlink', event: 'sftp', code: 'TS018I', description: 'SFTP: a symbolic link was created.' },
  { key: 'sftpSymlinkFailure', event: 'sftp', code: 'TS018E', description: 'SFTP: creating a symbolic link failed.' },
  { key: 'sftpSummary', event: 'sftp_summary', code: 'TS021I', description: 'What an SFTP session read and wrote, per file.' },
  { key: 'databaseSessionStart', event: 'db.session.start', code: 'TDB00I', description: 'A database session started.' },
  { key: 'databaseSessionStartFailure', event: 'db.session.start', code: 'TDB00W', description: 'A database session was denied or failed to start.' },
  { key: 'databaseSessionEnd', event: 'db.session.end', code: 'TDB01I', description: 'A database session ended.' },
  { key: 'databaseSessionQuery', event: 'db.session.query', code: 'TDB02I', description: 'A query ran in a database session.' },
  { key: 'databaseSessionQueryFailure', event: 'db.session.query', code: 'TDB02W', description: 'A query in a database session failed.' },
] as const satisfies readonly AuditEventDefinition[];

/** One row of {@link AUDIT_EVENT_CATALOGUE}. */
export interface AuditEventDefinition {
  /** The name code refers to it by (`AUDIT_EVENTS.userLogin`). */
  key: string;
  /** The event name stored in `event`. */
  event: string;
  /** The stable code stored in `code`. */
  code: string;
  description: string;
}

/** The key of a catalogued event, e.g. `'userLoginFailure'`. */
export type AuditEventKey = (typeof AUDIT_EVENT_CATALOGUE)[number]['key'];

/** Severity, from the code's suffix. */
export type AuditEventSeverity = 'info' | 'warning' | 'error';

/**
 * The catalogue by key, e.g. `AUDIT_EVENTS.userLogin` is `{ event: 'user.login', code: 'T1000I', ... }`.
 *
 * @example
 * ```ts
 * store.search({ from, to, eventTypes: [AUDIT_EVENTS.userLogin.event], limit: 100, order: 'desc' });
 * ```
 */
export const AUDIT_EVENTS: { readonly [E in (typeof AUDIT_EVENT_CATALOGUE)[number] as E['key']]: E } = Object.freeze(
  Object.fromEntries(AUDIT_EVENT_CATALOGUE.map((d) => [d.key, Object.freeze(d)])),
) as never;

const BY_CODE: ReadonlyMap<string, AuditEventDefinition> = new Map(AUDIT_EVENT_CATALOGUE.map((d) => [d.code, d]));

/** The catalogue entry of a code, or undefined for codes teleport-ts does not emit. */
export function lookupAuditEventCode(code: string): AuditEventDefinition | undefined {
  return BY_CODE.get(code);
}

/** Severity of an event code from its suffix (`T1000W` -> warning); unknown suffixes read as info. */
export function auditEventSeverity(code: string): AuditEventSeverity {
  if (code.endsWith('W')) return 'warning';
  if (code.endsWith('E')) return 'error';
  return 'info';
}

/** Fields of a new event besides the ones {@link newAuditEvent} fills in. */
export type AuditEventFields = { [field: string]: JsonValue | undefined } & {
  uid?: never;
  event?: never;
  code?: never;
  time?: never;
};

export interface NewAuditEventOptions {
  /** Stamps `time`; defaults to the system clock. */
  clock?: Clock;
  /** The event id; defaults to a random UUID. Pass one to make a retried emit idempotent. */
  uid?: string;
}

/**
 * Builds a catalogued event: fills `event` and `code` from the catalogue, `uid` (random UUID) and `time`
 * (from the clock), and drops fields whose value is `undefined`.
 *
 * @example
 * ```ts
 * const ev = newAuditEvent('userLoginFailure', { user: 'alice', success: false, error: 'bad password' }, { clock });
 * await store.emit(ev);
 * ```
 */
export function newAuditEvent(key: AuditEventKey, fields: AuditEventFields = {}, options: NewAuditEventOptions = {}): AuditEvent {
  const def = AUDIT_EVENTS[key];
  if (def === undefined) throw new TypeError(`unknown audit event ${JSON.stringify(key)}`);
  const now = (options.clock ?? systemClock).now();
  const ev: AuditEvent = {
    event: def.event,
    code: def.code,
    uid: options.uid ?? newEventUid(now.getTime()),
    time: now.toISOString(),
  };
  for (const [k, v] of Object.entries(fields)) {
    if (v !== undefined && k !== 'uid' && k !== 'event' && k !== 'code' && k !== 'time') ev[k] = v;
  }
  return ev;
}
