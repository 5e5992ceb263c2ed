/**
 * The session recorder: output with its timing, terminal resizes, and the session's start and end, written as JSON
 * lines to the agent's spool (see `uploader.ts`) and uploaded to the auth server when the session ends (`node`,
 * `proxy`) or while it runs (`node-sync`, `proxy-sync`). Timing comes from a monotonic clock read by the recorder
 * itself: `ms` is the time since the session started, what `tsh play` waits on.
 */

import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { MAX_PRINT_EVENT_BYTES, MAX_RECORDING_BYTES, recordingModeParts, type SessionRecordingMode } from '@teleport-ts/core/api';
import { systemClock, type Clock } from '@teleport-ts/core/clock';
import { redact } from '@teleport-ts/core/errors';
import { nopLogger, type Logger } from '../../../logger.js';
import { spoolFiles, type SpoolUploader } from './uploader.js';

/** What a recording says about its session (Teleport's `session.start` fields). */
export interface SessionMetadata {
  /** A UUID. */
  sessionId: string;
  clusterName: string;
  /** The Teleport user. */
  user: string;
  /** The OS login. */
  login: string;
  /** The node's host UUID. */
  serverId: string;
  serverHostname: string;
  serverAddr?: string;
  remoteAddr?: string;
  /** The terminal's size at the start (80x24 when unknown). */
  cols?: number;
  rows?: number;
  /** The command of an exec session; absent for a shell. */
  command?: string;
  /** `false` for a non-interactive (exec) session. Default true. */
  interactive?: boolean;
}

/** Records one session. */
export interface SessionRecorder {
  readonly sessionId: string;
  /** Output the user saw (stdout and stderr of the session, in order). */
  output(data: Buffer): void;
  resize(cols: number, rows: number): void;
  /** Writes `session.end`, closes the spool file and uploads (errors are logged; the file stays for a retry). */
  end(): Promise<void>;
}

export interface SessionRecorderOptions {
  session: SessionMetadata;
  /** A recording mode; `off` gives a recorder that records nothing. */
  mode: SessionRecordingMode;
  spoolDir: string;
  uploader: SpoolUploader;
  clock?: Clock;
  logger?: Logger;
  /** How often a streaming mode sends what was written, ms; default 1000. */
  flushIntervalMs?: number;
  /** Monotonic milliseconds; default `performance.now`. */
  monotonicMs?: () => number;
}

interface RecorderState {
  readonly o: SessionRecorderOptions;
  readonly sid: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly now: () => number;
  readonly startedAt: number;
  readonly startTime: string;
  readonly out: WriteStream;
  ei: number;
  /** Output bytes recorded so far (the `offset` of the next print). */
  offset: number;
  /** Bytes written to the spool. */
  written: number;
  full: boolean;
  ended: Promise<void> | undefined;
  timer: NodeJS.Timeout | undefined;
}

const NOOP_RECORDER = (sid: string): SessionRecorder => ({ sessionId: sid, output: () => {}, resize: () => {}, end: async () => {} });

/**
 * Starts recording a session: `session.start` is written at once.
 *
 * @example
 * ```ts
 * const rec = newSessionRecorder({ session, mode: 'node', spoolDir, uploader });
 * channel.on('data', (b) => rec.output(b));
 * channel.on('close', () => void rec.end());
 * ```
 */
export function newSessionRecorder(options: SessionRecorderOptions): SessionRecorder {
  const sid = options.session.sessionId;
  if (recordingModeParts(options.mode).at === 'off') return NOOP_RECORDER(sid);
  mkdirSync(options.spoolDir, { recursive: true, mode: 0o700 });
  const clock = options.clock ?? systemClock;
  const now = options.monotonicMs ?? (() => performance.now());
  const s: RecorderState = {
    o: options,
    sid,
    clock,
    logger: (options.logger ?? nopLogger).with('recorder', { sid }),
    now,
    startedAt: now(),
    startTime: clock.now().toISOString(),
    out: createWriteStream(spoolFiles(options.spoolDir, sid).rec, { flags: 'a', mode: 0o600 }),
    ei: 0,
    offset: 0,
    written: 0,
    full: false,
    ended: undefined,
    timer: undefined,
  };
  s.out.on('error', (err) => s.logger.error('cannot write the session recording', { error: redact(err.message) }));
  options.uploader.setActive(sid, true);
  writeStart(s);
  if (recordingModeParts(options.mode).sync) {
    s.timer = setInterval(() => flush(s), options.flushIntervalMs ?? 1000);
    s.timer.unref();
  }
  return {
    sessionId: sid,
    output: (data) => recordOutput(s, data),
    resize: (cols, rows) => {
      if (!s.ended) write(s, { event: 'resize', code: 'T2002I', ...who(s), size: `${cols}:${rows}` });
    },
    end: () => (s.ended ??= finish(s)),
  };
}

