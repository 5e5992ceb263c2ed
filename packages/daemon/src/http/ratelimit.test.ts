import { describe, expect, it } from 'vitest';
import { newFakeClock } from '@teleport-ts/core/clock';
import { isKind } from '@teleport-ts/core/errors';
import { newRateLimiter } from './ratelimit.js';

describe('newRateLimiter', () => {
  it('allows a burst, then refills at the average rate, per address', () => {
    const clock = newFakeClock(new Date('2026-01-01T00:00:00Z'));
    const limiter = newRateLimiter({ average: 2, burst: 3, clock });
    for (let i = 0; i < 3; i++) limiter.take('10.0.0.1');
    let err: unknown;
    try {
      limiter.take('10.0.0.1');
    } catch (e) {
      err = e;
    }
    expect(isKind(err, 'limit-exceeded')).toBe(true);
    limiter.take('10.0.0.2'); // another address has its own bucket
    clock.advance(500); // one token back at 2/s
    limiter.take('10.0.0.1');
    expect(() => limiter.take('10.0.0.1')).toThrow(/too many requests/);
    clock.advance(60_000); // never more than the burst
    for (let i = 0; i < 3; i++) limiter.take('10.0.0.1');
    expect(() => limiter.take('10.0.0.1')).toThrow();
  });

  it('forgets the least recently used address first when full', () => {
    const limiter = newRateLimiter({ average: 1, burst: 1, clock: newFakeClock(), maxKeys: 2 });
    limiter.take('a');
    limiter.take('b');
    limiter.take('c'); // forgets a
    limiter.take('a'); // a fresh bucket again (forgets b)
    expect(() => limiter.take('c')).toThrow(/too many requests/);
  });

  it('tracks a bounded number of addresses', () => {
    const limiter = newRateLimiter({ average: 1, burst: 1, clock: newFakeClock(), maxKeys: 100 });
    for (let i = 0; i < 1000; i++) limiter.take(`addr-${i}`);
    expect(limiter.size()).toBe(100);
  });
});
