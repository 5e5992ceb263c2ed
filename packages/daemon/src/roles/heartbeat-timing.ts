/**
 * When agents announce themselves (`node` and `db_server` heartbeats). Teleport's agents keep their server
 * resources alive about once a minute (`ServerKeepAliveTTL`); so do these, each announce kept for one and a half
 * periods: a beat may fail and be retried for 30 s before the resource drops out of `tsh ls` / `tsh db ls`, and an
 * agent that is gone drops out within 90 s. A 10,000-agent fleet costs the auth server about 170 announces a second.
 *
 * A failed beat is retried after a jittered, growing delay (0.5-1 s, 1-2 s, 2-4 s, ... up to 8-16 s): when an auth server or
 * a proxy restarts under thousands of agents, they do not all come back at the same instant, nor every 2 s.
 */

import { jitteredBackoff } from '@teleport-ts/core/backend';

/** The default heartbeat: renewed every 60 s, kept for 90 s. */
export const DEFAULT_HEARTBEAT = Object.freeze({ ttlMs: 90_000, intervalMs: 60_000 });

const RETRY_BASE_MS = 1_000;
const RETRY_MAX_MS = 16_000;

/** Delay before retry number `failures` (1 after the first failure): jittered, doubling, capped by the interval. */
export function heartbeatRetryDelay(failures: number, intervalMs: number, random: () => number = Math.random): number {
  return jitteredBackoff(Math.max(0, failures - 1), { baseMs: RETRY_BASE_MS, maxMs: Math.min(RETRY_MAX_MS, intervalMs), random });
}
