/**
 * What a proxy alone answers on `teleport-auth` while the auth server cannot be reached: the reads a logged-in user's
 * `tsh db ls`, `tsh db connect` and `tsh ls` make (database servers, the user's own roles, nodes), from the proxy's
 * watch-fed cache, with the auth server's RBAC (only what the user's roles let them see) and locks. Everything else
 * (logins, certificates, writes) fails with one line saying the auth server is unreachable. The connection is
 * terminated here with the proxy's host certificate, which carries the auth API's server name
 * (`teleport.cluster.local`) as every Teleport host certificate does.
 */

import http from 'node:http';
import type { Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { AUTH_API_PREFIX, type Identity as HostIdentity } from '@teleport-ts/core/api';
import { trustedTlsCerts, verifyTlsCert, type Identity } from '@teleport-ts/core/ca';
import type { Clock } from '@teleport-ts/core/clock';
import { AccessDeniedError, ConnectionProblemError, isTeleportError, kindToHttpStatus, toWireError, type TeleportError } from '@teleport-ts/core/errors';
import { newAccessChecker, type AccessChecker } from '@teleport-ts/core/rbac';
import { assertNoLockInForce, nodeLabels, nodeToWire, roleToWire } from '@teleport-ts/core/types';
import type { CachedReads } from '../remote-cache.js';
import type { ProxyLogger } from './service.js';

export interface AuthFallbackOptions {
  identity: HostIdentity;
  clusterName: string;
  reads: CachedReads;
  clock: Clock;
  log: ProxyLogger;
  handshakeMs: number;
}

interface Caller {
  identity: Identity;
  checker: AccessChecker;
}

/**
 * Every answer closes its connection: the client's next request dials again and reaches the auth server once it is
 * back. (A kept-alive connection stays with the fallback: an agent that calls every few seconds would never leave it.)
 */
function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', connection: 'close' });
  res.end(text);
}

function sendError(res: http.ServerResponse, err: TeleportError): void {
  send(res, kindToHttpStatus(err.kind), { error: toWireError(err) });
}

const unreachable = (what: string): ConnectionProblemError =>
  new ConnectionProblemError(`the auth server is unreachable: the proxy cannot ${what} without it`, { hint: 'try again when the auth server is back' });

/** The user behind the client certificate, checked against the user CA and the locks the cache holds. */
async function callerOf(socket: TLSSocket, options: AuthFallbackOptions): Promise<Caller> {
  const peer = socket.getPeerX509Certificate();
  if (peer === undefined) throw new AccessDeniedError('access denied: a client certificate is required');
  const cas = (await options.reads.getCertAuthorities('user')).filter((ca) => ca.spec.cluster_name === options.clusterName);
  let identity: Identity;
  try {
    identity = verifyTlsCert(peer.raw, { trustedCaCerts: cas.flatMap(trustedTlsCerts), clock: options.clock, usage: 'clientAuth' }).identity;
  } catch {
    // Not a user of this cluster (an agent's host certificate, an expired one): only the auth server can answer it.
    throw unreachable('answer this caller');
  }
  if (identity.teleportCluster !== options.clusterName) throw unreachable('answer this caller');
  assertNoLockInForce(await options.reads.getLocks(), { user: identity.username, roles: identity.roles }, options.clock.now());
  const roles = await Promise.all(identity.roles.map((name) => options.reads.getRole(name)));
  return { identity, checker: newAccessChecker({ roles, traits: identity.traits }) };
}

/** The reads served from the cache, by path; `undefined` for anything else. */
async function answer(caller: Caller, method: string, path: string, reads: CachedReads): Promise<unknown> {
  if (method !== 'GET') return undefined;
  if (path === `${AUTH_API_PREFIX}/dbservers`) {
    return { items: (await reads.getDatabaseServers()).filter((s) => caller.checker.isDatabaseVisible(s.spec.database.metadata.labels ?? {})) };
  }
  if (path === `${AUTH_API_PREFIX}/nodes`) {
    return { items: (await reads.getNodes()).filter((n) => caller.checker.isNodeVisible(nodeLabels(n))).map(nodeToWire) };
  }
  const role = path.startsWith(`${AUTH_API_PREFIX}/roles/`) ? decodeURIComponent(path.slice(`${AUTH_API_PREFIX}/roles/`.length)) : undefined;
  // A user may read their own roles (the auth server lets them too); others need the auth server's RBAC.
  if (role !== undefined && caller.identity.roles.includes(role)) return roleToWire(await reads.getRole(role));
  return undefined;
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse, options: AuthFallbackOptions): Promise<void> {
  const path = new URL(req.url ?? '/', 'https://proxy').pathname;
  try {
    const caller = await callerOf(req.socket as TLSSocket, options);
    const body = await answer(caller, req.method ?? 'GET', path, options.reads);
    if (body === undefined) throw unreachable(`answer ${req.method ?? 'GET'} ${path.slice(0, 80)}`);
    send(res, 200, body);
  } catch (err) {
    sendError(res, isTeleportError(err) ? err : unreachable('answer this request'));
  }
}

/**
 * Serves a `teleport-auth` connection (raw, TLS not yet terminated) from the cache.
 *
 * @example
 * ```ts
 * const fallback = newAuthFallback({ identity, clusterName, reads: cache.reads, clock, log, handshakeMs: 10_000 });
 * spliceTo(authTarget, onError, fallback.serve);
 * ```
 */
export function newAuthFallback(options: AuthFallbackOptions): { serve(socket: Socket): void; close(): void } {
  const web = http.createServer({ keepAliveTimeout: 5_000 }, (req, res) => void handle(req, res, options));
  const tls = createTlsServer(
    {
      key: options.identity.key,
      cert: options.identity.cert,
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
      ALPNProtocols: ['teleport-auth', 'http/1.1'],
      handshakeTimeout: options.handshakeMs,
    },
    (socket) => web.emit('connection', socket),
  );
  tls.on('tlsClientError', (_err, socket) => socket.destroy());
  const sockets = new Set<Socket>();
  return {
    serve(socket) {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      options.log.info('auth server unreachable, answering a teleport-auth connection from the cache', { remote_addr: `${socket.remoteAddress ?? ''}:${socket.remotePort ?? 0}` });
      tls.emit('connection', socket);
    },
    close() {
      for (const s of sockets) s.destroy();
      web.close();
    },
  };
}
