import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { ConnectionProblemError, redact } from '../../errors/index.js';
import type { FeedSession, FeedSink } from '../sql/feed.js';
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
  const client = new pg.Client(options.clientConfig);
  let breakWith!: (err: Error) => void;
  let isBroken = false;
  const broken = new Promise<Error>((resolve) => {
    breakWith = (err) => {
      if (isBroken) return;
      isBroken = true;
      resolve(err);
    };
  });
  // Without an 'error' listener a dropped connection would crash the process.
  client.on('error', (err) => breakWith(err));
  client.on('end', () => breakWith(new ConnectionProblemError('postgres change feed connection ended')));

  const barriers = new Map<string, () => void>();
  const pending: ChangeNotification[] = [];
  /** Handles one notification in stream order; false when it needs an asynchronous fetch first. */
  const deliver = (n: ChangeNotification): boolean => {
    if (n.kind === 'inline') {
      sink.emit(n.event);
      return true;
    }
    if (n.kind === 'barrier') {
      const reached = barriers.get(n.id);
      barriers.delete(n.id);
      reached?.();
      return true;
    }
    return false;
  };
  let draining = false;
  const drain = async (): Promise<void> => {
    if (draining) return;
    draining = true;
    try {
      while (pending.length > 0 && !isBroken) {
        const next = pending[0]!;
        if (next.kind === 'spilled') {
          const res = await client.query<{ payload: string }>('SELECT payload FROM kv_events WHERE id = $1::bigint', [next.id]);
          const row = res.rows[0];
          if (!row) throw new ConnectionProblemError(`postgres change feed: spilled event ${next.id} was pruned before it was read`);
          const event: BackendEvent = decodeChangeEvent(row.payload);
          pending.shift();
          if (!isBroken) sink.emit(event);
        } else {
          pending.shift();
          if (!isBroken) deliver(next);
        }
      }
    } catch (err) {
      breakWith(err instanceof Error ? err : new ConnectionProblemError(redact(String(err))));
    } finally {
      draining = false;
    }
  };

  client.on('notification', (msg) => {
    if (isBroken || msg.channel !== CHANGE_CHANNEL) return;
    let parsed: ChangeNotification;
    try {
      parsed = parseChangeNotification(msg.payload ?? '');
    } catch (err) {
      breakWith(new ConnectionProblemError(`postgres change feed: unreadable notification: ${(err as Error).message}`));
      return;
    }
    // The common case stays synchronous: nothing queued ahead and no fetch needed.
    if (pending.length === 0 && deliver(parsed)) return;
    pending.push(parsed);
    void drain();
  });

  let heartbeat: NodeJS.Timeout | undefined;
  const stop = async (): Promise<void> => {
    if (heartbeat) clearInterval(heartbeat);
    heartbeat = undefined;
    breakWith(new ConnectionProblemError('postgres change feed stopped'));
    await client.end().catch(() => undefined);
  };

  try {
    await client.connect();
    await client.query(`LISTEN ${CHANGE_CHANNEL}`);
  } catch (err) {
    await stop();
    throw err;
  }
  if (isBroken) {
    const reason = await broken;
    await stop();
    throw reason;
  }

  const heartbeatMs = options.heartbeatMs ?? 10_000;
  const timeoutMs = options.heartbeatTimeoutMs ?? 5_000;
  heartbeat = setInterval(() => {
    if (isBroken) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ConnectionProblemError(`postgres change feed: no answer to a probe within ${timeoutMs} ms`)), timeoutMs);
    });
    Promise.race([client.query('SELECT 1'), timeout])
      .catch((err: unknown) => breakWith(err instanceof Error ? err : new ConnectionProblemError(redact(String(err)))))
      .finally(() => clearTimeout(timer));
  }, heartbeatMs);
  heartbeat.unref();

  void broken.then(() => barriers.clear());
  const barrier = (onReached: () => void): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      if (isBroken) return reject(new ConnectionProblemError('postgres change feed is down'));
      const id = randomUUID();
      barriers.set(id, () => {
        onReached();
        resolve();
      });
      void broken.then((err) => reject(err));
      client.query('SELECT pg_notify($1, $2)', [CHANGE_CHANNEL, barrierPayload(id)]).catch((err: unknown) => {
        barriers.delete(id);
        reject(err instanceof Error ? err : new ConnectionProblemError(redact(String(err))));
      });
    });

  sink.ready();
  return { broken, stop, barrier };
}
