/**
 * Proxies on the auth server: each proxy heartbeats a `proxy` resource (`/proxies/<host-uuid>`, with an expiry, so
 * a dead proxy drops out by itself); agents read the list to reach every proxy, proxies to find their peers. The
 * tunnel strategy (`auth_service.tunnel_strategy`) is answered from this auth server's configuration.
 */

import type { ProxyServer, TunnelStrategy } from '@teleport-ts/core/api';
import { key } from '@teleport-ts/core/backend';
import { AccessDeniedError, BadParameterError, isNotFound } from '@teleport-ts/core/errors';
import { decodeJson, encodeJson, getAllWithPrefix } from '@teleport-ts/core/services';
import { authorize, hostIdOf, requireAuthenticated, requireSystemRole, type Caller } from './authz.js';
import type { AuthContext } from './context.js';
import { UpsertProxyBody, parseBody } from './requests.js';

/** Backend prefix of proxies: `/proxies/<host-uuid>`. */
const PROXIES_PREFIX = '/proxies/';

/** A heartbeat keeps a proxy listed this long unless it asks otherwise. */
const DEFAULT_PROXY_TTL_MS = 60_000;

/** A proxy's heartbeat of itself: the Proxy system role, for its own host id only. */
export async function upsertProxy(ctx: AuthContext, caller: Caller, nameParam: string, rawBody: unknown): Promise<ProxyServer> {
  const proxy = requireSystemRole(caller, 'Proxy');
  authorize(caller, 'proxy', 'create', 'update');
  const body = parseBody(UpsertProxyBody, rawBody);
  if (body.name !== nameParam) throw new BadParameterError('the proxy name in the body does not match the path');
  if (body.name !== hostIdOf(proxy.username, ctx.clusterName)) {
    throw new AccessDeniedError('access denied: a proxy may only heartbeat itself (name differs from its certificate)');
  }
  const expires = new Date(ctx.clock.now().getTime() + (body.ttl ?? DEFAULT_PROXY_TTL_MS));
  const server: ProxyServer = {
    kind: 'proxy',
    version: 'v2',
    metadata: { name: body.name, expires: expires.toISOString() },
    spec: {
      hostname: body.hostname,
      public_addr: body.publicAddr,
      ...(body.peerAddr !== undefined ? { peer_addr: body.peerAddr } : {}),
      version: (body.version ?? '').slice(0, 64),
    },
  };
  await ctx.backend.put({ key: key('proxies', body.name), value: encodeJson(server), expires });
  return server;
}

/** Live proxies, by name: hosts with `proxy` list/read (Admin, Proxy, Db, Node). */
export async function getProxies(ctx: AuthContext, caller: Caller): Promise<{ items: ProxyServer[] }> {
  authorize(caller, 'proxy', 'list', 'read');
  const items = await getAllWithPrefix(ctx.cache, PROXIES_PREFIX);
  const proxies = items.map((item) => {
    const server = decodeJson(item) as ProxyServer;
    if (item.expires) server.metadata.expires = item.expires.toISOString();
    return server;
  });
  proxies.sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0));
  return { items: proxies };
}

/** A proxy leaving removes its own heartbeat (an admin may remove any). */
export async function deleteProxy(ctx: AuthContext, caller: Caller, name: string): Promise<Record<string, never>> {
  const authed = authorize(caller, 'proxy', 'delete');
  if (authed.kind === 'builtin' && authed.systemRole === 'Proxy' && name !== hostIdOf(authed.username, ctx.clusterName)) {
    throw new AccessDeniedError('access denied: a proxy may only remove itself');
  }
  await ctx.backend.delete(key('proxies', name)).catch((err: unknown) => {
    if (!isNotFound(err)) throw err;
  });
  return {};
}

/** The cluster's tunnel strategy, for any authenticated caller. */
export async function getTunnelStrategy(ctx: AuthContext, caller: Caller): Promise<TunnelStrategy> {
  requireAuthenticated(caller);
  const strategy = ctx.tunnelStrategy;
  return strategy.type === 'proxy_peering' ? { type: 'proxy_peering', agent_connection_count: strategy.agent_connection_count } : { type: 'agent_mesh' };
}
