/**
 * Pure decoding of CockroachDB core changefeed output, and the buffer that turns its per-key order into
 * commit order. No I/O here: `changefeed.ts` feeds it rows from the SQL connection.
 *
 * A core changefeed (`EXPERIMENTAL CHANGEFEED FOR kv WITH updated, resolved, format = json`) streams rows
 * `(table, key, value)`:
 * - a change: `table = 'kv'`, `key` = the JSON array of the primary key (`["\\x2f612f62"]`), `value` =
 *   `{"after": {"key": "\\x..", "value": "\\x..", "expires": "2026-01-01T00:00:00Z", "revision": ".."},
 *   "updated": "1700000000000000000.0000000001"}`, with `"after": null` for a delete;
 * - a checkpoint: `table` and `key` NULL, `value` = `{"resolved": "1700000000000000000.0000000000"}`.
 * BYTES columns are JSON strings in Postgres hex form (`\x` then two hex digits per byte); `key` and `value`
 * columns themselves arrive as bytes (a `Buffer` from pg) or text.
 *
 * Guarantees CockroachDB documents, which the buffer relies on: rows of one key arrive in timestamp order;
 * rows of different keys may interleave in any order; delivery is at least once (duplicates, even after
 * a restart of the feed); once a resolved timestamp `R` is emitted, no row with `updated <= R` that was not
 * already emitted will ever follow. So releasing the buffered rows with `updated <= R`, sorted by `updated`,
 * at each resolved timestamp yields every change exactly once, in commit (timestamp) order.
 */
import type { BackendEvent } from '../types.js';

/** A hybrid logical clock timestamp, `<wall nanoseconds>.<logical, 10 digits>`. */
export interface Hlc {
  readonly wall: bigint;
  /** The fraction's digits right-padded to 10, so decimal order and HLC order agree. */
  readonly logical: bigint;
  /** As CockroachDB wrote it. */
  readonly text: string;
}

const HLC = /^([0-9]{1,20})(?:\.([0-9]{1,10}))?$/;

/** Parses an HLC decimal string; throws `TypeError` on anything else. */
export function parseHlc(text: string): Hlc {
  const m = HLC.exec(text);
  if (!m) throw new TypeError(`not an HLC timestamp: ${JSON.stringify(text.slice(0, 64))}`);
  return { wall: BigInt(m[1]!), logical: BigInt((m[2] ?? '').padEnd(10, '0')), text };
}

/** Orders two HLC timestamps. */
export function compareHlc(a: Hlc, b: Hlc): number {
  if (a.wall !== b.wall) return a.wall < b.wall ? -1 : 1;
  if (a.logical !== b.logical) return a.logical < b.logical ? -1 : 1;
  return 0;
}

/** One row of a core changefeed as `pg` yields it. */
export interface ChangefeedRow {
  table: string | null;
  key: Buffer | string | null;
  value: Buffer | string | null;
}

/** A change with its commit timestamp. */
export interface TimedChange {
  updated: Hlc;
  event: Extract<BackendEvent, { type: 'put' } | { type: 'delete' }>;
}

export type DecodedChangefeedRow = { kind: 'resolved'; resolved: Hlc } | ({ kind: 'change' } & TimedChange);

const asText = (v: Buffer | string): string => (typeof v === 'string' ? v : v.toString('utf8'));

/** Decodes a BYTES datum from changefeed JSON: `\x` + hex. */
export function decodeJsonBytes(value: unknown, what: string): Buffer {
  if (typeof value !== 'string' || !value.startsWith('\\x')) {
    throw new TypeError(`changefeed ${what} is not a \\x-hex BYTES string`);
  }
  const hex = value.slice(2);
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new TypeError(`changefeed ${what} has invalid hex`);
  return Buffer.from(hex, 'hex');
}

/** Decodes a TIMESTAMPTZ datum from changefeed JSON (RFC 3339, or with a space before the time). */
export function decodeJsonTimestamp(value: unknown): Date | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value !== 'string') throw new TypeError('changefeed expires is not a string');
  let text = value.trim().replace(' ', 'T');
  // "+00" -> "+00:00": Date.parse wants a full offset.
  text = text.replace(/([+-]\d\d)$/, '$1:00');
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new TypeError(`changefeed expires is not a timestamp: ${JSON.stringify(value.slice(0, 64))}`);
  return new Date(ms);
}

