import pg from 'pg';
import { ConnectionProblemError } from '../../errors/index.js';
import type { FeedSession, FeedSink } from '../sql/feed.js';
import { newBreakLatch, type BreakLatch } from '../sql/latch.js';
import { ResolvedOrderBuffer, compareHlc, decodeChangefeedRow, parseHlc, type ChangefeedRow, type Hlc } from './changefeed-rows.js';

/** A running stream of changefeed rows. */
export interface ChangefeedRowStream {
  /** Where the stream starts: changes at or before it are never delivered. */
  readonly cursor: Hlc | undefined;
  /** Settles with the reason when the stream fails or ends. */
  readonly ended: Promise<Error>;
  /** Stops the stream and closes its connection; safe to call more than once. */
  stop(): Promise<void>;
}

/** Opens a row stream that calls `onRow` for each row, in arrival order. */
export type OpenChangefeedRows = (onRow: (row: ChangefeedRow) => void) => Promise<ChangefeedRowStream>;

export interface ChangefeedSessionOptions {
  /** The session breaks (and watchers reset) when more changes than this wait for a resolved timestamp. */
  maxBuffered?: number;
  /** The session breaks when no resolved timestamp arrives for this long (default 60 s). */
  resolvedTimeoutMs?: number;
  /**
   * The cluster's current HLC time (`cluster_logical_timestamp()` on a pooled connection). When given,
   * the session offers barriers: a watcher is attached between the changes at or before that time and
   * those after it, once a resolved timestamp covers it.
   */
  clusterTime?: () => Promise<Hlc>;
}

/**
 * One changefeed session: decodes rows, buffers changes until a resolved timestamp covers them and emits
 * them in commit order (see {@link ResolvedOrderBuffer}). The first resolved timestamp makes the session
 * ready: from then on every committed change is emitted. Changes released by that first checkpoint were
 * committed before any watcher's `init` could be sent and are not emitted. A row that does not decode, a
 * stream error, an overfull buffer or a silent stream break the session; the feed then resets watchers.
 */
export async function openChangefeedSession(
  sink: FeedSink,
  openRows: OpenChangefeedRows,
  options: ChangefeedSessionOptions = {},
): Promise<FeedSession> {
  const s: ChangefeedState = {
    sink,
    maxBuffered: options.maxBuffered ?? 100_000,
    resolvedTimeoutMs: options.resolvedTimeoutMs ?? 60_000,
    latch: newBreakLatch(),
    buffer: undefined,
    early: [],
    ready: false,
    watchdog: undefined,
    barriers: [],
  };
  const stream = await openRows((row) => onRow(s, row));
  s.buffer = new ResolvedOrderBuffer(stream.cursor);
  for (const row of s.early.splice(0)) onRow(s, row);
  void stream.ended.then((err) => s.latch.breakWith(err));
  armWatchdog(s);

  const clusterTime = options.clusterTime;
  return {
    broken: s.latch.broken,
    stop: async () => {
      if (s.watchdog) clearTimeout(s.watchdog);
      s.latch.breakWith(new ConnectionProblemError('cockroachdb changefeed stopped'));
      s.barriers = [];
      await stream.stop();
    },
    ...(clusterTime ? { barrier: (onReached: () => void) => requestBarrier(s, clusterTime, onReached) } : {}),
  };
}

/** One changefeed session's state. */
interface ChangefeedState {
  readonly sink: FeedSink;
  readonly maxBuffered: number;
  readonly resolvedTimeoutMs: number;
  readonly latch: BreakLatch;
  /** Set once the row stream gave its cursor. */
  buffer: ResolvedOrderBuffer | undefined;
  /** Rows that arrived before the buffer existed. */
  readonly early: ChangefeedRow[];
  /** The first resolved timestamp arrived. */
  ready: boolean;
  watchdog: NodeJS.Timeout | undefined;
  /** Barriers waiting for a resolved timestamp, by cluster time. */
  barriers: Array<{ at: Hlc; reached: () => void }>;
}

/** Breaks the session unless a resolved timestamp arrives within the timeout. */
function armWatchdog(s: ChangefeedState): void {
  if (s.watchdog) clearTimeout(s.watchdog);
  s.watchdog = setTimeout(
    () => s.latch.breakWith(new ConnectionProblemError(`cockroachdb changefeed sent no resolved timestamp for ${s.resolvedTimeoutMs} ms`)),
    s.resolvedTimeoutMs,
  );
  s.watchdog.unref();
}

function onRow(s: ChangefeedState, row: ChangefeedRow): void {
  if (s.latch.isBroken) return;
  // Rows can arrive before openRows resolved with the cursor: keep them until the buffer exists.
  if (!s.buffer) {
    s.early.push(row);
    return;
  }
  try {
    const decoded = decodeChangefeedRow(row);
    if (decoded.kind === 'change') {
      s.buffer.add(decoded);
      if (s.buffer.size > s.maxBuffered) {
        s.latch.breakWith(new ConnectionProblemError(`cockroachdb changefeed: more than ${s.maxBuffered} changes wait for a resolved timestamp`));
      }
      return;
    }
    onResolved(s, s.buffer, decoded.resolved);
  } catch (err) {
    s.latch.breakWith(new ConnectionProblemError(`cockroachdb changefeed: unreadable row: ${(err as Error).message}`, { cause: err }));
  }
}

