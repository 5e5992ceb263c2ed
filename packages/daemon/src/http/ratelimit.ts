import type { Clock } from '@teleport-ts/core/clock';
import { LimitExceededError } from '@teleport-ts/core/errors';

/**
 * Per-key token buckets (one bucket per source address) for the unauthenticated endpoints: join, ping and
 * user tokens. Time comes from the injected clock; memory is bounded by `maxKeys`.
 */
export interface RateLimiterOptions {
  /** Tokens added per second: the sustained rate. */
  average: number;
  /** Bucket size: requests allowed at once after a quiet period. */
  burst: number;
  clock: Clock;
  /** Most keys tracked; when full, the least recently used bucket is forgotten. Default 65,536. */
  maxKeys?: number;
}

export interface RateLimiter {
  /** Takes one token for `key`, or throws {@link LimitExceededError}. */
  take(key: string): void;
}

/** Default for the auth API's unauthenticated endpoints: bursts of 20, then 2 requests per second per address. */
export const DEFAULT_UNAUTHENTICATED_RATE_LIMIT = Object.freeze({ average: 2, burst: 20 });

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * @example
 * ```ts
 * const limiter = newRateLimiter({ average: 2, burst: 20, clock });
 * limiter.take(req.socket.remoteAddress ?? '');
 * ```
 */
export function newRateLimiter(options: RateLimiterOptions): RateLimiter {
  if (!(options.average > 0) || !(options.burst >= 1)) throw new TypeError('newRateLimiter: average must be > 0 and burst >= 1');
  const maxKeys = options.maxKeys ?? 65_536;
  // A Map iterates in insertion order; re-inserting on use makes the first key the least recently used.
  const buckets = new Map<string, Bucket>();
  return {
    take(key) {
      const now = options.clock.now().getTime();
      const bucket = buckets.get(key) ?? { tokens: options.burst, at: now };
      buckets.delete(key);
      bucket.tokens = Math.min(options.burst, bucket.tokens + (Math.max(0, now - bucket.at) / 1000) * options.average);
      bucket.at = now;
      buckets.set(key, bucket);
      if (buckets.size > maxKeys) buckets.delete(buckets.keys().next().value as string);
      if (bucket.tokens < 1) {
        throw new LimitExceededError('too many requests, slow down', { code: 'ERR_TP_RATE_LIMITED', hint: 'wait a moment and try again' });
      }
      bucket.tokens -= 1;
    },
  };
}
