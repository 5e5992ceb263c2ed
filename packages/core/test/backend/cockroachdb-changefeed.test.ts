/**
 * Unit tests of the CockroachDB changefeed decoding and ordering, on row shapes CockroachDB documents for a
 * core changefeed `WITH updated, resolved, format = json` (wrapped envelope): these run everywhere, without
 * a CockroachDB.
 */
import { describe, expect, it } from 'vitest';
import {
  ResolvedOrderBuffer,
  changefeedStatement,
  compareHlc,
  decodeChangefeedRow,
  decodeJsonTimestamp,
  openChangefeedSession,
  parseHlc,
  ttlStatement,
  validateTtlJobCron,
  type ChangefeedRow,
  type ChangefeedRowStream,
  type Hlc,
  type TimedChange,
} from '../../src/backend/cockroachdb/index.js';
import type { FeedSink } from '../../src/backend/sql/feed.js';
import type { BackendEvent } from '../../src/backend/index.js';

const hex = (s: string): string => '\\x' + Buffer.from(s, 'utf8').toString('hex');

/** A change row as CockroachDB streams it: key and value columns arrive as bytes holding JSON. */
function putRow(key: string, value: string, updated: string, extra: { expires?: string | null; revision?: string } = {}): ChangefeedRow {
  return {
    table: 'kv',
    key: Buffer.from(JSON.stringify([hex(key)])),
    value: Buffer.from(
      JSON.stringify({
        after: { expires: extra.expires ?? null, key: hex(key), revision: extra.revision ?? `rev-${value}`, value: hex(value) },
        updated,
      }),
    ),
  };
}

function deleteRow(key: string, updated: string): ChangefeedRow {
  return { table: 'kv', key: Buffer.from(JSON.stringify([hex(key)])), value: Buffer.from(JSON.stringify({ after: null, updated })) };
}

function resolvedRow(resolved: string): ChangefeedRow {
  return { table: null, key: null, value: Buffer.from(JSON.stringify({ resolved })) };
}

const T = (wallOffset: number, logical = 0): string =>
  `${1_700_000_000_000_000_000n + BigInt(wallOffset)}.${String(logical).padStart(10, '0')}`;

const change = (key: string, updated: string): TimedChange => ({
  updated: parseHlc(updated),
  event: { type: 'put', item: { key, value: new Uint8Array(), revision: updated } },
});

describe('HLC timestamps', () => {
  it('parse and order by wall time, then logical counter', () => {
    const sorted = ['1700000000000000000.0000000000', '1700000000000000000.0000000001', '1700000000000000000.0000000002', '1700000000000000001.0000000000'];
    const parsed = sorted.map(parseHlc);
    for (let i = 1; i < parsed.length; i++) expect(compareHlc(parsed[i - 1]!, parsed[i]!)).toBe(-1);
    expect(compareHlc(parseHlc('1700000000000000000'), parseHlc('1700000000000000000.0000000000'))).toBe(0);
    // Decimal order: ".1" is logical 1000000000, after ".0000000002".
    expect(compareHlc(parseHlc('5.1'), parseHlc('5.0000000002'))).toBe(1);
    expect(parseHlc('1700000000000000000.0000000001').text).toBe('1700000000000000000.0000000001');
  });

  it('refuse anything that is not a decimal HLC', () => {
    for (const bad of ['', 'abc', '1.2.3', '-1.0', "1'; DROP TABLE kv; --", '1.00000000001']) expect(() => parseHlc(bad)).toThrow(TypeError);
  });
});

