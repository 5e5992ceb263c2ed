/**
 * Which agents may serve a database session at the proxy: the `db_server` heartbeats (read from the auth server,
 * reused for a second), narrowed to agents reachable from here (a reverse tunnel here, or a peer proxy that has one)
 * and no lock in force, in random order.
 */

import { randomInt } from 'node:crypto';
import type { AuthClient, DatabaseServer } from '@teleport-ts/core/api';
import { ConnectionProblemError, NotFoundError } from '@teleport-ts/core/errors';
import type { LockWatcher } from '../lockwatcher.js';
import type { AgentRouter } from './agents.js';

/** How long the list of database servers is reused. */
const DB_SERVERS_MAX_AGE_MS = 1_000;
/** A database missing from a list at least this old makes the proxy read the list again. */
const DB_SERVERS_MISS_REFRESH_MS = 100;

export interface DatabaseServerDirectory {
  /** Live agents serving `name`, shuffled; throws NotFound, ConnectionProblem or the lock's AccessDenied naming the database. */
  liveServers(name: string): Promise<DatabaseServer[]>;
}

interface DirectoryState {
  auth: Pick<AuthClient, 'getDatabaseServers'>;
  agents: Pick<AgentRouter, 'reaches' | 'settle'>;
  locks: Pick<LockWatcher, 'isLocked' | 'assertNotLocked'>;
  list: { at: number; servers: readonly DatabaseServer[] } | undefined;
  pending: Promise<readonly DatabaseServer[]> | undefined;
}

function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Reads the list once for every caller waiting on it. Ages are real time (freshness), not the injected clock. */
function fetchServers(state: DirectoryState): Promise<readonly DatabaseServer[]> {
  state.pending ??= state.auth
    .getDatabaseServers()
    .then((servers) => {
      state.list = { at: performance.now(), servers };
      return servers;
    })
    .finally(() => {
      state.pending = undefined;
    });
  return state.pending;
}

async function serversFor(state: DirectoryState, name: string): Promise<DatabaseServer[]> {
  const cached = state.list;
  const age = cached === undefined ? Number.POSITIVE_INFINITY : performance.now() - cached.at;
  const fresh = cached !== undefined && age < DB_SERVERS_MAX_AGE_MS;
  let matching = (fresh ? cached.servers : await fetchServers(state)).filter((s) => s.metadata.name === name);
  // Not there in a list that is not brand new: the agent may have just announced it.
  if (matching.length === 0 && fresh && age >= DB_SERVERS_MISS_REFRESH_MS) matching = (await fetchServers(state)).filter((s) => s.metadata.name === name);
  return matching;
}

async function liveServers(state: DirectoryState, name: string): Promise<DatabaseServer[]> {
  const servers = await serversFor(state, name);
  if (servers.length === 0) {
    throw new NotFoundError(`database "${name}" not found`, { hint: 'tctl db ls (or tsh db ls) lists the databases of the cluster' });
  }
  // A proxy that just restarted gives the agents a moment to dial it again before it says none is connected.
  await state.agents.settle(servers.map((s) => s.spec.host_id));
  const connected = servers.filter((s) => state.agents.reaches(s.spec.host_id, s.spec.proxy_ids));
  const live = connected.filter((s) => !state.locks.isLocked({ serverId: s.spec.host_id }));
  if (live.length === 0 && connected.length > 0) {
    // Every agent serving it is locked: say so, with the lock's message.
    state.locks.assertNotLocked({ serverId: connected[0]!.spec.host_id });
  }
  if (live.length === 0) {
    throw new ConnectionProblemError(`database "${name}" is not available: no database service serving it is connected to the proxy`, {
      hint: 'check that the database service (teleport-ts start --roles=db) is running and can reach the proxy',
    });
  }
  return shuffled(live);
}

/** @example `const directory = newDatabaseServerDirectory({ auth, agents, locks }); await directory.liveServers('orders');` */
export function newDatabaseServerDirectory(options: Pick<DirectoryState, 'auth' | 'agents' | 'locks'>): DatabaseServerDirectory {
  const state: DirectoryState = { ...options, list: undefined, pending: undefined };
  return { liveServers: (name) => liveServers(state, name) };
}
