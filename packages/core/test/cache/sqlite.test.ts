import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { newFakeClock } from '../../src/clock/index.js';
import { openSqliteBackend } from '../../src/backend/sqlite/index.js';
import { runCacheCompliance } from './compliance.js';

runCacheCompliance('sqlite', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tp-cache-sqlite-'));
  const clock = newFakeClock(new Date('2026-01-01T00:00:00Z'));
  const backend = await openSqliteBackend({ path: dir, clock, sweepIntervalMs: 0 });
  return {
    backend,
    clock,
    newBackend: () => openSqliteBackend({ path: dir, clock, sweepIntervalMs: 0 }),
    cleanup: async () => {
      await backend.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});