describe('decodeChangefeedRow', () => {
  it('decodes an insert/update: JSON key array, \\x-hex bytes, timestamptz expiry, revision', () => {
    const row = putRow('/web/users/alice', '{"kind":"user"}', T(5, 1), { expires: '2026-01-01T00:00:01.5Z', revision: 'r1' });
    const d = decodeChangefeedRow(row);
    expect(d.kind).toBe('change');
    if (d.kind !== 'change') return;
    expect(d.updated.text).toBe(T(5, 1));
    expect(d.event.type).toBe('put');
    if (d.event.type !== 'put') return;
    expect(d.event.item.key).toBe('/web/users/alice');
    expect(new TextDecoder().decode(d.event.item.value)).toBe('{"kind":"user"}');
    expect(d.event.item.value).toBeInstanceOf(Uint8Array);
    expect(d.event.item.expires?.toISOString()).toBe('2026-01-01T00:00:01.500Z');
    expect(d.event.item.revision).toBe('r1');
  });

  it('decodes binary values and non-ASCII keys byte for byte, and rows given as text', () => {
    const value = Buffer.from([0, 1, 255, 254, 0x5c, 0x78]);
    const row: ChangefeedRow = {
      table: 'kv',
      key: JSON.stringify([hex('/k/é/\u{1F600}')]),
      value: JSON.stringify({ after: { expires: null, key: hex('/k/é/\u{1F600}'), revision: 'r', value: '\\x' + value.toString('hex') }, updated: T(1) }),
    };
    const d = decodeChangefeedRow(row);
    if (d.kind !== 'change' || d.event.type !== 'put') throw new Error('not a put');
    expect(d.event.item.key).toBe('/k/é/\u{1F600}');
    expect([...d.event.item.value]).toEqual([...value]);
    expect(d.event.item.expires).toBeUndefined();
  });

  it('decodes a delete (after: null) to a delete event carrying only the key', () => {
    const d = decodeChangefeedRow(deleteRow('/nodes/default/n1', T(9)));
    expect(d).toMatchObject({ kind: 'change', event: { type: 'delete', item: { key: '/nodes/default/n1' } } });
  });

  it('decodes a resolved timestamp row (NULL table and key)', () => {
    const d = decodeChangefeedRow(resolvedRow(T(10)));
    expect(d.kind).toBe('resolved');
    if (d.kind === 'resolved') expect(d.resolved.text).toBe(T(10));
  });

  it('accepts the timestamp spellings CockroachDB and PostgreSQL use', () => {
    const want = '2023-11-14T22:13:20.123Z';
    for (const s of ['2023-11-14T22:13:20.123Z', '2023-11-14T22:13:20.123456Z', '2023-11-14 22:13:20.123+00', '2023-11-14T22:13:20.123+00:00', '2023-11-14T23:13:20.123+01:00']) {
      expect(decodeJsonTimestamp(s)?.toISOString()).toBe(want);
    }
    expect(decodeJsonTimestamp(null)).toBeUndefined();
    expect(() => decodeJsonTimestamp('tomorrow')).toThrow(TypeError);
  });

  it('refuses rows it cannot trust', () => {
    const bad: ChangefeedRow[] = [
      { table: 'kv', key: '["\\\\x2f"]', value: '{"after": null}' }, // no updated option
      { table: 'kv', key: '["/plain"]', value: JSON.stringify({ after: null, updated: T(1) }) }, // key not hex
      { table: 'kv', key: '[1, 2]', value: JSON.stringify({ after: null, updated: T(1) }) }, // two key columns
      { table: 'kv', key: JSON.stringify([hex('/k')]), value: JSON.stringify({ after: { key: hex('/k'), value: '\\xZZ', revision: 'r' }, updated: T(1) }) },
      { table: 'kv', key: JSON.stringify([hex('/k')]), value: JSON.stringify({ after: { key: hex('/k'), value: hex('v') }, updated: T(1) }) }, // no revision
      { table: 'kv', key: JSON.stringify([hex('/k')]), value: 'not json' },
      { table: null, key: null, value: null },
    ];
    for (const row of bad) expect(() => decodeChangefeedRow(row)).toThrow(TypeError);
  });
});

