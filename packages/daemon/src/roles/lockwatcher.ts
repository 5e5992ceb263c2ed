/**
 * A service's view of the cluster's locks (Teleport's lock watcher, `best_effort` mode), for the db agent and the
 * proxy: fetched from the auth server every {@link DEFAULT_LOCK_REFRESH_MS}, so a new lock refuses new sessions and
 * ends running ones within about that long. While the auth server is unreachable the last known locks stay in
 * force. When the auth server refuses the service itself because a lock targets it (`--server-id`), every session
 * it serves is refused and ended with that lock's message until the lock is lifted.
 */

import type { AuthClient } from '@teleport-ts/core/api';
import type { Clock } from '@teleport-ts/core/clock';
import { AccessDeniedError, isTeleportError } from '@teleport-ts/core/errors';
import { assertNoLockInForce, findLockInForce, LOCKED_ERROR_CODE, type Lock, type LockSubject } from '@teleport-ts/core/types';

/** How often a service refreshes its locks. */
const DEFAULT_LOCK_REFRESH_MS = 2_000;

export interface LockWatcher {
  /**
   * Refuses when a lock in force matches `subject`.
   *
   * @throws AccessDeniedError `lock targeting User:"alice" is in force: <message>`.
   */
  assertNotLocked(subject: LockSubject): void;
  /** Whether a lock in force (of those known) matches `subject`. */
  isLocked(subject: LockSubject): boolean;
  /**
   * Calls `onLocked` (once, with the lock's message) when a lock that matches `subject` comes into force, or the
   * auth server refuses this service because of a lock, checked after every refresh. Returns the function that
   * stops watching (call it when the session ends).
   */
  watch(subject: LockSubject, onLocked: (message: string) => void): () => void;
  close(): void;
}

/**
 * @example
 * ```ts
 * const locks = startLockWatcher({ auth, clock, onError: (err) => log.warn(...) });
 * locks.assertNotLocked({ user: 'alice', roles: ['access'], serverId: hostId });
 * const stop = locks.watch({ user: 'alice', roles: ['access'], serverId: hostId }, () => socket.destroy());
 * ```
 */
export function startLockWatcher(options: {
  auth: Pick<AuthClient, 'getLocks'>;
  clock: Clock;
  refreshMs?: number;
  onError?: (err: unknown) => void;
}): LockWatcher {
  let locks: readonly Lock[] = [];
  /** The message of a lock on this service itself, as the auth server refused us with it. */
  let selfLocked: string | undefined;
  const watchers = new Set<{ subject: LockSubject; onLocked: (message: string) => void }>();
  let pending: Promise<void> | undefined;

  const enforce = (): void => {
    const now = options.clock.now();
    for (const w of [...watchers]) {
      const lock = findLockInForce(locks, w.subject, now);
      if (lock === undefined && selfLocked === undefined) continue;
      watchers.delete(w);
      w.onLocked(lock?.spec.message ?? selfLocked ?? '');
    }
  };
  const refresh = (): Promise<void> => {
    pending ??= options.auth
      .getLocks()
      .then((fetched) => {
        locks = fetched;
        selfLocked = undefined;
        enforce();
      })
      .catch((err: unknown) => {
        if (isTeleportError(err) && err.code === LOCKED_ERROR_CODE) {
          selfLocked = err.message;
          enforce();
          return;
        }
        options.onError?.(err);
      })
      .finally(() => {
        pending = undefined;
      });
    return pending;
  };
  void refresh();
  const timer = setInterval(() => void refresh(), options.refreshMs ?? DEFAULT_LOCK_REFRESH_MS);
  timer.unref();

  return {
    assertNotLocked(subject) {
      assertNoLockInForce(locks, subject, options.clock.now());
      if (selfLocked !== undefined) throw new AccessDeniedError(selfLocked, { code: LOCKED_ERROR_CODE });
    },
    isLocked(subject) {
      return findLockInForce(locks, subject, options.clock.now()) !== undefined;
    },
    watch(subject, onLocked) {
      const entry = { subject, onLocked };
      watchers.add(entry);
      return () => watchers.delete(entry);
    },
    close() {
      clearInterval(timer);
      watchers.clear();
    },
  };
}
