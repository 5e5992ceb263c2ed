/**
 * Where the auth server keeps session recordings (`teleport.storage.audit_sessions_uri`, only `file://` here; default
 * `file://<data_dir>/log/records`). Nodes upload a recording in parts; completing the upload assembles them:
 *
 *   <dir>/<sid>.parts/<index>.<offset>   parts while an upload runs (and `owner`: the host that started it)
 *   <dir>/<sid>.ndjson                   the recording, one event per line
 *   <dir>/<sid>.json                     its summary, a `session.end` event (what `tsh recordings ls` lists)
 *
 * Every step is idempotent by session id and part index, so a node that restarted may send anything again.
 */

import { createReadStream, type ReadStream } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  MAX_RECORDING_BYTES,
  MAX_RECORDING_PARTS,
  MAX_RECORDING_PART_BYTES,
  checkSessionId,
  parseRecordingEvent,
  type RecordingEvent,
  type RecordingSummary,
} from '@teleport-ts/core/api';
import { AccessDeniedError, BadParameterError, LimitExceededError, NotFoundError } from '@teleport-ts/core/errors';

/** The store of recordings. */
export interface SessionRecordingStore {
  /** Where recordings are kept (a directory). */
  readonly dir: string;
  /** Stores one part; a part for a recording already complete is ignored. `owner` is the uploading host. */
  putPart(sid: string, part: { index: number; offset: number; data: Buffer }, owner: string): Promise<void>;
  /** Assembles parts `0 .. parts - 1`; answers the existing summary when the recording is already complete. */
  complete(sid: string, upload: { parts: number; size: number }, owner: string): Promise<{ summary: RecordingSummary; created: boolean }>;
  /** Every complete recording's summary, newest first. */
  list(): Promise<RecordingSummary[]>;
  /** One recording's summary, or not-found. */
  summary(sid: string): Promise<RecordingSummary>;
  /** The recording's bytes (JSON lines). */
  open(sid: string): Promise<ReadStream>;
}

/**
 * Opens the store at `uri` (`file:///abs/path`); without one, `<dataDir>/log/records`.
 *
 * @example
 * ```ts
 * const store = await openSessionRecordingStore({ uri: 'file:///var/lib/teleport/log/records', dataDir });
 * ```
 */
export async function openSessionRecordingStore(options: { uri?: string | undefined; dataDir: string }): Promise<SessionRecordingStore> {
  const dir = options.uri ? dirOfUri(options.uri) : path.join(options.dataDir, 'log', 'records');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const locks = new Map<string, Promise<unknown>>();
  // One operation per session at a time: a retried part and a completion never interleave.
  const serial = <T>(sid: string, fn: () => Promise<T>): Promise<T> => {
    const previous = locks.get(sid) ?? Promise.resolve();
    const next = previous.then(fn, fn);
    const settled = next.catch(() => undefined);
    locks.set(sid, settled);
    void settled.then(() => {
      if (locks.get(sid) === settled) locks.delete(sid);
    });
    return next;
  };
  return {
    dir,
    putPart: (sid, part, owner) => serial(checkSessionId(sid), () => putPart(dir, checkSessionId(sid), part, owner)),
    complete: (sid, upload, owner) => serial(checkSessionId(sid), () => complete(dir, checkSessionId(sid), upload, owner)),
    list: () => listSummaries(dir),
    summary: (sid) => readSummary(dir, checkSessionId(sid)),
    open: async (sid) => {
      const file = path.join(dir, `${checkSessionId(sid)}.ndjson`);
      await stat(file).catch(() => {
        throw notFound(sid);
      });
      return createReadStream(file);
    },
  };
}

function dirOfUri(uri: string): string {
  if (!uri.startsWith('file://')) throw new BadParameterError(`teleport.storage.audit_sessions_uri ${JSON.stringify(uri.slice(0, 80))} is not supported`, { hint: 'use a file:// URI' });
  const dir = fileURLToPath(uri);
  if (!path.isAbsolute(dir)) throw new BadParameterError('teleport.storage.audit_sessions_uri must name an absolute path');
  return dir;
}

const notFound = (sid: string): NotFoundError =>
  new NotFoundError(`session recording ${sid} not found`, { code: 'ERR_TP_RECORDING_NOT_FOUND', hint: 'tsh recordings ls lists the recordings you may play' });

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

