/**
 * Per-source-address token buckets for unauthenticated endpoints (the auth API's join, ping and user tokens;
 * the proxy's login, invite and ping). Password guessing is also bounded per user by the auth server's lockout;
 * this bounds what one address can make a server hash. Time comes from an injected clock; memory is bounded by
 * {@link RateLimiterOptions.maxKeys}.
 */

import type { Clock } from '@teleport-ts/core/clock';
import { LimitExceededError } from '@teleport-ts/core/errors';

export interface RateLimiterOptions {
  /** Tokens added per second (sustained requests per second). */
  average: number;
  /** Bucket size: requests allowed at once after a quiet period. */
  burst: number;
  clock: Clock;
  /** Most addresses tracked; when full, the bucket idle longest is forgotten. Default 65,536. */
  maxKeys?: number;
}

/** Default for the auth API's unauthenticated endpoints (join, ping, user tokens): bursts of 20, then 2 per second per address. */
export const DEFAULT_UNAUTHENTICATED_RATE_LIMIT = Object.freeze({ average: 2, burst: 20 });

export interface RateLimiter {
  /** Takes one token for `key`, or throws {@link LimitExceededError}. */
  take(key: string): void;
  /** Addresses currently tracked (for tests). */
  size(): number;
}

interface Bucket {
  tokens: number;
  updated: number;
}

/**
 * @example
 * ```ts
 * const limiter = newRateLimiter({ average: 1, burst: 20, clock });
 * limiter.take(req.socket.remoteAddress ?? '');
 * ```
 */
export function newRateLimiter(options: RateLimiterOptions): RateLimiter {
  const { average, burst, clock } = options;
  if (!(average > 0) || !(burst >= 1)) throw new TypeError('newRateLimiter: average must be > 0 and burst >= 1');
  const maxKeys = options.maxKeys ?? 65_536;
  // A Map iterates in insertion order; re-inserting on use keeps the least recently used first.
  const buckets = new Map<string, Bucket>();
  return {
    take(key) {
      const now = clock.now().getTime();
      let bucket = buckets.get(key);
      if (bucket === undefined) {
        if (buckets.size >= maxKeys) {
          const oldest = buckets.keys().next();
          if (!oldest.done) buckets.delete(oldest.value);
        }
        bucket = { tokens: burst, updated: now };
      } else {
        buckets.delete(key);
        const elapsed = Math.max(0, now - bucket.updated) / 1000;
        bucket.tokens = Math.min(burst, bucket.tokens + elapsed * average);
        bucket.updated = now;
      }
      buckets.set(key, bucket);
      if (bucket.tokens < 1) {
        throw new LimitExceededError('too many requests from this address, slow down', {
          code: 'ERR_TP_RATE_LIMITED',
          hint: 'wait a few seconds and try again',
        });
      }
      bucket.tokens -= 1;
    },
    size: () => buckets.size,
  };
}
