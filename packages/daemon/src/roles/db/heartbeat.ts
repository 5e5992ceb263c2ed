/**
 * The db agent's `db_server` heartbeats: one per database it serves, announced for `ttlMs` and renewed every
 * `intervalMs` (after a failure, sooner: a jittered, growing delay from 0.5-1 s, `../heartbeat-timing.ts`), until closed.
 */

import type { AuthClient } from '@teleport-ts/core/api';
import { redact } from '@teleport-ts/core/errors';
import { VERSION } from '@teleport-ts/core/version';
import type { Logger } from '../../logger.js';
import { DEFAULT_HEARTBEAT, heartbeatRetryDelay } from '../heartbeat-timing.js';
import type { DatabaseSpec } from './config.js';

/** Defaults of the `db_server` heartbeat: renewed every 60 s, kept for 90 s ({@link DEFAULT_HEARTBEAT}). */
export const DEFAULT_DB_HEARTBEAT = DEFAULT_HEARTBEAT;

export interface DatabaseHeartbeatOptions {
  auth: Pick<AuthClient, 'upsertDatabaseServer'>;
  hostId: string;
  nodename: string;
  databases: readonly DatabaseSpec[];
  heartbeat: { ttlMs: number; intervalMs: number };
  logger: Logger;
  /** The proxies the agent holds a tunnel to now, sent with every heartbeat. */
  proxyIds?: () => readonly string[];
}

export interface DatabaseHeartbeats {
  /** Resolves once every database was announced once. */
  readonly firstAnnounced: Promise<void>;
  /** Announces every database again now (the agent's proxies changed). */
  refresh(): void;
  /** Stops announcing (the `db_server`s expire with their TTL). */
  close(): void;
}

interface HeartbeatState extends DatabaseHeartbeatOptions {
  closed: boolean;
  timers: Set<NodeJS.Timeout>;
  /** Bumped by `refresh`: a beat of an older generation does not schedule the next one. */
  generation: number;
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
    ...(state.proxyIds !== undefined ? { proxyIds: state.proxyIds() } : {}),
  });
}

/** Announces one database now and schedules the next beat; resolves `onFirst` after the first success. */
async function beat(state: HeartbeatState, database: DatabaseSpec, onFirst: { done: boolean; resolve: () => void; failures: number }): Promise<void> {
  const generation = state.generation;
  let delay = state.heartbeat.intervalMs;
  try {
    await announce(state, database);
    onFirst.failures = 0;
    if (!onFirst.done) {
      onFirst.done = true;
      onFirst.resolve();
      state.logger.info('database announced', { db_service: database.name, protocol: database.protocol });
    }
  } catch (err) {
    delay = heartbeatRetryDelay(++onFirst.failures, state.heartbeat.intervalMs);
    if (!state.closed) state.logger.warn('database heartbeat failed, retrying', { db_service: database.name, error: redact((err as Error).message) });
  }
  if (state.closed || generation !== state.generation) return;
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
  const state: HeartbeatState = { ...options, closed: false, timers: new Set(), generation: 0 };
  const firsts = options.databases.map((database) => {
    const onFirst = { done: false, resolve: () => {}, failures: 0 };
    const promise = new Promise<void>((resolve) => {
      onFirst.resolve = resolve;
    });
    void beat(state, database, onFirst);
    return { database, onFirst, promise };
  });
  return {
    firstAnnounced: Promise.all(firsts.map((f) => f.promise)).then(() => undefined),
    refresh() {
      if (state.closed) return;
      state.generation++;
      for (const timer of state.timers) clearTimeout(timer);
      state.timers.clear();
      for (const { database, onFirst } of firsts) void beat(state, database, onFirst);
    },
    close() {
      state.closed = true;
      for (const timer of state.timers) clearTimeout(timer);
      state.timers.clear();
    },
  };
}
