import { describe, expect, it } from 'vitest';
import { newMemoryBackend } from '@teleport-ts/core/backend/memory';
import { startBackendCache } from '@teleport-ts/core/cache';
import { newLockService } from '@teleport-ts/core/services';
import { parseLock } from '@teleport-ts/core/types';
import { newLockView } from './locks.js';

const lock = (name: string) => parseLock({ metadata: { name }, spec: { target: { user: 'alice' } } });

describe('newLockView', () => {
  it('reads the cache: this process sees its own lock at the next check, another server sees it through the watch', async () => {
    const backend = newMemoryBackend();
    const cache = startBackendCache({ backend, prefixes: ['/locks/'] });
    try {
      expect(await cache.whenReady(5_000)).toBe(true);
      const view = newLockView(cache.cached);
      const locks = newLockService(cache.cached);
      expect(await view()).toEqual([]);
      await locks.upsertLock(lock('l1'));
      expect((await view()).map((l) => l.metadata.name)).toEqual(['l1']);
      // Parsed once per stored revision.
      expect((await view())[0]).toBe((await view())[0]);
      // A write by another auth server, straight to the backend: delivered by the watch.
      await newLockService(backend).upsertLock(lock('l2'));
      await new Promise((r) => setTimeout(r, 10));
      expect((await view()).map((l) => l.metadata.name)).toEqual(['l1', 'l2']);
      await locks.deleteLock('l1');
      expect((await view()).map((l) => l.metadata.name)).toEqual(['l2']);
    } finally {
      await cache.close();
      await backend.close();
    }
  });
});
