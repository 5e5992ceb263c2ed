import { describe, expect, it } from 'vitest';
import { newFakeClock } from '../../src/clock/index.js';
import { openBackend } from '../../src/backend/index.js';
import { newMemoryBackend } from '../../src/backend/memory/index.js';
import { runBackendCompliance } from './compliance.js';

runBackendCompliance('memory', async () => {
  const clock = newFakeClock(new Date('2026-01-01T00:00:00Z'));
  const backend = newMemoryBackend({ clock });
  return { backend, clock, cleanup: () => backend.close() };
}, { secondInstance: false });

describe('memory backend', () => {
  it('is what openBackend returns for storage type memory', async () => {
    const bk = await openBackend({ storage: { type: 'memory' }, dataDir: '/nonexistent' });
    expect(bk.kind).toBe('memory');
    await bk.close();
  });

  it('copies values in and out, so callers cannot mutate stored items', async () => {
    const bk = newMemoryBackend({ clock: newFakeClock() });
    const value = new Uint8Array([1, 2, 3]);
    await bk.put({ key: '/k', value });
    value[0] = 9;
    const got = await bk.get('/k');
    expect([...got.value]).toEqual([1, 2, 3]);
    got.value[1] = 9;
    expect([...(await bk.get('/k')).value]).toEqual([1, 2, 3]);
    await bk.close();
  });

  it('rejects keys that are not well-formed unicode', async () => {
    const bk = newMemoryBackend({ clock: newFakeClock() });
    await expect(bk.put({ key: '/bad\uD800', value: new Uint8Array() })).rejects.toMatchObject({ kind: 'bad-parameter' });
    await bk.close();
  });

  it('fails every call with connection-problem after close and ends its watchers', async () => {
    const bk = newMemoryBackend({ clock: newFakeClock() });
    const w = await bk.newWatcher();
    await bk.close();
    await w.done;
    await expect(bk.get('/k')).rejects.toMatchObject({ kind: 'connection-problem' });
  });
});
