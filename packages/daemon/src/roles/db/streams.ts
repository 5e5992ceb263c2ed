/**
 * The db agent's side of the reverse tunnel: every stream the proxy opens is read as a database stream, matched to
 * a database this agent serves, and handed to the engine of that database's protocol.
 */

import type { Duplex } from 'node:stream';
import { NotFoundError, redact } from '@teleport-ts/core/errors';
import type { TunnelStreamMeta } from '@teleport-ts/core/tunnel';
import type { Logger } from '../../logger.js';
import type { DatabaseSpec } from './config.js';
import type { EngineRegistry } from './engines/registry.js';
import { parseDatabaseStreamMeta } from './wire.js';

export interface DatabaseStreams {
  /** The tunnel agent's `onStream`: throws (the proxy sees the error) for a stream that is not for a served database. */
  onStream(rawMeta: TunnelStreamMeta, stream: Duplex): void;
  /** Streams being served now. */
  readonly active: ReadonlySet<Duplex>;
  /** Ends every stream being served. */
  destroyAll(): void;
}

/**
 * @example
 * ```ts
 * const streams = newDatabaseStreams({ databases, engines, logger });
 * startTunnelAgent({ connect, onStream: streams.onStream });
 * ```
 */
export function newDatabaseStreams(options: { databases: readonly DatabaseSpec[]; engines: EngineRegistry; logger: Logger }): DatabaseStreams {
  const byName = new Map(options.databases.map((d) => [d.name, d]));
  const active = new Set<Duplex>();
  const { logger } = options;
  return {
    onStream(rawMeta, stream) {
      const meta = parseDatabaseStreamMeta(rawMeta);
      const database = byName.get(meta.service);
      if (database === undefined) {
        throw new NotFoundError(`database ${JSON.stringify(meta.service)} is not served by this database service`, { hint: 'tctl db ls lists which service serves it' });
      }
      const engine = options.engines.engineFor(database.protocol);
      active.add(stream);
      void engine
        .handleConnection({ database, meta, stream })
        .catch((err: unknown) => {
          logger.error('database session failed', { db_service: database.name, error: redact((err as Error).message) });
          stream.destroy();
        })
        .finally(() => active.delete(stream));
    },
    active,
    destroyAll() {
      for (const stream of active) stream.destroy();
    },
  };
}
