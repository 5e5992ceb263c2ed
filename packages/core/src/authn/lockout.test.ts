import { describe, expect, it } from 'vitest';
import { newFakeClock } from '../clock/index.js';
import {
  ACCOUNT_LOCK_MS,
  isLocked,
  LOCK_REASON_FAILED_ATTEMPTS,
  NO_LOGIN_ATTEMPTS,
  recordLoginFailure,
  recordLoginSuccess,
  reserveLoginAttempt,
  settleLoginFailure,
  type LoginAttempts,
} from './lockout.js';

const MIN = 60_000;
const START = new Date('2026-01-01T00:00:00Z');

function failTimes(state: LoginAttempts, clock: ReturnType<typeof newFakeClock>, times: number, gapMs = 0): LoginAttempts {
  let s = state;
  for (let i = 0; i < times; i++) {
    s = recordLoginFailure(s, clock);
    clock.advance(gapMs);
  }
  return s;
}

describe('login lockout', () => {
  it('4 failures do not lock; the 5th locks for 30 minutes', () => {
    const clock = newFakeClock(START);
    let s = failTimes(NO_LOGIN_ATTEMPTS, clock, 4, MIN);
    expect(isLocked(s, clock)).toBe(false);
    expect(s.failures).toHaveLength(4);
    s = recordLoginFailure(s, clock);
    expect(isLocked(s, clock)).toBe(true);
    expect(s.lockedUntil).toBe(new Date(clock.now().getTime() + ACCOUNT_LOCK_MS).toISOString());
    expect(s.lockReason).toBe(LOCK_REASON_FAILED_ATTEMPTS);
    expect(s.failures).toEqual([]);
  });

  it('the lock expires with the clock, then the count starts from zero', () => {
    const clock = newFakeClock(START);
    let s = failTimes(NO_LOGIN_ATTEMPTS, clock, 5);
    clock.advance(30 * MIN - 1);
    expect(isLocked(s, clock)).toBe(true);
    clock.advance(1);
    expect(isLocked(s, clock)).toBe(false);
    s = recordLoginFailure(s, clock);
    expect(isLocked(s, clock)).toBe(false);
    expect(s.failures).toHaveLength(1);
    expect(s.lockedUntil).toBeUndefined();
  });

  it('failures older than the 30-minute window do not count', () => {
    const clock = newFakeClock(START);
    let s = failTimes(NO_LOGIN_ATTEMPTS, clock, 4);
    clock.advance(30 * MIN);
    s = recordLoginFailure(s, clock);
    expect(isLocked(s, clock)).toBe(false);
    expect(s.failures).toHaveLength(1);
  });

  it('failures spread inside the window do count', () => {
    const clock = newFakeClock(START);
    const s = failTimes(NO_LOGIN_ATTEMPTS, clock, 5, 7 * MIN);
    expect(s.lockedUntil).toBeDefined();
  });

  it('a success clears the count', () => {
    const clock = newFakeClock(START);
    let s = failTimes(NO_LOGIN_ATTEMPTS, clock, 4);
    s = recordLoginSuccess(s, clock);
    expect(s).toEqual({ failures: [] });
    s = failTimes(s, clock, 4);
    expect(isLocked(s, clock)).toBe(false);
  });

  it('neither a failure nor a success changes an active lock', () => {
    const clock = newFakeClock(START);
    const locked = failTimes(NO_LOGIN_ATTEMPTS, clock, 5);
    clock.advance(10 * MIN);
    expect(recordLoginFailure(locked, clock)).toBe(locked);
    expect(recordLoginSuccess(locked, clock)).toBe(locked);
  });

  it('does not modify its input and returns frozen JSON-able records', () => {
    const clock = newFakeClock(START);
    const before: LoginAttempts = { failures: [] };
    const after = recordLoginFailure(before, clock);
    expect(before.failures).toEqual([]);
    expect(Object.isFrozen(after)).toBe(true);
    expect(JSON.parse(JSON.stringify(after))).toEqual(after);
  });

  it('honours a custom policy', () => {
    const clock = newFakeClock(START);
    const s = recordLoginFailure(recordLoginFailure(NO_LOGIN_ATTEMPTS, clock, { maxAttempts: 2, windowMs: MIN, lockMs: MIN }), clock, {
      maxAttempts: 2,
      windowMs: MIN,
      lockMs: MIN,
    });
    expect(s.lockedUntil).toBe(new Date(START.getTime() + MIN).toISOString());
  });

  it('counts failures recorded by a peer whose clock runs slightly ahead', () => {
    const clock = newFakeClock(START);
    const ahead = new Date(START.getTime() + 2_000).toISOString();
    const s = recordLoginFailure({ failures: [ahead, ahead, ahead, ahead] }, clock);
    expect(isLocked(s, clock)).toBe(true);
  });

  it('treats an unreadable lock time as locked (fail closed)', () => {
    expect(isLocked({ failures: [], lockedUntil: 'garbage' }, newFakeClock(START))).toBe(true);
  });
});

describe('reserved attempts (concurrent logins)', () => {
  it('grants 5 reservations per window, then refuses; a settled 5th failure locks once', () => {
    const clock = newFakeClock(START);
    let s: LoginAttempts = NO_LOGIN_ATTEMPTS;
    const outcomes: string[] = [];
    for (let i = 0; i < 7; i++) {
      const r = reserveLoginAttempt(s, clock);
      outcomes.push(r.outcome);
      s = r.state;
    }
    expect(outcomes).toEqual(['reserved', 'reserved', 'reserved', 'reserved', 'reserved', 'exhausted', 'exhausted']);
    const locked = settleLoginFailure(s, clock);
    expect(locked).not.toBe(s);
    expect(isLocked(locked, clock)).toBe(true);
    // The other four failures settle against the lock and change nothing.
    expect(settleLoginFailure(locked, clock)).toBe(locked);
    expect(reserveLoginAttempt(locked, clock).outcome).toBe('locked');
    clock.advance(ACCOUNT_LOCK_MS);
    expect(reserveLoginAttempt(locked, clock).outcome).toBe('reserved');
  });

  it('a failure below the limit changes nothing (the reservation counted it); a success clears reservations', () => {
    const clock = newFakeClock(START);
    const one = reserveLoginAttempt(NO_LOGIN_ATTEMPTS, clock).state;
    expect(settleLoginFailure(one, clock)).toBe(one);
    expect(recordLoginSuccess(one, clock)).toBe(NO_LOGIN_ATTEMPTS);
    // Reservations left by a stopped server lapse with the window.
    let s: LoginAttempts = NO_LOGIN_ATTEMPTS;
    for (let i = 0; i < 5; i++) s = reserveLoginAttempt(s, clock).state;
    clock.advance(30 * MIN + 1);
    expect(reserveLoginAttempt(s, clock).outcome).toBe('reserved');
  });
});
