import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Logger } from '../logger.js';
import { DEFAULT_DB_HEARTBEAT, startDatabaseHeartbeats } from './db/heartbeat.js';
import { DEFAULT_HEARTBEAT, heartbeatRetryDelay } from './heartbeat-timing.js';
import { DEFAULT_NODE_HEARTBEAT, startNodeHeartbeat } from './ssh/heartbeat.js';

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, with: () => quiet, close: async () => {} };

/** An auth server that refuses the first `failFirst` announces; records when each came and its TTL. */
function recordingAuth(failFirst: number) {
  const calls: { at: number; ttl: number | undefined }[] = [];
  const take = (ttl: number | undefined): Promise<never> | Promise<unknown> => {
    calls.push({ at: Date.now(), ttl });
    return calls.length <= failFirst ? Promise.reject(new Error('connect ECONNREFUSED')) : Promise.resolve({});
  };
  return {
    calls,
    upsertNode: (_node: unknown, o?: { ttl?: number }) => take(o?.ttl) as never,
    upsertDatabaseServer: (s: { ttl?: number }) => take(s.ttl) as never,
  };
}

const gaps = (calls: { at: number }[]): number[] => calls.slice(1).map((c, i) => c.at - calls[i]!.at);

describe('heartbeat timing', () => {
  beforeEach(() => void vi.useFakeTimers({ now: 0 }));
  afterEach(() => void vi.useRealTimers());

  it('defaults to a beat a minute kept 90 s, as Teleport keeps server resources alive about once a minute', () => {
    expect(DEFAULT_HEARTBEAT).toEqual({ intervalMs: 60_000, ttlMs: 90_000 });
    expect(DEFAULT_NODE_HEARTBEAT).toBe(DEFAULT_HEARTBEAT);
    expect(DEFAULT_DB_HEARTBEAT).toBe(DEFAULT_HEARTBEAT);
  });

  it('retries after a jittered delay that doubles up to 16 s (never more than the interval)', () => {
    expect([1, 2, 3, 4, 5, 9].map((n) => heartbeatRetryDelay(n, 60_000, () => 0))).toEqual([500, 1_000, 2_000, 4_000, 8_000, 8_000]);
    expect([1, 2, 3, 4, 5, 9].map((n) => heartbeatRetryDelay(n, 60_000, () => 0.999_999))).toEqual([999, 1_999, 3_999, 7_999, 15_999, 15_999]);
    expect(heartbeatRetryDelay(9, 3_000, () => 0.999_999)).toBe(2_999);
    // Jittered: agents that failed together do not retry together.
    const spread = new Set(Array.from({ length: 50 }, () => heartbeatRetryDelay(3, 60_000)));
    expect(spread.size).toBeGreaterThan(10);
  });

  it('a node renews every interval, backs off while the auth server refuses, and is back to the interval after a success', async () => {
    const auth = recordingAuth(4);
    const beat = startNodeHeartbeat({ auth, hostId: 'h', nodename: 'n', addr: '', labels: {}, cmdLabels: () => ({}), heartbeat: DEFAULT_NODE_HEARTBEAT, logger: quiet });
    await vi.advanceTimersByTimeAsync(200_000);
    beat.close();
    const g = gaps(auth.calls);
    // Four refusals: retries after 0.5-1 s, 1-2 s, 2-4 s, 4-8 s; then a beat a minute.
    expect(g.slice(0, 4).map((ms, i) => ms >= 500 * 2 ** i && ms < 1_000 * 2 ** i)).toEqual([true, true, true, true]);
    expect(g.slice(4)).toEqual(g.slice(4).map(() => 60_000));
    expect(g.length).toBeGreaterThanOrEqual(6);
    expect(new Set(auth.calls.map((c) => c.ttl))).toEqual(new Set([90_000]));
  });

  it('a db_server heartbeat backs off the same way, per database', async () => {
    const auth = recordingAuth(3);
    const databases = [{ name: 'pg', description: '', protocol: 'postgres', uri: 'db:5432', labels: {} }] as never;
    const beats = startDatabaseHeartbeats({ auth, hostId: 'h', nodename: 'n', databases, heartbeat: DEFAULT_DB_HEARTBEAT, logger: quiet });
    await vi.advanceTimersByTimeAsync(130_000);
    beats.close();
    const g = gaps(auth.calls);
    expect(g.slice(0, 3).map((ms, i) => ms >= 500 * 2 ** i && ms < 1_000 * 2 ** i)).toEqual([true, true, true]);
    expect(g.slice(3)).toEqual([60_000, 60_000]);
    expect(new Set(auth.calls.map((c) => c.ttl))).toEqual(new Set([90_000]));
  });
});
