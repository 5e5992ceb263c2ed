import { key } from '../backend/keys.js';
import type { Backend } from '../backend/types.js';
import { NotFoundError, isNotFound } from '../errors/index.js';
import { lockToWire, parseLock, type Lock } from '../types/index.js';
import { decodeJson, encodeJson, getAllWithPrefix, getOptional, storedForm, withRevision } from './items.js';

/** Backend prefix of every lock. */
export const LOCKS_PREFIX = '/locks/';

/** Backend key of a lock (`/locks/<name>`, as Teleport). */
export function lockKey(name: string): string {
  return key('locks', name);
}

/** A lock as stored at `item` (its revision in `metadata.revision`). */
export function parseStoredLock(item: { key: string; value: Uint8Array; revision: string }): Lock {
  return parseLock(withRevision(decodeJson(item), item));
}

/**
 * Locks storage (Teleport's `Access` service, locks part). A lock with `spec.expires` is stored with that expiry, so
 * the backend forgets it once it is no longer in force.
 */
export interface LockService {
  getLock(name: string): Promise<Lock>;
  getLocks(): Promise<Lock[]>;
  /** Creates or replaces; resolves to whether the lock existed before. */
  upsertLock(lock: Lock): Promise<{ lock: Lock; existed: boolean }>;
  deleteLock(name: string): Promise<void>;
}

/**
 * @example
 * ```ts
 * const locks = newLockService(backend);
 * await locks.upsertLock(parseLock({ metadata: { name: randomUUID() }, spec: { target: { user: 'alice' } } }));
 * ```
 */
export function newLockService(backend: Backend): LockService {
  const parse = parseStoredLock;
  const notFound = (name: string) => new NotFoundError(`lock ${JSON.stringify(name)} is not found`);
  return {
    async getLock(name) {
      const item = await getOptional(backend, lockKey(name));
      if (item === undefined) throw notFound(name);
      return parse(item);
    },
    async getLocks() {
      return (await getAllWithPrefix(backend, LOCKS_PREFIX)).map(parse);
    },
    async upsertLock(lock) {
      const k = lockKey(lock.metadata.name);
      const existed = (await getOptional(backend, k)) !== undefined;
      const until = lock.spec.expires ?? lock.metadata.expires;
      const lease = await backend.put({ key: k, value: encodeJson(storedForm(lockToWire(lock))), ...(until !== undefined ? { expires: new Date(until) } : {}) });
      return { lock: parseLock(withRevision(lockToWire(lock), lease)), existed };
    },
    async deleteLock(name) {
      try {
        await backend.delete(lockKey(name));
      } catch (err) {
        if (isNotFound(err)) throw notFound(name);
        throw err;
      }
    },
  };
}
