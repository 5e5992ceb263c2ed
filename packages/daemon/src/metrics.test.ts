import { describe, expect, it } from 'vitest';
import { newMemoryBackend } from '@teleport-ts/core/backend/memory';
import { newProcessMetrics } from './metrics.js';

describe('instrumentBackend', () => {
  it('keeps the methods it does not time working on class-based drivers (watchers, sweep, close)', async () => {
    const raw = newMemoryBackend({ sweepIntervalMs: 0 });
    const backend = newProcessMetrics().instrumentBackend(raw);
    const watcher = await backend.newWatcher({ prefixes: ['/x/'] });
    const events = watcher[Symbol.asyncIterator]();
    expect((await events.next()).value).toEqual({ type: 'init' });
    await backend.put({ key: '/x/a', value: new Uint8Array([1]) });
    expect((await events.next()).value).toMatchObject({ type: 'put', item: { key: '/x/a' } });
    expect(await backend.sweepExpired?.()).toBe(0);
    watcher.close();
    await backend.close();
    await expect(raw.get('/x/a')).rejects.toMatchObject({ kind: 'connection-problem' });
  });
});
