import { describe, expect, it } from 'vitest';
import { newMemoryBackend } from '@teleport-ts/core/backend/memory';
import { newLockService } from '@teleport-ts/core/services';
import { parseLock } from '@teleport-ts/core/types';
import { newLockView } from './locks.js';

const lock = (name: string) => parseLock({ metadata: { name }, spec: { target: { user: 'alice' } } });

describe('newLockView', () => {
  it('a lock written or removed in this process is seen by the very next check; others within maxAge', async () => {
    const backend = newMemoryBackend();
    const { locks, view } = newLockView(newLockService(backend), 60_000);
    expect(await view()).toEqual([]);
    await locks.upsertLock(lock('l1'));
    expect((await view()).map((l) => l.metadata.name)).toEqual(['l1']);
    // A write by another auth server (straight to the backend) waits for the cache to age.
    await newLockService(backend).upsertLock(lock('l2'));
    expect((await view()).map((l) => l.metadata.name)).toEqual(['l1']);
    await locks.deleteLock('l1');
    expect((await view()).map((l) => l.metadata.name)).toEqual(['l2']);
  });
});
