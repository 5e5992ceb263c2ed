import path from 'node:path';
import { BadParameterError } from '../errors/index.js';
import { systemClock, type Clock } from '../clock/index.js';
import type { Backend, StorageConfig } from './types.js';

export interface OpenBackendOptions {
  storage: StorageConfig;
  /** The node's data dir; the sqlite default lives in `<dataDir>/backend`. */
  dataDir: string;
  clock?: Clock;
}

/**
 * Opens the configured driver. Drivers are loaded on demand so that importing core never loads
 * `pg` or `better-sqlite3` unless that driver is used.
 *
 * @example
 * ```ts
 * const bk = await openBackend({ storage: { type: 'sqlite' }, dataDir: '/var/lib/teleport' });
 * ```
 */
export async function openBackend(options: OpenBackendOptions): Promise<Backend> {
  const clock = options.clock ?? systemClock;
  const s = options.storage;
  switch (s.type) {
    case 'memory': {
      const { newMemoryBackend } = await import('./memory/index.js');
      return newMemoryBackend({ clock });
    }
    case 'sqlite':
    case 'dir': {
      const { openSqliteBackend } = await import('./sqlite/index.js');
      return openSqliteBackend({ path: s.path ?? path.join(options.dataDir, 'backend'), clock });
    }
    case 'postgres':
    case 'postgresql': {
      if (!s.conn_string) throw new BadParameterError('storage.conn_string is required for storage type postgres');
      const { openPostgresBackend } = await import('./postgres/index.js');
      return openPostgresBackend({ connString: s.conn_string, changeFeedConnString: s.change_feed_conn_string, clock });
    }
    case 'cockroachdb': {
      if (!s.conn_string) throw new BadParameterError('storage.conn_string is required for storage type cockroachdb');
      const { openCockroachBackend } = await import('./cockroachdb/index.js');
      return openCockroachBackend({
        connString: s.conn_string,
        changeFeedConnString: s.change_feed_conn_string,
        ttlJobCron: s.ttl_job_cron,
        clock,
      });
    }
    default:
      throw new BadParameterError(
        `unsupported storage type ${JSON.stringify((s as { type: unknown }).type)}`,
        { hint: 'use one of: sqlite, dir, postgres, postgresql, cockroachdb' },
      );
  }
}