/** Decodes one changefeed row of table `kv`. Throws `TypeError` on a row of another shape. */
export function decodeChangefeedRow(row: ChangefeedRow): DecodedChangefeedRow {
  if (row.value === null) throw new TypeError('changefeed row has no value');
  let body: { after?: unknown; updated?: unknown; resolved?: unknown };
  try {
    body = JSON.parse(asText(row.value)) as typeof body;
  } catch {
    throw new TypeError('changefeed value is not JSON');
  }
  if (typeof body !== 'object' || body === null) throw new TypeError('changefeed value is not an object');
  if (typeof body.resolved === 'string') return { kind: 'resolved', resolved: parseHlc(body.resolved) };
  if (typeof body.updated !== 'string') throw new TypeError('changefeed row has no updated timestamp (is the updated option set?)');
  const updated = parseHlc(body.updated);

  if (row.key === null) throw new TypeError('changefeed change has no key');
  let keyJson: unknown;
  try {
    keyJson = JSON.parse(asText(row.key));
  } catch {
    throw new TypeError('changefeed key is not JSON');
  }
  if (!Array.isArray(keyJson) || keyJson.length !== 1) throw new TypeError('changefeed key is not a one-column JSON array');
  const key = decodeJsonBytes(keyJson[0], 'key').toString('utf8');

  if (body.after === null || body.after === undefined) {
    return { kind: 'change', updated, event: { type: 'delete', item: { key } } };
  }
  const after = body.after as Record<string, unknown>;
  if (typeof after !== 'object') throw new TypeError('changefeed after is not an object');
  const value = decodeJsonBytes(after['value'], 'value');
  const revision = after['revision'];
  if (typeof revision !== 'string') throw new TypeError('changefeed row has no revision');
  const expires = decodeJsonTimestamp(after['expires']);
  return {
    kind: 'change',
    updated,
    event: {
      type: 'put',
      item: {
        key,
        value: new Uint8Array(value.buffer, value.byteOffset, value.byteLength),
        ...(expires ? { expires } : {}),
        revision,
      },
    },
  };
}

const byteOrder = (a: string, b: string): number => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

/**
 * Holds changes until a resolved timestamp covers them, then releases them in commit order: by `updated`,
 * and by key within one transaction (which shares one timestamp). Drops what CockroachDB may send twice:
 * a change at or below the last resolved timestamp (already released) and a second copy of a buffered
 * change (same key, same timestamp).
 */
export class ResolvedOrderBuffer {
  #pending: TimedChange[] = [];
  #seen = new Set<string>();
  #resolved: Hlc | undefined;

  /** `startAfter`: the changefeed cursor; nothing at or before it is ever released. */
  constructor(startAfter?: Hlc) {
    this.#resolved = startAfter;
  }

  /** Changes waiting for a resolved timestamp. */
  get size(): number {
    return this.#pending.length;
  }

  /** The last resolved timestamp seen. */
  get resolved(): Hlc | undefined {
    return this.#resolved;
  }

  /** Buffers a change; returns false when it was dropped as a duplicate. */
  add(change: TimedChange): boolean {
    if (this.#resolved && compareHlc(change.updated, this.#resolved) <= 0) return false;
    const id = `${change.updated.wall}.${change.updated.logical}/${change.event.item.key}`;
    if (this.#seen.has(id)) return false;
    this.#seen.add(id);
    this.#pending.push(change);
    return true;
  }

  /** Records a resolved timestamp and returns, in commit order, every buffered change at or below it. */
  resolve(resolved: Hlc): TimedChange[] {
    if (this.#resolved && compareHlc(resolved, this.#resolved) <= 0) return [];
    this.#resolved = resolved;
    const ready: TimedChange[] = [];
    const waiting: TimedChange[] = [];
    for (const c of this.#pending) (compareHlc(c.updated, resolved) <= 0 ? ready : waiting).push(c);
    if (ready.length === 0) return [];
    this.#pending = waiting;
    for (const c of ready) this.#seen.delete(`${c.updated.wall}.${c.updated.logical}/${c.event.item.key}`);
    ready.sort((a, b) => compareHlc(a.updated, b.updated) || byteOrder(a.event.item.key, b.event.item.key));
    return ready;
  }
}
