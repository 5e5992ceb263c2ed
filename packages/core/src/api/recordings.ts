/**
 * Session recordings on the wire: the recording modes (`auth_service.session_recording`), the caps every hop checks,
 * the events a recording holds, and the client methods nodes (upload) and tsh (list, play) call.
 *
 * A recording is JSON lines, one event per line, in Teleport's event names and fields as far as they go:
 * `session.start`, `print` (output, base64 in `data`), `resize`, `session.end`. Every event carries `ei` (its index),
 * `time` (wall clock) and `ms` (milliseconds since the session started, from a monotonic clock: what playback waits on).
 */

import { BadParameterError } from '../errors/index.js';
import { v } from '../schema/index.js';
import type { ApiClient } from './client.js';

/**
 * Where sessions are recorded (Teleport's modes): at the node (`node`, buffered on its disk, uploaded when the
 * session ends), at the node streamed as it happens (`node-sync`), at the proxy (`proxy`, `proxy-sync`: used for
 * agentless OpenSSH nodes), or not at all (`off`).
 */
export const SESSION_RECORDING_MODES = ['node', 'node-sync', 'proxy', 'proxy-sync', 'off'] as const;
export type SessionRecordingMode = (typeof SESSION_RECORDING_MODES)[number];
export const DEFAULT_SESSION_RECORDING_MODE: SessionRecordingMode = 'node';

/** Which process records in a mode, and whether it streams the recording while the session runs. */
export function recordingModeParts(mode: SessionRecordingMode): { at: 'node' | 'proxy' | 'off'; sync: boolean } {
  if (mode === 'off') return { at: 'off', sync: false };
  return { at: mode.startsWith('proxy') ? 'proxy' : 'node', sync: mode.endsWith('-sync') };
}

/** The largest part one upload request carries (raw bytes; base64 in JSON stays under the API's 1 MiB body cap). */
export const MAX_RECORDING_PART_BYTES = 512 * 1024;
/** The largest recording the auth server stores; a recorder stops recording output past it. */
export const MAX_RECORDING_BYTES = 1 << 30;
/** The most parts one recording may have (streamed recordings upload small parts). */
export const MAX_RECORDING_PARTS = 100_000;
/** The most output bytes in one `print` event (a longer write becomes several events). */
export const MAX_PRINT_EVENT_BYTES = 64 * 1024;

/** Session ids are UUIDs, as Teleport's. */
const SESSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Throws a bad-parameter error unless `sid` is a session id (a UUID); returns it lower-cased. */
export function checkSessionId(sid: string): string {
  if (!SESSION_ID.test(sid)) throw new BadParameterError(`${JSON.stringify(sid.slice(0, 64))} is not a session ID`, { hint: 'session IDs are UUIDs, as tsh recordings ls shows them' });
  return sid.toLowerCase();
}

/** One event of a recording (a line), as stored. Fields past the common ones depend on `event`. */
export interface RecordingEvent {
  /** Its index in the recording, from 0. */
  ei: number;
  event: string;
  /** ISO 8601. */
  time: string;
  /** Milliseconds since the session started. */
  ms: number;
  [field: string]: unknown;
}

/** What `tsh recordings ls` lists: a recording's `session.end` event (made up from its last event when it has none). */
export interface RecordingSummary {
  event: 'session.end';
  code: string;
  sid: string;
  time: string;
  proto: string;
  user: string;
  login: string;
  participants: string[];
  server_id: string;
  server_hostname: string;
  session_start: string;
  session_stop: string;
  interactive: boolean;
  cluster_name?: string;
  /** The recording's size in bytes. */
  recording_size: number;
  /** True when the recording ends without `session.end` (the node went away mid-session). */
  incomplete?: boolean;
}

const RecordingSummarySchema = v.looseObject({
  event: v.literal('session.end'),
  code: v.string(),
  sid: v.string(),
  time: v.string(),
  proto: v.string(),
  user: v.string(),
  login: v.string(),
  participants: v.array(v.string()),
  server_id: v.string(),
  server_hostname: v.string(),
  session_start: v.string(),
  session_stop: v.string(),
  interactive: v.boolean(),
  recording_size: v.number(),
});

const RecordingListResponse = v.looseObject({ items: v.array(RecordingSummarySchema) });
const RecordingConfigResponse = v.looseObject({ mode: v.picklist(SESSION_RECORDING_MODES) });

/** One part of an upload: bytes `offset .. offset + data.length` of the recording. */
export interface RecordingPart {
  index: number;
  offset: number;
  data: Buffer;
}

/** The recording methods of the auth client. */
export interface RecordingsApi {
  /** The cluster's `auth_service.session_recording` mode (any authenticated caller). */
  getSessionRecordingConfig(): Promise<{ mode: SessionRecordingMode }>;
  /** Stores one part of a recording (Node and Proxy). Idempotent by session id and index: the last upload wins. */
  uploadRecordingPart(sid: string, part: RecordingPart): Promise<void>;
  /** Assembles the parts `0 .. parts - 1` into the recording of `sid` (`size` bytes). Idempotent. */
  completeRecording(sid: string, upload: { parts: number; size: number }): Promise<RecordingSummary>;
  /** The recordings the caller may list, newest first. */
  listRecordings(query?: { limit?: number }): Promise<RecordingSummary[]>;
  /** The events of one recording, in order (the caller needs `session` `read`). */
  streamRecording(sid: string, signal: AbortSignal): AsyncIterable<RecordingEvent>;
}

/** The recording methods over an API client; `prefix` is the API's path prefix (`/v1`). */
export function recordingMethods(api: ApiClient, prefix: string): RecordingsApi {
  const p = (...segments: string[]): string => `${prefix}/${segments.map(encodeURIComponent).join('/')}`;
  return {
    getSessionRecordingConfig: async () => api.call('GET', p('sessionrecording'), undefined, RecordingConfigResponse),
    uploadRecordingPart: async (sid, part) => {
      await api.call('PUT', p('recordings', sid, 'parts', String(part.index)), { offset: part.offset, data: part.data.toString('base64') });
    },
    completeRecording: async (sid, upload) => (await api.call('POST', p('recordings', sid, 'complete'), upload, RecordingSummarySchema)) as RecordingSummary,
    listRecordings: async (query = {}) => {
      const q = query.limit !== undefined ? `?limit=${query.limit}` : '';
      return (await api.call('GET', `${p('recordings')}${q}`, undefined, RecordingListResponse)).items as RecordingSummary[];
    },
    streamRecording: (sid, signal) => recordingEvents(api.stream(p('recordings', sid, 'events'), signal)),
  };
}

async function* recordingEvents(lines: AsyncIterable<unknown>): AsyncGenerator<RecordingEvent> {
  for await (const line of lines) yield parseRecordingEvent(line);
}

/** Checks one line of a recording: an object with `event`, `ei`, `time` and `ms`. */
export function parseRecordingEvent(raw: unknown): RecordingEvent {
  const ev = raw as Partial<RecordingEvent> | null;
  if (typeof ev !== 'object' || ev === null || Array.isArray(ev) || typeof ev.event !== 'string' || typeof ev.ms !== 'number' || typeof ev.ei !== 'number' || typeof ev.time !== 'string') {
    throw new BadParameterError('malformed event in a session recording (want event, ei, time and ms)');
  }
  return ev as RecordingEvent;
}
