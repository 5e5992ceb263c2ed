import { describe, expect, it } from 'vitest';
import { newFakeClock } from '@teleport-ts/core/clock';
import { newRateLimiter } from './ratelimit.js';

describe('rate limiter', () => {
  it('allows a burst per key, then refills at the average rate with the clock', () => {
    const clock = newFakeClock();
    const limiter = newRateLimiter({ average: 2, burst: 3, clock });
    for (let i = 0; i < 3; i++) limiter.take('10.0.0.1');
    expect(() => limiter.take('10.0.0.1')).toThrow(expect.objectContaining({ kind: 'limit-exceeded', code: 'ERR_TP_RATE_LIMITED' }));
    limiter.take('10.0.0.2');
    clock.advance(500);
    limiter.take('10.0.0.1');
    expect(() => limiter.take('10.0.0.1')).toThrow();
  });

  it('forgets the least recently used key when full, bounding memory', () => {
    const clock = newFakeClock();
    const limiter = newRateLimiter({ average: 1, burst: 1, clock, maxKeys: 2 });
    limiter.take('a');
    limiter.take('b');
    limiter.take('c'); // evicts a
    limiter.take('a'); // a fresh bucket again
    expect(() => limiter.take('c')).toThrow();
  });
});
