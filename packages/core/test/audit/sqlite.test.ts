import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { newFakeClock } from '../../src/clock/index.js';
import { openAuditStore, openSqliteAuditStore } from '../../src/audit/index.js';
import { eventAt, runAuditStoreCompliance } from './compliance.js';

const root = await mkdtemp(path.join(tmpdir(), 'teleport-ts-audit-sqlite-'));
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

let n = 0;
runAuditStoreCompliance<string>('sqlite', () => ({
  newLocation: async () => path.join(root, `case-${++n}`, 'events.db'),
  open: (file, options) => openSqliteAuditStore({ path: file, ...options }),
}));

describe('sqlite audit store', () => {
  it('defaults to <dataDir>/log/events.db in WAL mode, directory 0700, files 0600', async () => {
    const dataDir = path.join(root, 'data');
    const clock = newFakeClock(new Date('2026-03-01T12:00:00Z'));
    const store = await openAuditStore({ dataDir, clock });
    try {
      const ev = eventAt(0);
      await store.emit(ev);
      const file = path.join(dataDir, 'log', 'events.db');
      expect((await stat(file)).isFile()).toBe(true);
      // WAL mode keeps a -wal file beside the database while a connection is open.
      expect((await stat(`${file}-wal`)).isFile()).toBe(true);
      expect((await stat(path.join(dataDir, 'log'))).mode & 0o777).toBe(0o700);
      // The log holds users' queries: private, like the backend's file.
      for (const f of [file, `${file}-wal`, `${file}-shm`]) expect(((await stat(f)).mode & 0o777).toString(8)).toBe('600');
      const { events } = await store.search({ from: new Date(0), to: new Date('2100-01-01'), limit: 10, order: 'asc' });
      expect(events).toEqual([ev]);
    } finally {
      await store.close();
    }
  });

  it('maps file:// to events.db inside the directory, like Teleport\'s <data_dir>/log', async () => {
    const dir = path.join(root, 'file-uri');
    const store = await openAuditStore({ uris: [`file://${dir}`], dataDir: path.join(root, 'unused') });
    try {
      await store.emit(eventAt(0));
      expect((await stat(path.join(dir, 'events.db'))).isFile()).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('fails to open an unusable path as a connection problem naming the file', async () => {
    const blocker = path.join(root, 'blocker');
    const s = await openSqliteAuditStore({ path: blocker });
    await s.close();
    const err = await openSqliteAuditStore({ path: path.join(blocker, 'events.db') }).then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ kind: 'connection-problem' });
    expect((err as Error).message).toContain(path.join(blocker, 'events.db'));
  });
});
