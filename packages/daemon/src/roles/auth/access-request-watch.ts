/**
 * The access request watch stream plugins follow (`GET /v1/accessrequests/watch`): NDJSON, one event a line —
 * `{"type":"init"}` once the stream sees every change, then `{"type":"put","request":...}` and
 * `{"type":"delete","id":...}` from a backend watcher on `/access_requests/`, each filtered to what the caller may
 * see (their own requests, those they may review, or all with `read` on `access_request`), and a
 * `{"type":"ping"}` every 15 s so that proxies keep the connection open. Bounded: a few streams per caller, and a
 * client that stops reading falls behind the watcher's queue, which then closes and ends the stream.
 */

import type { ServerResponse } from 'node:http';
import { decodeJson } from '@teleport-ts/core/services';
import { LimitExceededError } from '@teleport-ts/core/errors';
import { accessRequestToWire, parseAccessRequest, type AccessRequest } from '@teleport-ts/core/types';
import type { BackendEvent, Watcher } from '@teleport-ts/core/backend';
import { streamResult, type StreamResult } from '../../http/router.js';
import { requireAuthenticated, type AuthenticatedCaller, type Caller } from './authz.js';
import type { AuthContext } from './context.js';
import { reviewerOf, visibleTo } from './access-requests.js';

/** Open watch streams one caller (user or host) may hold. */
export const MAX_WATCHERS_PER_CALLER = 8;
/** A `{"type":"ping"}` line this often. */
const HEARTBEAT_MS = 15_000;
const PREFIX = '/access_requests/';

/** Open streams per auth context and caller name. */
const open = new WeakMap<AuthContext, Map<string, number>>();

function admit(ctx: AuthContext, name: string): () => void {
  let counts = open.get(ctx);
  if (!counts) open.set(ctx, (counts = new Map()));
  const n = counts.get(name) ?? 0;
  if (n >= MAX_WATCHERS_PER_CALLER) {
    throw new LimitExceededError(`${name} already has ${n} access request watch streams open`, { hint: 'close one first' });
  }
  counts.set(name, n + 1);
  return () => {
    const left = (counts.get(name) ?? 1) - 1;
    if (left <= 0) counts.delete(name);
    else counts.set(name, left);
  };
}

/** Writes one line; waits while the socket's buffer is full (or until the stream is aborted). */
async function writeLine(res: ServerResponse, signal: AbortSignal, value: unknown): Promise<void> {
  if (signal.aborted || res.write(`${JSON.stringify(value)}\n`)) return;
  await new Promise<void>((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    res.once('drain', done);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Per-stream state: who watches, and the ids they were shown (a delete carries only the key). */
interface WatchState {
  ctx: AuthContext;
  caller: AuthenticatedCaller;
  reviewer: Awaited<ReturnType<typeof reviewerOf>>;
  shown: Set<string>;
}

/** The line for one backend event, or `undefined` when the caller may not see it. */
function lineFor(w: WatchState, event: BackendEvent): unknown {
  if (event.type === 'init') return { type: 'init' };
  const id = event.item.key.slice(PREFIX.length);
  if (event.type === 'delete') return w.shown.delete(id) ? { type: 'delete', id } : undefined;
  let request: AccessRequest;
  try {
    request = parseAccessRequest(decodeJson(event.item));
  } catch {
    return undefined;
  }
  if (!visibleTo(w.caller, w.reviewer, request)) return undefined;
  w.shown.add(id);
  return { type: 'put', request: accessRequestToWire(request) };
}

/**
 * Streams a backend watcher as NDJSON: one line per event `lineOf` maps (undefined: nothing to show), a ping line
 * every {@link HEARTBEAT_MS}, until the watcher ends or the client goes. Shared by the auth API's watch streams.
 */
export async function streamWatcher(res: ServerResponse, signal: AbortSignal, watcher: Watcher, lineOf: (event: BackendEvent) => Promise<unknown>): Promise<void> {
  const stop = (): void => watcher.close();
  signal.addEventListener('abort', stop, { once: true });
  // `connection: close`: the connection ends with the stream, so a closing server does not wait on it idling.
  res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store', 'x-accel-buffering': 'no', connection: 'close' });
  const heartbeat = setInterval(() => void writeLine(res, signal, { type: 'ping' }), HEARTBEAT_MS).unref();
  try {
    for await (const event of watcher) {
      const line = await lineOf(event);
      if (line !== undefined) await writeLine(res, signal, line);
      if (signal.aborted) break;
    }
  } finally {
    clearInterval(heartbeat);
    signal.removeEventListener('abort', stop);
    watcher.close();
  }
}

async function runWatch(w: WatchState, res: ServerResponse, signal: AbortSignal): Promise<void> {
  const watcher = await w.ctx.backend.newWatcher({ prefixes: [PREFIX], name: `access request watch ${w.caller.username}`, queueSize: 1024 });
  await streamWatcher(res, signal, watcher, async (event) => {
    // Requests that exist when the stream starts: a later delete of one the caller may see is shown.
    if (event.type === 'init') for (const r of await w.ctx.accessRequests.getAccessRequests()) if (visibleTo(w.caller, w.reviewer, r)) w.shown.add(r.metadata.name);
    return lineFor(w, event);
  });
}

/** `GET /v1/accessrequests/watch`: any authenticated caller; each sees only the requests they may see. */
export async function watchAccessRequests(ctx: AuthContext, caller: Caller): Promise<StreamResult> {
  const authed = requireAuthenticated(caller);
  const w: WatchState = { ctx, caller: authed, reviewer: await reviewerOf(ctx, authed), shown: new Set() };
  const release = admit(ctx, authed.username);
  return streamResult(async (res, signal) => {
    try {
      await runWatch(w, res, signal);
    } finally {
      release();
    }
  });
}