describe('ResolvedOrderBuffer', () => {
  it('holds changes until a resolved timestamp covers them, then releases them in timestamp order', () => {
    const buf = new ResolvedOrderBuffer();
    // Per key in order, across keys interleaved arbitrarily: what a changefeed may deliver.
    buf.add(change('/b', T(3)));
    buf.add(change('/a', T(1)));
    buf.add(change('/c', T(2)));
    buf.add(change('/a', T(5)));
    expect(buf.resolve(parseHlc(T(0)))).toEqual([]);
    expect(buf.resolve(parseHlc(T(3))).map((c) => `${c.event.item.key}@${c.updated.text}`)).toEqual([`/a@${T(1)}`, `/c@${T(2)}`, `/b@${T(3)}`]);
    expect(buf.size).toBe(1);
    expect(buf.resolve(parseHlc(T(5))).map((c) => c.event.item.key)).toEqual(['/a']);
  });

  it('orders the rows of one transaction (one timestamp) by key bytes', () => {
    const buf = new ResolvedOrderBuffer();
    for (const k of ['/z', '/\u{1F600}', '/a', '/\uFFFD']) buf.add(change(k, T(7, 3)));
    expect(buf.resolve(parseHlc(T(7, 3))).map((c) => c.event.item.key)).toEqual(['/a', '/z', '/\uFFFD', '/\u{1F600}']);
  });

  it('drops duplicates: a second copy while buffered, and anything at or below the last resolved timestamp', () => {
    const buf = new ResolvedOrderBuffer();
    expect(buf.add(change('/a', T(1)))).toBe(true);
    expect(buf.add(change('/a', T(1)))).toBe(false);
    expect(buf.resolve(parseHlc(T(2)))).toHaveLength(1);
    expect(buf.add(change('/a', T(1)))).toBe(false);
    expect(buf.add(change('/b', T(2)))).toBe(false);
    expect(buf.add(change('/b', T(2, 1)))).toBe(true);
    // A resolved timestamp that goes backwards releases nothing.
    expect(buf.resolve(parseHlc(T(1)))).toEqual([]);
    expect(buf.resolve(parseHlc(T(3))).map((c) => c.event.item.key)).toEqual(['/b']);
  });

  it('never releases anything at or before the cursor it starts after', () => {
    const buf = new ResolvedOrderBuffer(parseHlc(T(10)));
    expect(buf.add(change('/old', T(10)))).toBe(false);
    expect(buf.add(change('/new', T(10, 1)))).toBe(true);
    expect(buf.resolve(parseHlc(T(11))).map((c) => c.event.item.key)).toEqual(['/new']);
  });
});

/** A scripted row source standing in for the SQL connection. */
function scriptedRows(cursor: string): { open: (onRow: (r: ChangefeedRow) => void) => Promise<ChangefeedRowStream>; push(r: ChangefeedRow): void; fail(err: Error): void; stopped: () => boolean } {
  let onRow: ((r: ChangefeedRow) => void) | undefined;
  let fail!: (err: Error) => void;
  let stopped = false;
  const ended = new Promise<Error>((resolve) => {
    fail = resolve;
  });
  return {
    open: async (cb) => {
      onRow = cb;
      return { cursor: parseHlc(cursor), ended, stop: async () => void (stopped = true) };
    },
    push: (r) => onRow?.(r),
    fail: (err) => fail(err),
    stopped: () => stopped,
  };
}

function recordingSink(): FeedSink & { events: BackendEvent[]; readyCount: number } {
  const sink = {
    events: [] as BackendEvent[],
    readyCount: 0,
    emit: (e: BackendEvent) => void sink.events.push(e),
    ready: () => void sink.readyCount++,
  };
  return sink;
}