function who(s: RecorderState): Record<string, string> {
  const m = s.o.session;
  return { sid: s.sid, user: m.user, login: m.login, cluster_name: m.clusterName };
}

/** Appends one event line; past the size cap, only `session.end` is still written. */
function write(s: RecorderState, fields: Record<string, unknown>, force = false): void {
  const line = `${JSON.stringify({ ei: s.ei, ...fields, time: s.clock.now().toISOString(), ms: Math.max(0, Math.round(s.now() - s.startedAt)) })}\n`;
  if (!force && s.written + line.length > MAX_RECORDING_BYTES - 64 * 1024) {
    if (!s.full) s.logger.warn('session recording reached its size cap; the rest of the output is not recorded', { bytes: s.written });
    s.full = true;
    return;
  }
  s.ei += 1;
  s.written += Buffer.byteLength(line);
  s.out.write(line);
}

function writeStart(s: RecorderState): void {
  const m = s.o.session;
  write(s, {
    event: 'session.start',
    code: 'T2000I',
    uid: randomUUID(),
    ...who(s),
    server_id: m.serverId,
    server_hostname: m.serverHostname,
    ...(m.serverAddr ? { server_addr: m.serverAddr } : {}),
    ...(m.remoteAddr ? { 'addr.remote': m.remoteAddr } : {}),
    size: `${m.cols ?? 80}:${m.rows ?? 24}`,
    proto: 'ssh',
    namespace: 'default',
    session_recording: s.o.mode,
    ...(m.command !== undefined ? { initial_command: [m.command] } : {}),
  });
}

function recordOutput(s: RecorderState, data: Buffer): void {
  if (s.ended || data.length === 0) return;
  for (let at = 0; at < data.length; at += MAX_PRINT_EVENT_BYTES) {
    const chunk = data.subarray(at, at + MAX_PRINT_EVENT_BYTES);
    write(s, { event: 'print', bytes: chunk.length, offset: s.offset, data: chunk.toString('base64') });
    s.offset += chunk.length;
  }
}

/** A streaming mode's periodic send; a failure is retried on the next tick. */
function flush(s: RecorderState): void {
  s.o.uploader.upload(s.sid, { final: false }).catch((err: unknown) => s.logger.debug('streaming the session recording failed; will retry', { error: redact((err as Error).message) }));
}

async function finish(s: RecorderState): Promise<void> {
  if (s.timer) clearInterval(s.timer);
  const m = s.o.session;
  write(
    s,
    {
      event: 'session.end',
      code: 'T2004I',
      uid: randomUUID(),
      ...who(s),
      server_id: m.serverId,
      server_hostname: m.serverHostname,
      participants: [m.user],
      session_start: s.startTime,
      session_stop: s.clock.now().toISOString(),
      interactive: m.interactive !== false,
      proto: 'ssh',
      session_recording: s.o.mode,
    },
    true,
  );
  await new Promise<void>((resolve) => s.out.end(resolve));
  const files = spoolFiles(s.o.spoolDir, s.sid);
  await writeFile(files.done, '', { mode: 0o600 }).catch(() => undefined);
  s.o.uploader.setActive(s.sid, false);
  try {
    await s.o.uploader.upload(s.sid, { final: true });
  } catch (err) {
    s.logger.warn('session recording upload failed; it stays on disk and is retried', { error: redact((err as Error).message) });
  }
}
