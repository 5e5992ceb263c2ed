/**
 * The db agent's `db_server` heartbeats: one per database it serves, announced for `ttlMs` and renewed every
 * `intervalMs` (sooner after a failure), until closed.
 */

import type { AuthClient } from '@teleport-ts/core/api';
import { redact } from '@teleport-ts/core/errors';
import { VERSION } from '@teleport-ts/core/version';
import type { Logger } from '../../logger.js';
import type { DatabaseSpec } from './config.js';

/** Defaults of the `db_server` heartbeat: announced for 60 s, renewed every 20 s (two may be missed). */
export const DEFAULT_DB_HEARTBEAT = Object.freeze({ ttlMs: 60_000, intervalMs: 20_000 });
/** Delay before retrying a heartbeat the auth server did not take. */
const HEARTBEAT_RETRY_MS = 5_000;

export interface DatabaseHeartbeatOptions {
  auth: Pick<AuthClient, 'upsertDatabaseServer'>;
  hostId: string;
  nodename: string;
  databases: readonly DatabaseSpec[];
  heartbeat: { ttlMs: number; intervalMs: number };
  logger: Logger;
}

export interface DatabaseHeartbeats {
  /** Resolves once every database was announced once. */
  readonly firstAnnounced: Promise<void>;
  /** Stops announcing (the `db_server`s expire with their TTL). */
  close(): void;
}

interface HeartbeatState extends DatabaseHeartbeatOptions {
  closed: boolean;
  timers: Set<NodeJS.Timeout>;
}

function announce(state: HeartbeatState, database: DatabaseSpec): Promise<unknown> {
  return state.auth.upsertDatabaseServer({
    hostId: state.hostId,
    hostname: state.nodename,
    version: VERSION,
    database: {
      name: database.name,
      ...(database.description !== '' ? { description: database.description } : {}),
      protocol: database.protocol,
      uri: database.uri,
      labels: database.labels,
    },
    ttl: state.heartbeat.ttlMs,
  });
}

/** Announces one database now and schedules the next beat; resolves `onFirst` after the first success. */
async function beat(state: HeartbeatState, database: DatabaseSpec, onFirst: { done: boolean; resolve: () => void }): Promise<void> {
  let delay = state.heartbeat.intervalMs;
  try {
    await announce(state, database);
    if (!onFirst.done) {
      onFirst.done = true;
      onFirst.resolve();
      state.logger.info('database announced', { db_service: database.name, protocol: database.protocol });
    }
  } catch (err) {
    delay = Math.min(HEARTBEAT_RETRY_MS, state.heartbeat.intervalMs);
    if (!state.closed) state.logger.warn('database heartbeat failed, retrying', { db_service: database.name, error: redact((err as Error).message) });
  }
  if (state.closed) return;
  const timer = setTimeout(() => {
    state.timers.delete(timer);
    void beat(state, database, onFirst);
  }, delay);
  state.timers.add(timer);
}

/**
 * @example
 * ```ts
 * const beats = startDatabaseHeartbeats({ auth, hostId, nodename, databases, heartbeat: DEFAULT_DB_HEARTBEAT, logger });
 * await beats.firstAnnounced;
 * ```
 */
export function startDatabaseHeartbeats(options: DatabaseHeartbeatOptions): DatabaseHeartbeats {
  const state: HeartbeatState = { ...options, closed: false, timers: new Set() };
  const first = options.databases.map(
    (database) =>
      new Promise<void>((resolve) => {
        void beat(state, database, { done: false, resolve });
      }),
  );
  return {
    firstAnnounced: Promise.all(first).then(() => undefined),
    close() {
      state.closed = true;
      for (const timer of state.timers) clearTimeout(timer);
      state.timers.clear();
    },
  };
}
