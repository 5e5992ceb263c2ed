import { BadParameterError } from '../errors/index.js';
import { MAX_SEARCH_LIMIT, type AuditEvent, type SearchEventsRequest, type SearchOrder } from './types.js';

/** Longest `uid`, `event` or `code` accepted; real ones are far shorter (a UUID is 36). */
const MAX_ID_LENGTH = 256;

function requireString(ev: Record<string, unknown>, field: string): string {
  const v = ev[field];
  if (typeof v !== 'string' || v.length === 0) {
    throw new BadParameterError(`audit event field ${JSON.stringify(field)} must be a non-empty string`);
  }
  if (v.length > MAX_ID_LENGTH) throw new BadParameterError(`audit event field ${JSON.stringify(field)} is longer than ${MAX_ID_LENGTH}`);
  return v;
}

/** What a driver stores besides the JSON: the indexed columns. */
export interface EventRow {
  uid: string;
  type: string;
  /** Event time, milliseconds since the epoch (the index and cursor precision). */
  timeMs: number;
  /** The whole event, serialized. */
  json: string;
}

/**
 * Checks the required fields of an event and extracts the indexed columns. Throws
 * {@link BadParameterError} for a missing field, an unparseable `time` or a value JSON cannot carry.
 */
export function toEventRow(event: AuditEvent, options: { replaceNul?: boolean } = {}): EventRow {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    throw new BadParameterError('an audit event must be an object');
  }
  const rec = event as Record<string, unknown>;
  const uid = requireString(rec, 'uid');
  const type = requireString(rec, 'event');
  requireString(rec, 'code');
  const time = rec['time'];
  const timeMs = typeof time === 'string' ? Date.parse(time) : Number.NaN;
  if (!Number.isFinite(timeMs)) throw new BadParameterError('audit event field "time" must be an ISO 8601 timestamp');
  let json: string;
  try {
    json = JSON.stringify(event);
    // JSON.stringify escapes NUL as \u0000; jsonb refuses it.
    if (options.replaceNul && json.includes('\\u0000')) json = JSON.stringify(replaceNul(JSON.parse(json)));
  } catch (err) {
    throw new BadParameterError('audit event is not serializable as JSON', { cause: err });
  }
  return { uid, type, timeMs, json };
}

/**
 * A copy of a JSON value with every NUL character (in strings and keys) replaced by U+FFFD. Postgres
 * cannot store NUL in jsonb; dropping the event instead would let a client hide an action from the
 * audit log by putting a NUL in, say, a query.
 */
function replaceNul(value: unknown): unknown {
  if (typeof value === 'string') return value.replaceAll('\u0000', '\uFFFD');
  if (Array.isArray(value)) return value.map(replaceNul);
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k.replaceAll('\u0000', '\uFFFD')] = replaceNul(v);
    return out;
  }
  return value;
}

/** A search request with its bounds checked and the cursor decoded. */
export interface CheckedSearch {
  fromMs: number;
  toMs: number;
  eventTypes: string[];
  limit: number;
  order: SearchOrder;
  after: Cursor | undefined;
}

/** Checks a search request once, for every driver. */
export function checkSearchRequest(req: SearchEventsRequest): CheckedSearch {
  const fromMs = req.from instanceof Date ? req.from.getTime() : Number.NaN;
  const toMs = req.to instanceof Date ? req.to.getTime() : Number.NaN;
  if (!Number.isFinite(fromMs) || !Number.isFinite(toMs)) throw new BadParameterError('search needs valid "from" and "to" dates');
  if (!Number.isInteger(req.limit) || req.limit < 1 || req.limit > MAX_SEARCH_LIMIT) {
    throw new BadParameterError(`search limit must be an integer from 1 to ${MAX_SEARCH_LIMIT}`);
  }
  if (req.order !== 'asc' && req.order !== 'desc') throw new BadParameterError('search order must be "asc" or "desc"');
  const eventTypes = [...new Set(req.eventTypes ?? [])];
  if (!eventTypes.every((t) => typeof t === 'string' && t.length > 0)) {
    throw new BadParameterError('search eventTypes must be non-empty strings');
  }
  const after = req.startKey === undefined || req.startKey === '' ? undefined : decodeCursor(req.startKey, req.order);
  return { fromMs, toMs, eventTypes, limit: req.limit, order: req.order, after };
}

/** Position of the last event of a page: the sort key (time, uid). */
export interface Cursor {
  timeMs: number;
  uid: string;
}

const CURSOR_VERSION = 1;

/** Encodes the position after which the next page starts. Opaque to callers. */
export function encodeCursor(cursor: Cursor, order: SearchOrder): string {
  return Buffer.from(JSON.stringify([CURSOR_VERSION, order, cursor.timeMs, cursor.uid]), 'utf8').toString('base64url');
}

/** Decodes a cursor made by {@link encodeCursor} for the same order; anything else is a bad parameter. */
function decodeCursor(key: string, order: SearchOrder): Cursor {
  const bad = () => new BadParameterError('invalid search startKey', { hint: 'pass the nextKey of the previous page unchanged' });
  if (typeof key !== 'string' || key.length > 1024) throw bad();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(key, 'base64url').toString('utf8'));
  } catch {
    throw bad();
  }
  if (!Array.isArray(parsed) || parsed.length !== 4) throw bad();
  const [version, keyOrder, timeMs, uid] = parsed as unknown[];
  if (version !== CURSOR_VERSION || typeof timeMs !== 'number' || !Number.isSafeInteger(timeMs) || typeof uid !== 'string') throw bad();
  if (keyOrder !== order) {
    throw new BadParameterError(`search startKey was made for order ${JSON.stringify(keyOrder)}, not ${JSON.stringify(order)}`);
  }
  return { timeMs, uid };
}

/** Checks a retention setting. */
export function checkRetentionDays(days: number | undefined): number | undefined {
  if (days === undefined) return undefined;
  if (typeof days !== 'number' || !Number.isFinite(days) || days <= 0) {
    throw new BadParameterError('audit retentionDays must be a positive number of days');
  }
  return days;
}

/** Checks a date argument. */
export function checkDate(date: Date, what: string): number {
  const ms = date instanceof Date ? date.getTime() : Number.NaN;
  if (!Number.isFinite(ms)) throw new BadParameterError(`${what} must be a valid date`);
  return ms;
}
