import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { ConnectionProblemError, redact } from '../../errors/index.js';
import type { FeedSession, FeedSink } from '../sql/feed.js';
import { newBreakLatch, type BreakLatch } from '../sql/latch.js';
import type { BackendEvent } from '../types.js';
import { barrierPayload, decodeChangeEvent, parseChangeNotification, type ChangeNotification } from './payload.js';
import { CHANGE_CHANNEL } from './schema.js';

export interface ListenSessionOptions {
  /** Configuration of the dedicated LISTEN connection (not pooled: LISTEN is per session). */
  clientConfig: pg.ClientConfig;
  /** How often the idle connection is probed, so a silently dead network is noticed (default 10 s). */
  heartbeatMs?: number;
  /** How long a probe may take (default 5 s). */
  heartbeatTimeoutMs?: number;
}

/**
 * Opens one LISTEN session: a dedicated connection that runs `LISTEN teleport_kv_changes`, then calls
 * `sink.ready()`. Every transaction that changes `kv` notifies through the `kv_notify_change` trigger;
 * PostgreSQL delivers notifications of committed transactions only, in commit order, to every session
 * that was listening when the transaction committed. So from `ready()` on, the session emits every
 * committed change, in commit order. Large events are fetched from `kv_events` in arrival order (later
 * notifications wait for the fetch). Anything that could lose an event (connection error, a spilled row
 * already pruned, a payload that does not parse) breaks the session, and the feed resets its watchers.
 *
 * Barriers: the session NOTIFYs `#<uuid>` on its own connection and runs the callback when that
 * notification comes back. Every transaction that committed before the NOTIFY's own commit is delivered
 * before it, so a watcher attached there sees no write that completed before `newWatcher()` was called.
 */
export async function openListenSession(sink: FeedSink, options: ListenSessionOptions): Promise<FeedSession> {
  const s: ListenState = {
    client: new pg.Client(options.clientConfig),
    sink,
    latch: newBreakLatch(),
    barriers: new Map(),
    pending: [],
    draining: false,
    heartbeat: undefined,
  };
  // Without an 'error' listener a dropped connection would crash the process.
  s.client.on('error', (err) => s.latch.breakWith(err));
  s.client.on('end', () => s.latch.breakWith(new ConnectionProblemError('postgres change feed connection ended')));
  s.client.on('notification', (msg) => onNotification(s, msg));
  await startListening(s);
  startHeartbeat(s, options.heartbeatMs ?? 10_000, options.heartbeatTimeoutMs ?? 5_000);
  void s.latch.broken.then(() => s.barriers.clear());
  sink.ready();
  return { broken: s.latch.broken, stop: () => stopListenSession(s), barrier: (onReached) => requestBarrier(s, onReached) };
}

/** One LISTEN session's state. */
interface ListenState {
  readonly client: pg.Client;
  readonly sink: FeedSink;
  readonly latch: BreakLatch;
  /** Barrier callbacks by the id of their notification. */
  readonly barriers: Map<string, () => void>;
  /** Notifications waiting behind a spilled event's fetch, in arrival order. */
  readonly pending: ChangeNotification[];
  draining: boolean;
  heartbeat: NodeJS.Timeout | undefined;
}

/** Connects and runs LISTEN; on failure the session is stopped and the reason thrown. */
async function startListening(s: ListenState): Promise<void> {
  try {
    await s.client.connect();
    await s.client.query(`LISTEN ${CHANGE_CHANNEL}`);
  } catch (err) {
    await stopListenSession(s);
    throw err;
  }
  if (s.latch.isBroken) {
    const reason = await s.latch.broken;
    await stopListenSession(s);
    throw reason;
  }
}

async function stopListenSession(s: ListenState): Promise<void> {
  if (s.heartbeat) clearInterval(s.heartbeat);
  s.heartbeat = undefined;
  s.latch.breakWith(new ConnectionProblemError('postgres change feed stopped'));
  await s.client.end().catch(() => undefined);
}

function onNotification(s: ListenState, msg: pg.Notification): void {
  if (s.latch.isBroken || msg.channel !== CHANGE_CHANNEL) return;
  let parsed: ChangeNotification;
  try {
    parsed = parseChangeNotification(msg.payload ?? '');
  } catch (err) {
    s.latch.breakWith(new ConnectionProblemError(`postgres change feed: unreadable notification: ${(err as Error).message}`));
    return;
  }
  // The common case stays synchronous: nothing queued ahead and no fetch needed.
  if (s.pending.length === 0 && deliver(s, parsed)) return;
  s.pending.push(parsed);
  void drain(s);
}

/** Handles one notification in stream order; false when it needs an asynchronous fetch first. */
function deliver(s: ListenState, n: ChangeNotification): boolean {
  if (n.kind === 'inline') {
    s.sink.emit(n.event);
    return true;
  }
  if (n.kind === 'barrier') {
    const reached = s.barriers.get(n.id);
    s.barriers.delete(n.id);
    reached?.();
    return true;
  }
  return false;
}

/** Delivers the queued notifications in order, fetching spilled events from `kv_events`. */
async function drain(s: ListenState): Promise<void> {
  if (s.draining) return;
  s.draining = true;
  try {
    while (s.pending.length > 0 && !s.latch.isBroken) {
      const next = s.pending[0]!;
      if (next.kind === 'spilled') {
        const res = await s.client.query<{ payload: string }>('SELECT payload FROM kv_events WHERE id = $1::bigint', [next.id]);
        const row = res.rows[0];
        if (!row) throw new ConnectionProblemError(`postgres change feed: spilled event ${next.id} was pruned before it was read`);
        const event: BackendEvent = decodeChangeEvent(row.payload);
        s.pending.shift();
        if (!s.latch.isBroken) s.sink.emit(event);
      } else {
        s.pending.shift();
        if (!s.latch.isBroken) deliver(s, next);
      }
    }
  } catch (err) {
    s.latch.breakWith(err instanceof Error ? err : new ConnectionProblemError(redact(String(err))));
  } finally {
    s.draining = false;
  }
}

/** Probes the idle connection so a silently dead network breaks the session. */
function startHeartbeat(s: ListenState, heartbeatMs: number, timeoutMs: number): void {
  s.heartbeat = setInterval(() => {
    if (s.latch.isBroken) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ConnectionProblemError(`postgres change feed: no answer to a probe within ${timeoutMs} ms`)), timeoutMs);
    });
    Promise.race([s.client.query('SELECT 1'), timeout])
      .catch((err: unknown) => s.latch.breakWith(err instanceof Error ? err : new ConnectionProblemError(redact(String(err)))))
      .finally(() => clearTimeout(timer));
  }, heartbeatMs);
  s.heartbeat.unref();
}

function requestBarrier(s: ListenState, onReached: () => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (s.latch.isBroken) return reject(new ConnectionProblemError('postgres change feed is down'));
    const id = randomUUID();
    s.barriers.set(id, () => {
      onReached();
      resolve();
    });
    void s.latch.broken.then((err) => reject(err));
    s.client.query('SELECT pg_notify($1, $2)', [CHANGE_CHANNEL, barrierPayload(id)]).catch((err: unknown) => {
      s.barriers.delete(id);
      reject(err instanceof Error ? err : new ConnectionProblemError(redact(String(err))));
    });
  });
}
