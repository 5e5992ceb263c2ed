import type { Clock } from '../clock/index.js';

/** Teleport's `defaults.MaxLoginAttempts`. */
export const MAX_LOGIN_ATTEMPTS = 5;
/** Teleport's `defaults.AttemptTTL`: failures older than this no longer count. */
export const LOGIN_ATTEMPT_WINDOW_MS = 30 * 60_000;
/** Teleport's `defaults.AccountLockInterval` (30 minutes, PCI DSS v4.0 8.3.4). */
export const ACCOUNT_LOCK_MS = 30 * 60_000;
/** The reason recorded on an automatic lock (Teleport's wording). */
export const LOCK_REASON_FAILED_ATTEMPTS = 'user has exceeded maximum failed login attempts';

export interface LockoutPolicy {
  maxAttempts: number;
  windowMs: number;
  lockMs: number;
}

export const DEFAULT_LOCKOUT_POLICY: Readonly<LockoutPolicy> = Object.freeze({
  maxAttempts: MAX_LOGIN_ATTEMPTS,
  windowMs: LOGIN_ATTEMPT_WINDOW_MS,
  lockMs: ACCOUNT_LOCK_MS,
});

/** A user's failed-login record: plain JSON, stored by the caller next to the user. Times are ISO 8601 UTC. */
export interface LoginAttempts {
  /** Failed attempts inside the window, oldest first. */
  readonly failures: readonly string[];
  /** Set when the user got locked; the lock lapses at this instant. */
  readonly lockedUntil?: string;
  readonly lockReason?: string;
}

/** A record with no failures and no lock. */
export const NO_LOGIN_ATTEMPTS: LoginAttempts = Object.freeze({ failures: Object.freeze([]) });

/**
 * True while the lock from too many failures holds (`lockedUntil` is in the future).
 *
 * @example
 * ```ts
 * if (isLocked(attempts, clock)) throw new AccessDeniedError('too many failed login attempts, try again later');
 * ```
 */
export function isLocked(state: LoginAttempts, clock: Clock): boolean {
  if (state.lockedUntil === undefined) return false;
  const until = Date.parse(state.lockedUntil);
  // An unreadable lock time is treated as a lock: fail closed.
  if (!Number.isFinite(until)) return true;
  return clock.now().getTime() < until;
}

/** Failures inside the window (unreadable times dropped). No upper bound: a peer auth server's clock may run slightly ahead. */
function recentFailures(state: LoginAttempts, now: number, policy: LockoutPolicy): string[] {
  return state.failures.filter((t) => {
    const ms = Date.parse(t);
    return Number.isFinite(ms) && ms > now - policy.windowMs;
  });
}

function lockedRecord(now: number, policy: LockoutPolicy): LoginAttempts {
  return Object.freeze({
    failures: Object.freeze([]),
    lockedUntil: new Date(now + policy.lockMs).toISOString(),
    lockReason: LOCK_REASON_FAILED_ATTEMPTS,
  });
}

/**
 * Records a failed login. Failures older than the window are forgotten; the failure that reaches
 * `maxAttempts` inside the window locks the user for `lockMs` and clears the count. A failure while
 * locked changes nothing (callers refuse locked users before checking credentials, as Teleport does).
 * Returns the new record; the input is not modified. The auth server uses {@link reserveLoginAttempt} and
 * {@link settleLoginFailure} instead, which give the same sequence when attempts do not overlap.
 *
 * @example
 * ```ts
 * attempts = recordLoginFailure(attempts, clock);
 * if (isLocked(attempts, clock)) auditLockEvent(user);
 * ```
 */
export function recordLoginFailure(state: LoginAttempts, clock: Clock, policy: LockoutPolicy = DEFAULT_LOCKOUT_POLICY): LoginAttempts {
  if (isLocked(state, clock)) return state;
  const now = clock.now().getTime();
  const failures = [...recentFailures(state, now, policy), new Date(now).toISOString()];
  if (failures.length >= policy.maxAttempts) return lockedRecord(now, policy);
  return Object.freeze({ failures: Object.freeze(failures) });
}

/** What {@link reserveLoginAttempt} decided: verify the credentials, or refuse without looking at them. */
export type AttemptReservation = 'reserved' | 'locked' | 'exhausted';

/**
 * Reserves one password check before it happens, so that concurrent attempts (on one auth server or
 * several sharing a backend) can never verify more than `maxAttempts` passwords per window: the
 * reservation counts as a failure until a success clears it. `locked` while a lock holds; `exhausted` when
 * `maxAttempts` attempts are already counted in the window (failed, or still being checked). Write the
 * returned state with a compare-and-swap and verify only when the write succeeded with `reserved`.
 *
 * @example
 * ```ts
 * const { state, outcome } = reserveLoginAttempt(current, clock);
 * if (outcome !== 'reserved') refuse();
 * ```
 */
export function reserveLoginAttempt(
  state: LoginAttempts,
  clock: Clock,
  policy: LockoutPolicy = DEFAULT_LOCKOUT_POLICY,
): { state: LoginAttempts; outcome: AttemptReservation } {
  if (isLocked(state, clock)) return { state, outcome: 'locked' };
  const now = clock.now().getTime();
  const recent = recentFailures(state, now, policy);
  if (recent.length >= policy.maxAttempts) return { state, outcome: 'exhausted' };
  return { state: Object.freeze({ failures: Object.freeze([...recent, new Date(now).toISOString()]) }), outcome: 'reserved' };
}

/**
 * Settles a reserved attempt whose credentials were wrong: the reservation already counts, so this only
 * locks the user (for `lockMs`, clearing the count) once `maxAttempts` failures sit in the window. Returns
 * the input itself when nothing changes, so a caller can tell the one write that locked.
 *
 * @example
 * ```ts
 * const next = settleLoginFailure(current, clock);
 * const lockedNow = next !== current && isLocked(next, clock);
 * ```
 */
export function settleLoginFailure(state: LoginAttempts, clock: Clock, policy: LockoutPolicy = DEFAULT_LOCKOUT_POLICY): LoginAttempts {
  if (isLocked(state, clock)) return state;
  const now = clock.now().getTime();
  if (recentFailures(state, now, policy).length < policy.maxAttempts) return state;
  return lockedRecord(now, policy);
}

/**
 * Records a successful login: clears the failure count (Teleport deletes the attempts). A lock still in
 * force is kept, so a caller that forgot to check {@link isLocked} does not lift it by accident.
 *
 * @example
 * ```ts
 * attempts = recordLoginSuccess(attempts, clock);
 * ```
 */
export function recordLoginSuccess(state: LoginAttempts, clock: Clock): LoginAttempts {
  if (isLocked(state, clock)) return state;
  return NO_LOGIN_ATTEMPTS;
}