function checkPart(part: { index: number; offset: number; data: Buffer }): void {
  if (!Number.isInteger(part.index) || part.index < 0 || part.index >= MAX_RECORDING_PARTS) {
    throw new LimitExceededError(`a recording has at most ${MAX_RECORDING_PARTS} parts`, { code: 'ERR_TP_RECORDING_TOO_LARGE' });
  }
  if (part.data.length > MAX_RECORDING_PART_BYTES) {
    throw new LimitExceededError(`a recording part is at most ${MAX_RECORDING_PART_BYTES} bytes`, { code: 'ERR_TP_RECORDING_TOO_LARGE' });
  }
  if (!Number.isInteger(part.offset) || part.offset < 0 || part.offset + part.data.length > MAX_RECORDING_BYTES) {
    throw new LimitExceededError(`a recording is at most ${MAX_RECORDING_BYTES} bytes`, { code: 'ERR_TP_RECORDING_TOO_LARGE' });
  }
}

/** The first host to upload a part owns the upload; another host may not write into it. */
async function claim(partsDir: string, owner: string): Promise<void> {
  const file = path.join(partsDir, 'owner');
  const current = await readFile(file, 'utf8').catch(() => undefined);
  if (current === undefined) await writeFile(file, owner, { mode: 0o600 });
  else if (current !== owner) throw new AccessDeniedError('access denied: another host is uploading this session recording');
}

async function putPart(dir: string, sid: string, part: { index: number; offset: number; data: Buffer }, owner: string): Promise<void> {
  checkPart(part);
  if (await exists(path.join(dir, `${sid}.ndjson`))) return;
  const partsDir = path.join(dir, `${sid}.parts`);
  await mkdir(partsDir, { recursive: true, mode: 0o700 });
  await claim(partsDir, owner);
  // Last upload of an index wins: a node that restarted may cut a part at another offset.
  for (const name of await readdir(partsDir)) if (name.startsWith(`${part.index}.`)) await rm(path.join(partsDir, name), { force: true });
  const tmp = path.join(partsDir, `tmp-${part.index}`);
  await writeFile(tmp, part.data, { mode: 0o600 });
  await rename(tmp, path.join(partsDir, `${part.index}.${part.offset}`));
}

/** The parts `0 .. count - 1` with their offsets, checked to cover `0 .. size` exactly. */
async function orderedParts(partsDir: string, sid: string, upload: { parts: number; size: number }): Promise<{ file: string; offset: number }[]> {
  const names = await readdir(partsDir).catch(() => [] as string[]);
  const byIndex = new Map<number, { file: string; offset: number }>();
  for (const name of names) {
    const m = /^(\d+)\.(\d+)$/.exec(name);
    if (m) byIndex.set(Number(m[1]), { file: path.join(partsDir, name), offset: Number(m[2]) });
  }
  const incomplete = (why: string): BadParameterError =>
    new BadParameterError(`the upload of session ${sid} is incomplete: ${why}`, { code: 'ERR_TP_RECORDING_INCOMPLETE', hint: 'upload the missing parts, then complete again' });
  const parts: { file: string; offset: number }[] = [];
  let expected = 0;
  for (let i = 0; i < upload.parts; i++) {
    const p = byIndex.get(i);
    if (!p) throw incomplete(`part ${i} is missing`);
    if (p.offset !== expected) throw incomplete(`part ${i} starts at byte ${p.offset}, not ${expected}`);
    expected += (await stat(p.file)).size;
    parts.push(p);
  }
  if (expected !== upload.size) throw incomplete(`the parts hold ${expected} bytes, not ${upload.size}`);
  return parts;
}

