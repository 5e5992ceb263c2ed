/**
 * The backend watch over the auth API, after Teleport's `WatchEvents`: what a proxy or an agent without a backend of
 * its own feeds its cache with (`core/cache` over `newRemoteBackend`).
 *
 * - `GET /v1/backend/watch?prefix=/roles/&prefix=/locks/`: NDJSON, one event a line — `{"type":"init"}` once the
 *   stream sees every change, then `{"type":"put","item":{key,value(base64),expires?,revision}}` and
 *   `{"type":"delete","key":...}` in commit order, and `{"type":"ping"}` every 15 s.
 * - `GET /v1/backend/items?start=&end=&limit=`: the range read a cache initialises from (served from this auth
 *   server's own cache, so it answers while the backend is down).
 *
 * Scoped by the caller's system role: a proxy may read CAs (never their private keys: every CA item is stripped),
 * roles, locks, database servers, nodes, proxies and the cluster configuration; an agent (Db, Node) CAs, roles, locks,
 * proxies (whose heartbeats its reverse tunnels follow, as `GET /proxies` already allowed) and the cluster configuration. Users, password hashes, join tokens and anything else are never served. Bounded:
 * a few streams per caller; a client that stops reading falls behind the watcher's queue, which ends the stream.
 */

import type { ServerResponse } from 'node:http';
import { MAX_RANGE_LIMIT, type BackendEvent, type Item } from '@teleport-ts/core/backend';
import { rangeWithin } from '@teleport-ts/core/cache';
import { withoutSecrets, type CertAuthority } from '@teleport-ts/core/ca';
import { AccessDeniedError, BadParameterError, LimitExceededError } from '@teleport-ts/core/errors';
import { decodeJson, encodeJson } from '@teleport-ts/core/services';
import type { SystemRole } from '@teleport-ts/core/types';
import { streamResult, type StreamResult } from '../../http/router.js';
import { streamWatcher } from './access-request-watch.js';
import { requireAuthenticated, type Caller } from './authz.js';
import type { AuthContext } from './context.js';

const CAS = '/authorities/';
const AGENT_PREFIXES = [CAS, '/roles/', '/locks/', '/proxies/', '/cluster_configuration/'] as const;
const PROXY_PREFIXES = [...AGENT_PREFIXES, '/db_servers/', '/nodes/'] as const;

/** What each system role may watch and read. */
const WATCHABLE: Partial<Record<SystemRole, readonly string[]>> = {
  Admin: PROXY_PREFIXES,
  Proxy: PROXY_PREFIXES,
  Db: AGENT_PREFIXES,
  Node: AGENT_PREFIXES,
};

/** Open streams one caller may hold. */
const MAX_STREAMS_PER_CALLER = 8;
const MAX_PREFIXES = 16;

const open = new WeakMap<AuthContext, Map<string, number>>();

function allowedPrefixes(caller: Caller): readonly string[] {
  const authed = requireAuthenticated(caller);
  const allowed = authed.kind === 'builtin' ? WATCHABLE[authed.systemRole] : undefined;
  if (allowed === undefined) {
    throw new AccessDeniedError('access denied: only proxies and agents may follow the backend watch', { hint: 'users follow access requests with /v1/accessrequests/watch' });
  }
  return allowed;
}

/** The prefixes asked for, each inside one the caller may read. */
function checkedPrefixes(caller: Caller, asked: readonly string[]): string[] {
  const allowed = allowedPrefixes(caller);
  if (asked.length === 0 || asked.length > MAX_PREFIXES) throw new BadParameterError(`pass between 1 and ${MAX_PREFIXES} prefix parameters`);
  for (const p of asked) {
    if (!allowed.some((a) => p.startsWith(a))) {
      throw new AccessDeniedError(`access denied: ${JSON.stringify(p.slice(0, 64))} is not among what this caller may watch`, { hint: `watch under ${allowed.join(', ')}` });
    }
  }
  return [...new Set(asked)];
}

/** The item as it may leave the auth server: a CA without its private keys. */
function servable(item: Item): Item | undefined {
  if (!item.key.startsWith(CAS)) return item;
  try {
    return { ...item, value: encodeJson(withoutSecrets(decodeJson(item) as CertAuthority)) };
  } catch {
    return undefined;
  }
}

function itemToWire(item: Item): Record<string, string> {
  return {
    key: item.key,
    value: Buffer.from(item.value).toString('base64'),
    revision: item.revision,
    ...(item.expires ? { expires: item.expires.toISOString() } : {}),
  };
}

function lineFor(event: BackendEvent): unknown {
  if (event.type === 'init') return { type: 'init' };
  if (event.type === 'delete') return { type: 'delete', key: event.item.key };
  const item = servable(event.item);
  return item === undefined ? undefined : { type: 'put', item: itemToWire(item) };
}

function admit(ctx: AuthContext, name: string): () => void {
  let counts = open.get(ctx);
  if (!counts) open.set(ctx, (counts = new Map()));
  const n = counts.get(name) ?? 0;
  if (n >= MAX_STREAMS_PER_CALLER) throw new LimitExceededError(`${name} already has ${n} backend watch streams open`, { hint: 'close one first' });
  counts.set(name, n + 1);
  return () => {
    const left = (counts.get(name) ?? 1) - 1;
    if (left <= 0) counts.delete(name);
    else counts.set(name, left);
  };
}

async function runWatch(ctx: AuthContext, prefixes: string[], who: string, res: ServerResponse, signal: AbortSignal): Promise<void> {
  const watcher = await ctx.backend.newWatcher({ prefixes, name: `backend watch ${who}`, queueSize: 1 << 16 });
  await streamWatcher(res, signal, watcher, async (event) => lineFor(event));
}

/** `GET /v1/backend/watch?prefix=...`: proxies and agents, each within what its system role may read. */
export async function watchBackend(ctx: AuthContext, caller: Caller, asked: readonly string[]): Promise<StreamResult> {
  const prefixes = checkedPrefixes(caller, asked);
  const who = requireAuthenticated(caller).username;
  const release = admit(ctx, who);
  return streamResult(async (res, signal) => {
    try {
      await runWatch(ctx, prefixes, who, res, signal);
    } finally {
      release();
    }
  });
}

/** `GET /v1/backend/items?start=&end=&limit=`: a range inside one prefix the caller may read. */
export async function getBackendItems(ctx: AuthContext, caller: Caller, query: URLSearchParams): Promise<{ items: Record<string, string>[] }> {
  const start = query.get('start') ?? '';
  const end = query.get('end') ?? '';
  const limitText = query.get('limit');
  const limit = limitText === null ? MAX_RANGE_LIMIT : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1) throw new BadParameterError('limit must be a positive integer');
  const allowed = allowedPrefixes(caller);
  const inside = allowed.some((p) => rangeWithin(p, start, end));
  if (!inside) throw new AccessDeniedError('access denied: the range is not inside what this caller may read', { hint: `read under ${allowed.join(', ')}` });
  const { items } = await ctx.cache.getRange(start, end, Math.min(limit, MAX_RANGE_LIMIT));
  return { items: items.flatMap((item) => servable(item) ?? []).map(itemToWire) };
}
