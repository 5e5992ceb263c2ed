import { newFakeClock } from '@teleport-ts/core/clock';
import { ConnectionProblemError, LimitExceededError } from '@teleport-ts/core/errors';
import { describe, expect, it } from 'vitest';
import { newCachedAuthPing, type ProxyAuthApi } from './endpoints.js';

type AuthPing = Awaited<ReturnType<ProxyAuthApi['ping']>>;

describe('newCachedAuthPing', () => {
  it('reuses an answer for 2 s, and the last one while the auth server is unreachable or refuses for load; other errors pass', async () => {
    const clock = newFakeClock(new Date('2026-12-04T00:00:00Z'));
    const answers: (AuthPing | Error)[] = [];
    let calls = 0;
    const auth = {
      ping: async () => {
        calls++;
        const next = answers.shift();
        if (next instanceof Error) throw next;
        return next!;
      },
    } as unknown as ProxyAuthApi;
    const ping = newCachedAuthPing(auth, clock);
    const first = { cluster_name: 'one' } as unknown as AuthPing;
    answers.push(first);
    expect(await ping()).toBe(first);
    expect(await ping()).toBe(first);
    expect(calls).toBe(1);
    clock.advance(2_001);
    answers.push(new LimitExceededError('too many requests from this address, slow down'));
    expect(await ping()).toBe(first);
    answers.push(new ConnectionProblemError('connection refused'));
    expect(await ping()).toBe(first);
    answers.push(new Error('boom'));
    await expect(ping()).rejects.toThrow('boom');
    expect(calls).toBe(4);
  });

  it('passes a refusal on when it has no answer yet', async () => {
    const auth = { ping: () => Promise.reject(new LimitExceededError('too many requests')) } as unknown as ProxyAuthApi;
    await expect(newCachedAuthPing(auth, newFakeClock())()).rejects.toMatchObject({ kind: 'limit-exceeded' });
  });
});
