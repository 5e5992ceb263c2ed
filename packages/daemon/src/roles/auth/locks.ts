/**
 * Locks (`tctl lock`, `tctl get locks`, `tctl rm locks/<name>`), and the check every certificate issuance makes: a
 * lock in force for the user (by name, role or login) or for the agent asking refuses the certificate with
 * Teleport's message (`lock targeting User:"alice" is in force: ...`).
 */

import { BadParameterError } from '@teleport-ts/core/errors';
import { assertNoLockInForce, checkNewName, lockToWire, parseLock, type Lock, type LockSubject } from '@teleport-ts/core/types';
import type { Backend, Item } from '@teleport-ts/core/backend';
import { LOCKS_PREFIX, getAllWithPrefix, parseStoredLock } from '@teleport-ts/core/services';
import { actorName, authorize, type Caller } from './authz.js';
import type { AuthContext } from './context.js';

export async function getLocks(ctx: AuthContext, caller: Caller): Promise<{ items: unknown[] }> {
  authorize(caller, 'lock', 'list', 'read');
  return { items: (await ctx.locks.getLocks()).map(lockToWire) };
}

export async function getLock(ctx: AuthContext, caller: Caller, name: string): Promise<unknown> {
  authorize(caller, 'lock', 'read');
  return lockToWire(await ctx.locks.getLock(name));
}

/**
 * Who a lock names as its author, in `created_by` and the audit: a user by name; the local admin identity (tctl on the
 * auth host, whose certificate names the host as `<uuid>.<cluster>`) by its role, `Admin`, as Teleport names built-in
 * roles; another host by its host UUID.
 */
function lockAuthor(caller: Exclude<Caller, { kind: 'anonymous' }>): string {
  return caller.kind === 'builtin' && caller.systemRole === 'Admin' ? 'Admin' : actorName(caller);
}

/** Creates or replaces a lock; `created_at` / `created_by` are set here when the body has none. */
export async function upsertLock(ctx: AuthContext, caller: Caller, name: string, body: unknown): Promise<unknown> {
  const actor = authorize(caller, 'lock', 'create', 'update');
  const parsed = parseLock(body);
  checkNewName('lock', name);
  if (parsed.metadata.name !== name) throw new BadParameterError(`the lock in the body is ${JSON.stringify(parsed.metadata.name)}, not ${JSON.stringify(name)}`);
  const now = ctx.clock.now();
  if (parsed.spec.expires !== undefined && Date.parse(parsed.spec.expires) <= now.getTime()) {
    throw new BadParameterError(`lock ${JSON.stringify(name)} would expire at ${parsed.spec.expires}, which is not in the future`);
  }
  const wire = lockToWire(parsed);
  const stamped = parseLock({
    ...wire,
    spec: { ...(wire['spec'] as object), created_at: parsed.spec.created_at ?? now.toISOString(), created_by: parsed.spec.created_by ?? lockAuthor(actor) },
  });
  const { lock } = await ctx.locks.upsertLock(stamped);
  await ctx.emit('lockCreated', { user: lockAuthor(actor), name, target: { ...lock.spec.target }, 'addr.remote': caller.remoteAddr });
  return lockToWire(lock);
}

export async function deleteLock(ctx: AuthContext, caller: Caller, name: string): Promise<Record<string, never>> {
  const actor = authorize(caller, 'lock', 'delete');
  await ctx.locks.deleteLock(name);
  await ctx.emit('lockDeleted', { user: lockAuthor(actor), name, 'addr.remote': caller.remoteAddr });
  return {};
}

/**
 * Refuses when a lock in force matches `subject`.
 *
 * @throws AccessDeniedError with Teleport's `lock targeting ... is in force` message.
 */
export async function assertNotLocked(ctx: AuthContext, subject: LockSubject): Promise<void> {
  assertNoLockInForce(await ctx.locks.getLocks(), subject, ctx.clock.now());
}

/**
 * The locks as every request checks them: read from the cache (`core/cache`, fed by the backend watch), so a lock
 * written through any auth server on the backend is in force here within the watch latency, and one written through
 * this process at the very next request (the cache's barrier). Parsed once per stored revision. While the backend is
 * unreachable the last known locks stay in force.
 */
export function newLockView(cached: Backend): () => Promise<readonly Lock[]> {
  const parsed = new WeakMap<Item, Lock>();
  const parse = (item: Item): Lock => {
    let lock = parsed.get(item);
    if (lock === undefined) {
      lock = parseStoredLock(item);
      parsed.set(item, lock);
    }
    return lock;
  };
  return async () => (await getAllWithPrefix(cached, LOCKS_PREFIX)).map(parse);
}
