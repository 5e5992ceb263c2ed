/**
 * `tsh recordings ls` and `tsh play`: session recordings through the proxy's `teleport-auth` passthrough with the
 * user's certificate. The auth server decides what the user may see (`session` rules: the auditor preset, or the
 * user's own sessions with the access preset).
 */

import { checkSessionId, type RecordingEvent, type RecordingSummary } from '@teleport-ts/core/api';
import { BadParameterError } from '@teleport-ts/core/errors';
import { parseDuration } from '@teleport-ts/core/types';
import type { DbSession } from './db.js';
import { withClient } from './requests.js';

/** Teleport's `--speed` values. */
export const PLAY_SPEEDS = ['0.5x', '1x', '2x', '4x', '8x'] as const;
/** Teleport's `tsh play --format` values, and `text` (the output without timing). */
export const PLAY_FORMATS = ['pty', 'json', 'yaml', 'text'] as const;
export type PlayFormat = (typeof PLAY_FORMATS)[number];

/** Teleport's default page of `tsh recordings ls`. */
const DEFAULT_LIST_LIMIT = 50;

export interface ListRecordingsOptions {
  limit?: string;
  fromUtc?: string;
  toUtc?: string;
  last?: string;
}

/** The time window and count of `tsh recordings ls`: Teleport's defaults are the last 24 hours and 50 recordings. */
export function listWindow(opts: ListRecordingsOptions, now: Date): { from: Date; to: Date; limit: number } {
  const limit = opts.limit === undefined ? DEFAULT_LIST_LIMIT : Number(opts.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new BadParameterError('--limit must be a positive integer');
  const day = (flag: string, text: string): Date => {
    const d = /^\d{4}-\d{2}-\d{2}$/.test(text) ? new Date(`${text}T00:00:00Z`) : new Date(Number.NaN);
    if (Number.isNaN(d.getTime())) throw new BadParameterError(`${flag} must be a date such as 2026-01-31`);
    return d;
  };
  if (opts.last !== undefined && (opts.fromUtc !== undefined || opts.toUtc !== undefined)) throw new BadParameterError('use --last or --from-utc/--to-utc, not both');
  const to = opts.toUtc !== undefined ? day('--to-utc', opts.toUtc) : now;
  const lastMs = opts.last !== undefined ? parseDuration(opts.last) : 24 * 3_600_000;
  const from = opts.fromUtc !== undefined ? day('--from-utc', opts.fromUtc) : new Date(to.getTime() - lastMs);
  return { from, to, limit };
}

/** `tsh recordings ls`: the recordings the user may list that ended in the window, newest first. */
export async function listRecordings(session: DbSession, opts: ListRecordingsOptions): Promise<RecordingSummary[]> {
  const { from, to, limit } = listWindow(opts, session.now());
  const all = await withClient(session, (client) => client.listRecordings());
  return all.filter((s) => Date.parse(s.time) >= from.getTime() && Date.parse(s.time) <= to.getTime()).slice(0, limit);
}

export interface PlayOptions {
  speed: string;
  format: string;
}

/** Checks `tsh play`'s input before anything goes to the network. */
export function checkPlay(sid: string | undefined, opts: PlayOptions): { sid: string; speed: number; format: PlayFormat } {
  if (!sid) throw new BadParameterError('a session ID is required', { hint: 'tsh recordings ls lists them' });
  if (!(PLAY_SPEEDS as readonly string[]).includes(opts.speed)) throw new BadParameterError(`--speed must be one of ${PLAY_SPEEDS.join(', ')}`);
  if (!(PLAY_FORMATS as readonly string[]).includes(opts.format)) throw new BadParameterError(`--format must be one of ${PLAY_FORMATS.join(', ')}`);
  return { sid: checkSessionId(sid), speed: Number.parseFloat(opts.speed), format: opts.format as PlayFormat };
}

/** Where playback writes, and how it waits (tests of the timing use the real clock). */
export interface PlayOutput {
  write(chunk: string | Uint8Array): Promise<void>;
  isTTY: boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Plays a recording: `pty` writes the output with its original timing (divided by the speed; a resize sets the
 * terminal's size when it is a terminal), `text` writes the output at once, `json` / `yaml` write every event.
 */
export async function playRecording(session: DbSession, play: { sid: string; speed: number; format: PlayFormat }, out: PlayOutput): Promise<void> {
  const render = await import('../render/recordings.js');
  await withClient(session, async (client) => {
    const controller = new AbortController();
    let started: number | undefined;
    for await (const ev of client.streamRecording(play.sid, controller.signal)) {
      if (play.format === 'json' || play.format === 'yaml') {
        await out.write(render.renderEvent(ev, play.format));
        continue;
      }
      if (play.format === 'pty') {
        started ??= performance.now() - ev.ms / play.speed;
        const wait = started + ev.ms / play.speed - performance.now();
        if (wait > 0) await sleep(wait);
      }
      await writeOutput(ev, play.format, out);
    }
  });
}

async function writeOutput(ev: RecordingEvent, format: PlayFormat, out: PlayOutput): Promise<void> {
  if (ev.event === 'print' && typeof ev['data'] === 'string') await out.write(Buffer.from(ev['data'], 'base64'));
  else if (ev.event === 'resize' && format === 'pty' && out.isTTY && typeof ev['size'] === 'string') {
    const [cols, rows] = ev['size'].split(':').map(Number);
    if (Number.isInteger(cols) && Number.isInteger(rows)) await out.write(`\x1b[8;${rows};${cols}t`);
  }
}
