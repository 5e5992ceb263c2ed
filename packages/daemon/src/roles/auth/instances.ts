/**
 * Host identities after the join: a host renews its own certificates (before they expire, and when a host CA
 * rotation moves the signing key), and reports which rotation of the host and user CAs it caught up with
 * (`/instances/<host_id>/<role>`, with an expiry), so that `tctl auth rotate status` can name the agents and proxies
 * that have not picked up the current CA yet.
 */

import type { HostCerts, Instance } from '@teleport-ts/core/api';
import { key } from '@teleport-ts/core/backend';
import { AccessDeniedError } from '@teleport-ts/core/errors';
import { decodeJson, encodeJson, getAllWithPrefix } from '@teleport-ts/core/services';
import { streamResult, type StreamResult } from '../../http/router.js';
import { authorize, hostIdOf, requireAuthenticated, requireSystemRole, type Caller } from './authz.js';
import { issueJoinCerts } from './certs.js';
import type { AuthContext } from './context.js';
import { parseBody, ReissueHostCertsBody, UpsertInstanceBody } from './requests.js';

/** Backend prefix of instance reports. */
const INSTANCES_PREFIX = '/instances/';
/** A report is kept this long without a new one (agents report on every change and every minute). */
const DEFAULT_INSTANCE_TTL_MS = 10 * 60_000;
/** The hosts that renew their identity through the API (the auth server issues its own in process). */
const RENEWING_ROLES = ['Db', 'Node', 'Proxy'] as const;

/**
 * New host certificates for the calling host: same host id and system role as its certificate (which must still be
 * valid: the caller was identified with it), new keys, signed by the host CA's current signing key.
 */
export async function reissueHostCerts(ctx: AuthContext, caller: Caller, rawBody: unknown): Promise<HostCerts> {
  const host = requireSystemRole(caller, ...RENEWING_ROLES);
  const body = parseBody(ReissueHostCertsBody, rawBody);
  const hostId = hostIdOf(host.username, ctx.clusterName);
  const certs = await issueJoinCerts(ctx, {
    hostId,
    nodeName: body.nodeName,
    role: host.systemRole,
    principals: body.additionalPrincipals ?? [],
    tlsPublicKey: body.tlsPublicKey,
    sshPublicKey: body.sshPublicKey,
  });
  ctx.logger.info('host certificates renewed', { host_id: hostId, role: host.systemRole });
  return certs;
}

/** A process's report about itself: host id and role from its certificate. */
export async function upsertInstance(ctx: AuthContext, caller: Caller, roleParam: string, rawBody: unknown): Promise<Instance> {
  const host = requireSystemRole(caller, ...RENEWING_ROLES);
  const body = parseBody(UpsertInstanceBody, rawBody);
  if (body.role !== roleParam || body.role !== host.systemRole) {
    throw new AccessDeniedError('access denied: a host may only report on its own identity (role differs from its certificate)');
  }
  const hostId = hostIdOf(host.username, ctx.clusterName);
  const now = ctx.clock.now();
  const expires = new Date(now.getTime() + (body.ttl ?? DEFAULT_INSTANCE_TTL_MS));
  const instance: Instance = {
    kind: 'instance',
    version: 'v1',
    metadata: { name: `${hostId}/${body.role}`, expires: expires.toISOString() },
    spec: {
      host_id: hostId,
      hostname: body.hostname,
      role: body.role,
      last_seen: now.toISOString(),
      ...(body.host ? { host: { ...(body.host.current_id ? { current_id: body.host.current_id } : {}), phase: body.host.phase } } : {}),
      ...(body.user ? { user: { ...(body.user.current_id ? { current_id: body.user.current_id } : {}), phase: body.user.phase } } : {}),
    },
  };
  await ctx.backend.put({ key: key('instances', hostId, body.role), value: encodeJson(instance), expires });
  return instance;
}

/** Every live report, by host id and role (admins: `instance` list/read). */
export async function getInstances(ctx: AuthContext, caller: Caller): Promise<{ items: Instance[] }> {
  authorize(caller, 'instance', 'list', 'read');
  const items = (await getAllWithPrefix(ctx.backend, INSTANCES_PREFIX)).map((item) => decodeJson(item) as Instance);
  items.sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0));
  return { items };
}

/** Followers of CA changes, per auth context: fed by the auth server's own watch on `/authorities/`. */
const trustFollowers = new WeakMap<AuthContext, Set<() => void>>();

/** Tells every open CA watch stream of this auth server that a CA changed (the auth server's watcher calls it). */
export function notifyTrustFollowers(ctx: AuthContext): void {
  for (const follow of trustFollowers.get(ctx) ?? []) follow();
}

/** A `{"type":"ping"}` line this often, so that proxies and load balancers keep the stream open. */
const CA_WATCH_HEARTBEAT_MS = 15_000;

/**
 * `GET /v1/cas/watch`: NDJSON, `{"type":"init"}` then `{"type":"change"}` whenever a CA changes (a rotation moved),
 * so agents follow rotations at once instead of polling. Any authenticated caller (CAs without secrets are public
 * to them); one stream per process fans out from the auth server's single backend watch.
 */
export function watchCertAuthorities(ctx: AuthContext, caller: Caller): StreamResult {
  requireAuthenticated(caller);
  return streamResult(async (res, signal) => {
    let followers = trustFollowers.get(ctx);
    if (!followers) trustFollowers.set(ctx, (followers = new Set()));
    let wake: (() => void) | undefined;
    let pending = false;
    const follow = (): void => {
      pending = true;
      wake?.();
    };
    followers.add(follow);
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store', 'x-accel-buffering': 'no', connection: 'close' });
    res.write('{"type":"init"}\n');
    const heartbeat = setInterval(() => res.write('{"type":"ping"}\n'), CA_WATCH_HEARTBEAT_MS).unref();
    try {
      while (!signal.aborted) {
        if (!pending) await new Promise<void>((resolve) => ((wake = resolve), signal.addEventListener('abort', () => resolve(), { once: true })));
        wake = undefined;
        if (pending && !signal.aborted) {
          pending = false;
          res.write('{"type":"change"}\n');
        }
      }
    } finally {
      clearInterval(heartbeat);
      followers.delete(follow);
    }
  });
}
