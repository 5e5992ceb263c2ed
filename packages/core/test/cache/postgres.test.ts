import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, usePostgres, type PostgresServer } from '@teleport-ts/testkit';
import { newFakeClock } from '../../src/clock/index.js';
import { openPostgresBackend } from '../../src/backend/postgres/index.js';
import { startBackendCache } from '../../src/cache/index.js';
import { newAccessService } from '../../src/services/index.js';
import { parseRole } from '../../src/types/index.js';
import { eventually, runCacheCompliance } from './compliance.js';

describe('cache on postgres', () => {
  const server = usePostgres();
  runCacheCompliance('postgres', async () => {
    const clock = newFakeClock(new Date('2026-01-01T00:00:00Z'));
    const open = () => openPostgresBackend({ connString: server.server.url('teleport_cache', { sslmode: 'disable' }), clock, sweepIntervalMs: 0 });
    const backend = await open();
    return { backend, clock, newBackend: open, cleanup: () => backend.close() };
  });
});

describe('cache on postgres while the server is stopped', () => {
  let pg: PostgresServer | undefined;
  beforeAll(async () => {
    pg = await startPostgres();
  });
  afterAll(async () => {
    await pg?.destroy();
  });

  it('keeps answering from memory, fails writes with connection-problem, and recovers on its own', async () => {
    const backend = await openPostgresBackend({
      connString: pg!.url('teleport_outage', { sslmode: 'disable' }),
      retry: { budgetMs: 1_000 },
      changeFeed: { reconnectBaseMs: 50, reconnectMaxMs: 500, heartbeatMs: 200 },
    });
    // A long probe interval: once the backend is back, this process's own writes must be read back at once anyway.
    const cache = startBackendCache({ backend, prefixes: ['/roles/'], backoff: { baseMs: 50, maxMs: 500 }, downProbeIntervalMs: 60_000 });
    try {
      expect(await cache.whenReady(5_000)).toBe(true);
      const roles = newAccessService(cache.cached);
      await roles.createRole(parseRole({ kind: 'role', version: 'v7', metadata: { name: 'dba' }, spec: { allow: { db_labels: { '*': '*' } } } }));
      expect((await roles.getRole('dba')).metadata.name).toBe('dba');

      await pg!.stop();
      await eventually(() => cache.state() === 'stale');
      // Reads: from memory, quickly (the first one waits at most the stale-read timeout).
      const started = performance.now();
      for (let i = 0; i < 20; i++) expect((await roles.getRole('dba')).metadata.name).toBe('dba');
      expect(performance.now() - started).toBeLessThan(2_000);
      expect((await roles.getRoles()).map((r) => r.metadata.name)).toContain('dba');
      // Writes: a one-line connection-problem.
      const failed = await roles.deleteRole('dba').then(
        () => undefined,
        (err: unknown) => err as Error & { kind?: string },
      );
      expect(failed?.kind).toBe('connection-problem');
      expect(failed?.message).not.toContain('\n');

      await pg!.start();
      const recovered = await eventually(() => cache.state() === 'ready', 10_000);
      expect(recovered).toBeLessThan(10_000);
      expect(cache.initialisations()).toBe(2);
      await roles.deleteRole('dba');
      await expect(roles.getRole('dba')).rejects.toMatchObject({ kind: 'not-found' });
    } finally {
      await cache.close();
      await backend.close();
    }
  }, 40_000);
});
