/**
 * The on-disk side of a service's audit queue: each event is appended (one JSON line, a plain `write`, no fsync) when
 * it is emitted, before the operation it records is answered, and the file is emptied whenever everything queued
 * has been stored by the auth server. A process killed with `kill -9` leaves its unsent events in the file (the
 * kernel keeps what was written), and the next start sends them: their uids were fixed at emission, so an event that
 * had been stored already is stored once. `pnpm soak` found the gap: a query answered less than the batching delay
 * before the agent was killed had no audit event.
 */

import { closeSync, fstatSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { AuditEvent } from '@teleport-ts/core/audit';

/** Past this size nothing more is spooled (the events still queue in memory): a long outage cannot fill the disk. */
const MAX_SPOOL_BYTES = 64 * 1024 * 1024;

export interface AuditSpool {
  /** Events a previous process left unsent, oldest first. */
  readonly pending: AuditEvent[];
  append(event: AuditEvent): void;
  /** Everything appended so far is stored: the file starts over. */
  emptied(): void;
  close(): void;
}

function readPending(file: string): AuditEvent[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const events: AuditEvent[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    try {
      const event = JSON.parse(line) as AuditEvent;
      if (event !== null && typeof event === 'object' && typeof event.uid === 'string' && typeof event.event === 'string') events.push(event);
    } catch {
      // The last line of a process killed mid-write: the event it held was never sent either, and cannot be read.
    }
  }
  return events;
}

/**
 * Opens (creating) the spool file. The events found in it are `pending`; they stay in the file until the caller's
 * queue, which starts with them, is emptied.
 *
 * @example
 * ```ts
 * const spool = openAuditSpool(path.join(dataDir, 'log', 'audit-spool', 'db.jsonl'));
 * for (const e of spool.pending) queue.push(e);
 * ```
 */
export function openAuditSpool(file: string): AuditSpool {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const pending = readPending(file);
  const fd = openSync(file, 'a', 0o600);
  let bytes = fstatSync(fd).size;
  let open = true;
  return {
    pending,
    append(event) {
      if (!open || bytes > MAX_SPOOL_BYTES) return;
      const line = `${JSON.stringify(event)}\n`;
      bytes += writeSync(fd, line);
    },
    emptied() {
      if (!open || bytes === 0) return;
      ftruncateSync(fd, 0);
      bytes = 0;
    },
    close() {
      if (!open) return;
      open = false;
      closeSync(fd);
    },
  };
}