async function complete(dir: string, sid: string, upload: { parts: number; size: number }, owner: string): Promise<{ summary: RecordingSummary; created: boolean }> {
  if (!Number.isInteger(upload.parts) || upload.parts < 0 || upload.parts > MAX_RECORDING_PARTS) throw new BadParameterError(`parts must be an integer from 0 to ${MAX_RECORDING_PARTS}`);
  if (!Number.isInteger(upload.size) || upload.size < 0 || upload.size > MAX_RECORDING_BYTES) {
    throw new LimitExceededError(`a recording is at most ${MAX_RECORDING_BYTES} bytes`, { code: 'ERR_TP_RECORDING_TOO_LARGE' });
  }
  const target = path.join(dir, `${sid}.ndjson`);
  if (await exists(target)) return { summary: await readSummary(dir, sid), created: false };
  const partsDir = path.join(dir, `${sid}.parts`);
  await claim(partsDir, owner).catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(sid);
    throw err;
  });
  const parts = await orderedParts(partsDir, sid, upload);
  const tmp = path.join(dir, `${sid}.ndjson.tmp`);
  const out = await open(tmp, 'w', 0o600);
  try {
    for (const p of parts) await out.write(await readFile(p.file));
    await out.sync();
  } finally {
    await out.close();
  }
  const summary = summarize(sid, await scanEvents(tmp), upload.size);
  await writeFile(path.join(dir, `${sid}.json`), `${JSON.stringify(summary)}\n`, { mode: 0o600 });
  await rename(tmp, target);
  await rm(partsDir, { recursive: true, force: true });
  return { summary, created: true };
}

const str = (x: unknown): string => (typeof x === 'string' ? x : '');

/** A line longer than this is not an event a recorder writes: it is skipped, not held in memory. */
const MAX_LINE_BYTES = 1 << 20;

/** The events a summary needs, read in chunks: the first `session.start`, the last `session.end`, the last event. */
interface ScannedEvents {
  start?: RecordingEvent;
  end?: RecordingEvent;
  last?: RecordingEvent;
}

async function scanEvents(file: string): Promise<ScannedEvents> {
  const found: ScannedEvents = {};
  const visit = (line: Buffer): void => {
    let ev: RecordingEvent;
    try {
      ev = parseRecordingEvent(JSON.parse(line.toString('utf8')));
    } catch {
      return; // a torn last line (the node went away) or garbage: what came before is the recording
    }
    if (ev.event === 'session.start') found.start ??= ev;
    if (ev.event === 'session.end') found.end = ev;
    found.last = ev;
  };
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    let from = 0;
    for (let nl = chunk.indexOf(0x0a); nl >= 0; nl = chunk.indexOf(0x0a, from)) {
      if (pendingBytes + nl - from <= MAX_LINE_BYTES) visit(Buffer.concat([...pending, chunk.subarray(from, nl)]));
      pending = [];
      pendingBytes = 0;
      from = nl + 1;
    }
    pendingBytes += chunk.length - from;
    pending = pendingBytes <= MAX_LINE_BYTES ? [...pending, chunk.subarray(from)] : [];
  }
  if (pending.length > 0 && pendingBytes <= MAX_LINE_BYTES) visit(Buffer.concat(pending));
  return found;
}

/**
 * The recording's `session.end` event with its size, or one made from `session.start` and the last event when the
 * node went away before the session ended.
 */
function summarize(sid: string, { start, end, last }: ScannedEvents, size: number): RecordingSummary {
  const base = end ?? start;
  const user = str(base?.['user']);
  return {
    event: 'session.end',
    code: 'T2004I',
    sid,
    time: str(end?.time) || str(last?.time) || new Date(0).toISOString(),
    proto: str(base?.['proto']) || 'ssh',
    user,
    login: str(base?.['login']),
    participants: Array.isArray(end?.['participants']) ? (end['participants'] as unknown[]).map(str) : user ? [user] : [],
    server_id: str(base?.['server_id']),
    server_hostname: str(base?.['server_hostname']),
    session_start: str(end?.['session_start']) || str(start?.time),
    session_stop: str(end?.['session_stop']) || str(last?.time),
    interactive: end?.['interactive'] !== false,
    ...(str(base?.['cluster_name']) ? { cluster_name: str(base?.['cluster_name']) } : {}),
    recording_size: size,
    ...(end ? {} : { incomplete: true }),
  };
}

async function readSummary(dir: string, sid: string): Promise<RecordingSummary> {
  const text = await readFile(path.join(dir, `${sid}.json`), 'utf8').catch(() => {
    throw notFound(sid);
  });
  return JSON.parse(text) as RecordingSummary;
}

async function listSummaries(dir: string): Promise<RecordingSummary[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.json'));
  const out: RecordingSummary[] = [];
  for (const name of names) {
    try {
      out.push(JSON.parse(await readFile(path.join(dir, name), 'utf8')) as RecordingSummary);
    } catch {
      // Being written or damaged: listed once readable.
    }
  }
  return out.sort((a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : 0));
}
