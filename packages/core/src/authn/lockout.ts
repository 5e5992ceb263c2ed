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

/**
 * Records a failed login. Failures older than the window are forgotten; the failure that reaches
 * `maxAttempts` inside the window locks the user for `lockMs` and clears the count. A failure while
 * locked changes nothing (callers refuse locked users before checking credentials, as Teleport does).
 * Returns the new record; the input is not modified.
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
  const recent = state.failures.filter((t) => {
    const ms = Date.parse(t);
    // No upper bound: with several auth servers, a peer's clock may run slightly ahead of ours.
    return Number.isFinite(ms) && ms > now - policy.windowMs;
  });
  const failures = [...recent, new Date(now).toISOString()];
  if (failures.length >= policy.maxAttempts) {
    return Object.freeze({
      failures: Object.freeze([]),
      lockedUntil: new Date(now + policy.lockMs).toISOString(),
      lockReason: LOCK_REASON_FAILED_ATTEMPTS,
    });
  }
  return Object.freeze({ failures: Object.freeze(failures) });
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
