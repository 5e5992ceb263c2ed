/**
 * The spool of recordings on an agent's disk and their upload to the auth server. A recording is written to
 * `<spool>/<sid>.rec` as it happens; `<sid>.upload.json` remembers how many parts (and bytes) the auth server
 * acknowledged; `<sid>.done` marks a recording whose session ended. Parts are byte ranges ending at a line end, so a
 * node that restarted resumes exactly after the last acknowledged part, and a line torn by a crash is never sent.
 */

import { open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { MAX_RECORDING_PART_BYTES, type RecordingsApi } from '@teleport-ts/core/api';
import { redact } from '@teleport-ts/core/errors';
import { nopLogger, type Logger } from '../../../logger.js';

/** What an uploader needs of the auth client. */
type RecordingSink = Pick<RecordingsApi, 'uploadRecordingPart' | 'completeRecording'>;

/** Where an agent spools recordings under its data dir (Teleport's path). */
export function spoolDirOf(dataDir: string): string {
  return path.join(dataDir, 'log', 'upload', 'streaming', 'default');
}

/** Files of one spooled recording. */
export function spoolFiles(spoolDir: string, sid: string): { rec: string; state: string; done: string } {
  const base = path.join(spoolDir, sid);
  return { rec: `${base}.rec`, state: `${base}.upload.json`, done: `${base}.done` };
}

interface UploadState {
  /** Parts acknowledged. */
  parts: number;
  /** Bytes acknowledged (the offset of the next part). */
  uploaded: number;
}

/** Uploads spooled recordings, one operation per session at a time. */
export interface SpoolUploader {
  /** Sends what was written since the last acknowledged part; `final` completes the upload and removes the files. */
  upload(sid: string, options: { final: boolean }): Promise<void>;
  /**
   * Finishes every spooled recording no recorder of this process is writing: sessions that ended while the auth
   * server was unreachable, and sessions cut by a restart (uploaded as far as they were written). Resolves to the
   * session ids completed and failed (left for the next try).
   */
  resume(): Promise<{ completed: string[]; failed: string[] }>;
  /** Marks a session as being written (resume leaves it alone) or no longer. */
  setActive(sid: string, active: boolean): void;
}

export interface SpoolUploaderOptions {
  spoolDir: string;
  sink: RecordingSink;
  logger?: Logger;
}

interface UploaderState {
  readonly spoolDir: string;
  readonly sink: RecordingSink;
  readonly logger: Logger;
  readonly active: Set<string>;
  readonly running: Map<string, Promise<void>>;
}

/**
 * An uploader over one spool directory.
 *
 * @example
 * ```ts
 * const uploader = newSpoolUploader({ spoolDir: spoolDirOf(dataDir), sink: authClient, logger });
 * await uploader.resume(); // at start-up: what the last run left behind
 * ```
 */
export function newSpoolUploader(options: SpoolUploaderOptions): SpoolUploader {
  const shared = sharedState(options.spoolDir);
  const s: UploaderState = { spoolDir: options.spoolDir, sink: options.sink, logger: options.logger ?? nopLogger, ...shared };
  return {
    upload: (sid, opts) => serial(s, sid, () => uploadOnce(s, sid, opts.final)),
    resume: () => resume(s),
    setActive: (sid, active) => {
      if (active) s.active.add(sid);
      else s.active.delete(sid);
    },
  };
}

/**
 * What every uploader over one directory shares in this process: which sessions are being written, and the upload
 * running for each. A process with several agents (node and proxy) on one data dir must not take a recording the
 * other is still writing for one a restart left behind.
 */
const SHARED = new Map<string, Pick<UploaderState, 'active' | 'running'>>();

function sharedState(spoolDir: string): Pick<UploaderState, 'active' | 'running'> {
  const dir = path.resolve(spoolDir);
  let shared = SHARED.get(dir);
  if (!shared) SHARED.set(dir, (shared = { active: new Set(), running: new Map() }));
  return shared;
}

function serial(s: UploaderState, sid: string, fn: () => Promise<void>): Promise<void> {
  const previous = s.running.get(sid) ?? Promise.resolve();
  const next = previous.then(fn, fn);
  const settled = next.catch(() => undefined);
  s.running.set(sid, settled);
  void settled.then(() => {
    if (s.running.get(sid) === settled) s.running.delete(sid);
  });
  return next;
}

async function readState(file: string): Promise<UploadState> {
  try {
    const raw = JSON.parse(await readFile(file, 'utf8')) as Partial<UploadState>;
    if (Number.isInteger(raw.parts) && Number.isInteger(raw.uploaded) && raw.parts! >= 0 && raw.uploaded! >= 0) return { parts: raw.parts!, uploaded: raw.uploaded! };
  } catch {
    // No state yet: nothing was acknowledged.
  }
  return { parts: 0, uploaded: 0 };
}

async function saveState(file: string, state: UploadState): Promise<void> {
  await writeFile(`${file}.tmp`, JSON.stringify(state), { mode: 0o600 });
  await rename(`${file}.tmp`, file);
}

/** The next part from `offset`: at most a part's size, cut after the last line end in it; empty when none is whole. */
async function nextPart(rec: string, offset: number): Promise<Buffer> {
  const fh = await open(rec, 'r');
  try {
    const buf = Buffer.alloc(MAX_RECORDING_PART_BYTES);
    const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
    const cut = buf.subarray(0, bytesRead).lastIndexOf(0x0a);
    return cut < 0 ? Buffer.alloc(0) : Buffer.from(buf.subarray(0, cut + 1));
  } finally {
    await fh.close();
  }
}

async function uploadOnce(s: UploaderState, sid: string, final: boolean): Promise<void> {
  const files = spoolFiles(s.spoolDir, sid);
  const state = await readState(files.state);
  for (;;) {
    const data = await nextPart(files.rec, state.uploaded);
    if (data.length === 0) break;
    await s.sink.uploadRecordingPart(sid, { index: state.parts, offset: state.uploaded, data });
    state.parts += 1;
    state.uploaded += data.length;
    await saveState(files.state, state);
  }
  if (!final) return;
  if (state.parts > 0) {
    const summary = await s.sink.completeRecording(sid, { parts: state.parts, size: state.uploaded });
    s.logger.info('session recording uploaded', { sid, bytes: summary.recording_size, incomplete: summary.incomplete === true });
  }
  await Promise.all([files.rec, files.state, files.done].map((f) => rm(f, { force: true })));
}

async function resume(s: UploaderState): Promise<{ completed: string[]; failed: string[] }> {
  const names = await readdir(s.spoolDir).catch(() => [] as string[]);
  const completed: string[] = [];
  const failed: string[] = [];
  for (const name of names) {
    if (!name.endsWith('.rec')) continue;
    const sid = name.slice(0, -'.rec'.length);
    if (s.active.has(sid)) continue;
    try {
      const cut = !(await stat(spoolFiles(s.spoolDir, sid).done).then(() => true, () => false));
      // Checked again once its turn comes: a recorder may have started on it meanwhile.
      await serial(s, sid, async () => (s.active.has(sid) ? undefined : uploadOnce(s, sid, true)));
      if (s.active.has(sid)) continue;
      if (cut) s.logger.warn('uploaded the recording of a session cut short by a restart', { sid });
      completed.push(sid);
    } catch (err) {
      s.logger.warn('session recording upload failed; will retry', { sid, error: redact((err as Error).message) });
      failed.push(sid);
    }
  }
  return { completed, failed };
}