describe('openChangefeedSession', () => {
  it('is ready at the first resolved timestamp and emits later changes in commit order', async () => {
    const src = scriptedRows(T(0));
    const sink = recordingSink();
    const session = await openChangefeedSession(sink, src.open);
    src.push(putRow('/early', 'e', T(1)));
    expect(sink.readyCount).toBe(0);
    src.push(resolvedRow(T(1)));
    expect(sink.readyCount).toBe(1);
    // Committed before the session could serve any watcher: not emitted.
    expect(sink.events).toEqual([]);

    src.push(putRow('/b', 'b1', T(4)));
    src.push(putRow('/a', 'a1', T(2)));
    src.push(deleteRow('/b', T(6)));
    src.push(putRow('/a', 'a2', T(5)));
    src.push(putRow('/a', 'a1', T(2))); // at-least-once: a duplicate
    expect(sink.events).toEqual([]);
    src.push(resolvedRow(T(5)));
    src.push(resolvedRow(T(6)));
    expect(sink.events.map((e) => (e.type === 'init' ? 'init' : `${e.type} ${e.item.key}`))).toEqual(['put /a', 'put /b', 'put /a', 'delete /b']);
    await session.stop();
    expect(src.stopped()).toBe(true);
  });

  it('breaks on a stream error, an unreadable row and an overfull buffer', async () => {
    const s1 = scriptedRows(T(0));
    const session1 = await openChangefeedSession(recordingSink(), s1.open);
    s1.fail(new Error('node drained'));
    expect((await session1.broken).message).toBe('node drained');

    const s2 = scriptedRows(T(0));
    const session2 = await openChangefeedSession(recordingSink(), s2.open);
    s2.push({ table: 'kv', key: '[]', value: '{"updated": "x"}' });
    expect((await session2.broken).message).toMatch(/unreadable row/);

    const s3 = scriptedRows(T(0));
    const session3 = await openChangefeedSession(recordingSink(), s3.open, { maxBuffered: 2 });
    for (let i = 1; i <= 3; i++) s3.push(putRow(`/k${i}`, 'v', T(i)));
    expect((await session3.broken).message).toMatch(/more than 2 changes/);
  });

  it('breaks when no resolved timestamp arrives in time', async () => {
    const src = scriptedRows(T(0));
    const session = await openChangefeedSession(recordingSink(), src.open, { resolvedTimeoutMs: 30 });
    expect((await session.broken).message).toMatch(/no resolved timestamp/);
  });

  it('attaches a barrier between the changes at or before its cluster time and those after', async () => {
    const src = scriptedRows(T(0));
    const sink = recordingSink();
    let now: Hlc = parseHlc(T(3));
    const session = await openChangefeedSession(sink, src.open, { clusterTime: async () => now });
    src.push(resolvedRow(T(1)));
    const marks: number[] = [];
    const barrier = session.barrier!(() => marks.push(sink.events.length));
    await Promise.resolve();
    src.push(putRow('/before', 'x', T(2)));
    src.push(putRow('/after', 'y', T(4)));
    src.push(resolvedRow(T(2)));
    expect(marks).toEqual([]);
    src.push(resolvedRow(T(5)));
    await barrier;
    // One event (/before, at T2 <= T3) preceded the barrier; /after (T4) follows it.
    expect(marks).toEqual([1]);
    expect(sink.events.map((e) => (e.type === 'init' ? 'init' : e.item.key))).toEqual(['/before', '/after']);

    // A cluster time the frontier already passed attaches at once.
    now = parseHlc(T(4));
    await session.barrier!(() => marks.push(sink.events.length));
    expect(marks).toEqual([1, 2]);
    await session.stop();
  });
});

describe('changefeed statement and row-level TTL', () => {
  it('asks for updated and resolved timestamps, checkpoints and a cursor', () => {
    expect(changefeedStatement({ resolvedInterval: '1s', cursor: parseHlc(T(0)), minCheckpointFrequency: true })).toBe(
      `EXPERIMENTAL CHANGEFEED FOR kv WITH updated, resolved = '1s', min_checkpoint_frequency = '1s', cursor = '${T(0)}'`,
    );
    expect(changefeedStatement({ resolvedInterval: '200ms', cursor: parseHlc(T(0)), minCheckpointFrequency: false })).toBe(
      `EXPERIMENTAL CHANGEFEED FOR kv WITH updated, resolved = '200ms', cursor = '${T(0)}'`,
    );
    expect(() => changefeedStatement({ resolvedInterval: "1s'; --", cursor: parseHlc(T(0)), minCheckpointFrequency: true })).toThrow(TypeError);
  });

  it('sets ttl_expiration_expression and ttl_job_cron, refusing what is not a cron schedule', () => {
    expect(ttlStatement('*/20 * * * *')).toBe("ALTER TABLE kv SET (ttl_expiration_expression = 'expires', ttl_job_cron = '*/20 * * * *')");
    expect(ttlStatement('@hourly')).toBe("ALTER TABLE kv SET (ttl_expiration_expression = 'expires', ttl_job_cron = '@hourly')");
    for (const bad of ["*/20 * * * *'; DROP TABLE kv; --", '* * *', 'every minute']) {
      expect(() => validateTtlJobCron(bad)).toThrow(expect.objectContaining({ kind: 'bad-parameter' }));
    }
  });
});
