/**
 * Per-file audit of an SFTP session (Teleport's `sftp` events): the client's requests and the server's replies are
 * read as they pass, unchanged, and every open, setstat, remove, mkdir, rmdir, rename and symlink is reported with its
 * path (and target), once the server answered, with Teleport's code for its success or failure. Reads and writes are
 * not reported one by one. Data packets are skipped without being buffered; a packet longer than OpenSSH's 256 KiB
 * limit, or more than 1,024 requests waiting for an answer, stops the audit of that session (the transfer goes on).
 */

/** SSH_FXP_* request types reported, and their action names. */
const REQUESTS: Readonly<Record<number, SftpAction>> = { 3: 'open', 9: 'setstat', 13: 'remove', 14: 'mkdir', 15: 'rmdir', 18: 'rename', 20: 'symlink' };
const SSH_FXP_EXTENDED = 200;
/** OpenSSH's rename with POSIX semantics, which its `sftp` uses for `rename` when the server has it. */
const POSIX_RENAME = 'posix-rename@openssh.com';
const SSH_FXP_STATUS = 101;
const SSH_FXP_HANDLE = 102;
const SSH_FX_OK = 0;
/** OpenSSH's `SFTP_MAX_MSG_LENGTH`. */
const MAX_PACKET_BYTES = 256 * 1024;
const MAX_PENDING = 1024;
const MAX_PATH_CHARS = 4096;

type SftpAction = 'open' | 'setstat' | 'remove' | 'mkdir' | 'rmdir' | 'rename' | 'symlink';

/** The audit catalogue keys of each action: success, failure (Teleport's TS0xxI / TS0xxE codes). */
const SFTP_AUDIT_KEYS = {
  open: ['sftp', 'sftpFailure'],
  setstat: ['sftpSetstat', 'sftpSetstatFailure'],
  remove: ['sftpRemove', 'sftpRemoveFailure'],
  mkdir: ['sftpMkdir', 'sftpMkdirFailure'],
  rmdir: ['sftpRmdir', 'sftpRmdirFailure'],
  rename: ['sftpRename', 'sftpRenameFailure'],
  symlink: ['sftpSymlink', 'sftpSymlinkFailure'],
} as const satisfies Record<SftpAction, readonly [string, string]>;

export type SftpAuditEventName = (typeof SFTP_AUDIT_KEYS)[SftpAction][number];

/** What one reported operation says. */
export interface SftpFileEvent {
  action: SftpAction;
  path: string;
  /** `rename`: the new path; `symlink`: the second path of the request. */
  target_path?: string;
  /** `open`: SSH_FXF_* flags (1 read, 2 write, 8 create, 16 truncate...). */
  flags?: number;
  /** The server's message when it refused. */
  error?: string;
}

/** Where the two directions of the subsystem's bytes go. */
export interface SftpAuditor {
  fromClient(chunk: Buffer): void;
  fromServer(chunk: Buffer): void;
}

interface Pending {
  action: SftpAction;
  path: string;
  target?: string;
  flags?: number;
}

/** Reads length-prefixed fields of one packet body. */
function reader(body: Buffer): { u32(): number; str(): string } {
  let off = 0;
  const u32 = (): number => {
    const v = body.readUInt32BE(off);
    off += 4;
    return v;
  };
  return {
    u32,
    str: () => {
      const len = u32();
      if (off + len > body.length) throw new RangeError('truncated string');
      const s = body.toString('utf8', off, off + len);
      off += len;
      return s.length > MAX_PATH_CHARS ? `${s.slice(0, MAX_PATH_CHARS)}...` : s;
    },
  };
}

/**
 * Splits a byte stream into SFTP packets (`uint32 length`, `byte type`, body), handing the bodies of the types `wants`
 * to `onPacket` and skipping the others as they pass. Returns false once the stream is not SFTP as expected.
 */
function newFramer(wants: (type: number) => boolean, onPacket: (type: number, body: Buffer) => void): (chunk: Buffer) => boolean {
  let header = Buffer.alloc(0);
  let remaining = -1;
  let type = 0;
  let parts: Buffer[] | undefined;
  let broken = false;
  return (chunk) => {
    let off = 0;
    while (!broken && off < chunk.length) {
      if (remaining < 0) {
        const take = Math.min(5 - header.length, chunk.length - off);
        header = Buffer.concat([header, chunk.subarray(off, off + take)]);
        off += take;
        if (header.length < 5) break;
        const length = header.readUInt32BE(0);
        type = header[4]!;
        header = Buffer.alloc(0);
        if (length < 1 || length > MAX_PACKET_BYTES) broken = true;
        remaining = length - 1;
        parts = wants(type) ? [] : undefined;
      }
      const take = Math.min(remaining, chunk.length - off);
      parts?.push(chunk.subarray(off, off + take));
      off += take;
      remaining -= take;
      if (remaining === 0) {
        if (parts !== undefined) onPacket(type, Buffer.concat(parts));
        parts = undefined;
        remaining = -1;
      }
    }
    return !broken;
  };
}

/** Reads one request the audit reports; undefined when it is malformed. */
function readRequest(type: number, body: Buffer): { id: number; pending: Pending } | undefined {
  try {
    const r = reader(body);
    const id = r.u32();
    if (type === SSH_FXP_EXTENDED && r.str() !== POSIX_RENAME) return undefined;
    const action = type === SSH_FXP_EXTENDED ? 'rename' : REQUESTS[type]!;
    const path = r.str();
    if (action === 'open') return { id, pending: { action, path, flags: r.u32() } };
    if (action === 'rename' || action === 'symlink') return { id, pending: { action, path, target: r.str() } };
    return { id, pending: { action, path } };
  } catch {
    return undefined;
  }
}

/**
 * @example
 * ```ts
 * const auditor = newSftpAuditor((name, event) => audit.emit(name, { ...base, ...event }));
 * channel.on('data', auditor.fromClient); child.stdout.on('data', auditor.fromServer);
 * ```
 */
export function newSftpAuditor(emit: (name: SftpAuditEventName, event: SftpFileEvent) => void): SftpAuditor {
  const pending = new Map<number, Pending>();
  let on = true;
  const report = (p: Pending, ok: boolean, error?: string): void => {
    const keys = SFTP_AUDIT_KEYS[p.action];
    emit(ok ? keys[0] : keys[1], {
      action: p.action,
      path: p.path,
      ...(p.target !== undefined ? { target_path: p.target } : {}),
      ...(p.flags !== undefined ? { flags: p.flags } : {}),
      ...(ok ? {} : { error: error || 'failed' }),
    });
  };
  const client = newFramer((type) => type in REQUESTS || type === SSH_FXP_EXTENDED, (type, body) => {
    const request = readRequest(type, body);
    if (request === undefined) return;
    if (pending.size >= MAX_PENDING) on = false;
    else pending.set(request.id, request.pending);
  });
  const server = newFramer((type) => type === SSH_FXP_STATUS || type === SSH_FXP_HANDLE, (type, body) => {
    if (body.length < 4) return;
    const r = reader(body);
    const request = pending.get(r.u32());
    if (request === undefined) return;
    pending.delete(body.readUInt32BE(0));
    if (type === SSH_FXP_HANDLE) return report(request, true);
    try {
      const code = r.u32();
      report(request, code === SSH_FX_OK, code === SSH_FX_OK ? undefined : r.str());
    } catch {
      report(request, false);
    }
  });
  return {
    fromClient: (chunk) => {
      if (on) on = client(chunk);
    },
    fromServer: (chunk) => {
      if (on) on = server(chunk);
    },
  };
}
