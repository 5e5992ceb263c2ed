import { newFakeClock } from '../../src/clock/index.js';
import { newMemoryBackend } from '../../src/backend/memory/index.js';
import { runCacheCompliance } from './compliance.js';

runCacheCompliance('memory', async () => {
  const clock = newFakeClock(new Date('2026-01-01T00:00:00Z'));
  const backend = newMemoryBackend({ clock, sweepIntervalMs: 0 });
  return { backend, clock, cleanup: () => backend.close() };
});