/** A resolved timestamp: emit the changes it releases in commit order, reaching due barriers in between. */
function onResolved(s: ChangefeedState, buffer: ResolvedOrderBuffer, resolved: Hlc): void {
  armWatchdog(s);
  const released = buffer.resolve(resolved);
  if (!s.ready) {
    s.ready = true;
    s.sink.ready();
    return;
  }
  const due = s.barriers.filter((b) => compareHlc(b.at, resolved) <= 0).sort((a, b) => compareHlc(a.at, b.at));
  if (due.length > 0) s.barriers = s.barriers.filter((b) => compareHlc(b.at, resolved) > 0);
  let next = 0;
  for (const change of released) {
    while (next < due.length && compareHlc(due[next]!.at, change.updated) < 0) due[next++]!.reached();
    s.sink.emit(change.event);
  }
  while (next < due.length) due[next++]!.reached();
}

async function requestBarrier(s: ChangefeedState, clusterTime: () => Promise<Hlc>, onReached: () => void): Promise<void> {
  const at = await clusterTime();
  if (s.latch.isBroken) throw new ConnectionProblemError('cockroachdb changefeed is down');
  // Already covered: everything after the frontier is still to come, so attach right here.
  const frontier = s.buffer?.resolved;
  if (s.ready && frontier && compareHlc(at, frontier) <= 0) {
    onReached();
    return;
  }
  await new Promise<void>((resolve, reject) => {
    s.barriers.push({
      at,
      reached: () => {
        onReached();
        resolve();
      },
    });
    void s.latch.broken.then((err) => reject(err));
  });
}

export interface CockroachChangefeedOptions {
  /** The dedicated changefeed connection (a core changefeed occupies its connection). */
  clientConfig: pg.ClientConfig;
  /** How often CockroachDB emits resolved timestamps (default `1s`): the floor of watch latency. */
  resolvedInterval?: string;
}

const INTERVAL = /^[0-9]+(\.[0-9]+)?(ms|s|m)$/;

/**
 * The core changefeed statement: JSON rows with the `updated` timestamp of each change, resolved
 * timestamps every `resolvedInterval` (and, from v22.1, checkpoints as often), starting after `cursor`.
 * Only validated values are interpolated (an interval literal and an HLC decimal).
 */
export function changefeedStatement(options: { resolvedInterval: string; cursor: Hlc; minCheckpointFrequency: boolean }): string {
  if (!INTERVAL.test(options.resolvedInterval)) throw new TypeError(`invalid resolved interval ${JSON.stringify(options.resolvedInterval)}`);
  const cursor = parseHlc(options.cursor.text).text;
  const withOptions = [
    'updated',
    `resolved = '${options.resolvedInterval}'`,
    ...(options.minCheckpointFrequency ? [`min_checkpoint_frequency = '${options.resolvedInterval}'`] : []),
    `cursor = '${cursor}'`,
  ];
  return `EXPERIMENTAL CHANGEFEED FOR kv WITH ${withOptions.join(', ')}`;
}

/**
 * The real row source: on a dedicated connection, reads `cluster_logical_timestamp()` as the cursor, then
 * runs `EXPERIMENTAL CHANGEFEED FOR kv WITH updated, resolved, min_checkpoint_frequency, cursor` (a core,
 * sinkless changefeed) and streams its rows with pg's row events, without accumulating them. Servers
 * that do not know `min_checkpoint_frequency` (before v22.1) get the statement without it.
 *
 * Never run against a real CockroachDB in this repository's CI: see docs/backends.md.
 */
export function cockroachChangefeedRows(options: CockroachChangefeedOptions): OpenChangefeedRows {
  const resolved = options.resolvedInterval ?? '1s';
  if (!INTERVAL.test(resolved)) throw new TypeError(`invalid resolved interval ${JSON.stringify(resolved)}`);
  let withCheckpointOption = true;

  const open = async (onRow: (row: ChangefeedRow) => void): Promise<ChangefeedRowStream> => {
    const client = new pg.Client(options.clientConfig);
    let endWith!: (err: Error) => void;
    let hasEnded = false;
    const ended = new Promise<Error>((resolve) => {
      endWith = (err) => {
        if (hasEnded) return;
        hasEnded = true;
        resolve(err);
      };
    });
    client.on('error', (err) => endWith(err));
    client.on('end', () => endWith(new ConnectionProblemError('cockroachdb changefeed connection ended')));
    const stop = async (): Promise<void> => {
      endWith(new ConnectionProblemError('cockroachdb changefeed stopped'));
      await client.end().catch(() => undefined);
    };

    try {
      await client.connect();
      const res = await client.query<{ ts: string }>('SELECT cluster_logical_timestamp()::STRING AS ts');
      const cursor = parseHlc(String(res.rows[0]?.ts));
      const statement = changefeedStatement({ resolvedInterval: resolved, cursor, minCheckpointFrequency: withCheckpointOption });
      const query = client.query(new pg.Query(statement));
      query.on('row', (row: ChangefeedRow) => onRow(row));
      query.on('error', (err: Error) => endWith(err));
      query.on('end', () => endWith(new ConnectionProblemError('cockroachdb changefeed ended')));
      // The statement fails fast when an option is unknown; give it a moment before declaring success.
      const early = await Promise.race([ended, new Promise<undefined>((r) => setTimeout(() => r(undefined), 50))]);
      if (early) throw early;
      return { cursor, ended, stop };
    } catch (err) {
      await stop();
      if (withCheckpointOption && err instanceof Error && /min_checkpoint_frequency/.test(err.message)) {
        withCheckpointOption = false;
        return await open(onRow);
      }
      throw err;
    }
  };
  return open;
}
