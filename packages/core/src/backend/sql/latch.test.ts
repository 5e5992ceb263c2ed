import { describe, expect, it } from 'vitest';
import { newBreakLatch } from './latch.js';

describe('newBreakLatch', () => {
  it('starts unbroken and settles once, with the first reason', async () => {
    const latch = newBreakLatch();
    expect(latch.isBroken).toBe(false);
    const first = new Error('connection lost');
    latch.breakWith(first);
    latch.breakWith(new Error('stopped'));
    expect(latch.isBroken).toBe(true);
    await expect(latch.broken).resolves.toBe(first);
  });
});
