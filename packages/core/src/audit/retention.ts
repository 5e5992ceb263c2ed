import diagnostics_channel from 'node:diagnostics_channel';
import { BadParameterError } from '../errors/index.js';

/** Default period of the background retention sweep. */
export const DEFAULT_SWEEP_INTERVAL_MS = 60 * 60 * 1000;

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Diagnostics channel on which each background sweep publishes `{ store, deleted }` or
 * `{ store, error }`. Core never prints: subscribe to observe sweeps.
 *
 * @example
 * ```ts
 * diagnostics_channel.subscribe(AUDIT_SWEEP_CHANNEL, (msg) => logger.info(msg));
 * ```
 */
export const AUDIT_SWEEP_CHANNEL = 'teleport-ts:audit:sweep';

const sweepChannel = diagnostics_channel.channel(AUDIT_SWEEP_CHANNEL);

/** The instant before which events are past retention. */
export function retentionCutoff(now: Date, retentionDays: number): Date {
  return new Date(now.getTime() - retentionDays * DAY_MS);
}

/** Checks a sweep period (ms, 0 = no background sweep), defaulting to {@link DEFAULT_SWEEP_INTERVAL_MS}. */
export function checkSweepInterval(intervalMs: number | undefined): number {
  if (intervalMs === undefined) return DEFAULT_SWEEP_INTERVAL_MS;
  if (typeof intervalMs !== 'number' || !Number.isFinite(intervalMs) || intervalMs < 0 || intervalMs > 2 ** 31 - 1) {
    throw new BadParameterError('audit sweepIntervalMs must be a number of milliseconds from 0 to 2^31-1');
  }
  return intervalMs;
}

/**
 * Runs `sweep` every `intervalMs` until stopped. The timer never keeps the process alive, and a sweep
 * never overlaps the previous one. Returns the stop function.
 */
export function startSweeper(options: { store: string; intervalMs: number; sweep: () => Promise<number> }): () => void {
  const intervalMs = checkSweepInterval(options.intervalMs);
  if (intervalMs === 0) return () => {};
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    options
      .sweep()
      .then(
        (deleted) => {
          if (sweepChannel.hasSubscribers) sweepChannel.publish({ store: options.store, deleted });
        },
        (error: unknown) => {
          if (sweepChannel.hasSubscribers) sweepChannel.publish({ store: options.store, error });
        },
      )
      .finally(() => {
        running = false;
      });
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
