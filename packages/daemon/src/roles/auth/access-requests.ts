/**
 * Access requests on the auth server: create (for oneself, or for anyone with `create` on `access_request`), list
 * (one's own, those one may review, or all), review, approve or deny outright (administrators), delete, wait for the
 * decision (a long poll over a backend watcher), and search the resources a resource request may name. The rules
 * (what may be requested, thresholds, who may review) are core's (`@teleport-ts/core/rbac`); every change is audited
 * and handed to the notifiers.
 */

import { randomUUID } from 'node:crypto';
import { MAX_WAIT_MS, type AccessCapabilities, type DatabaseServer, type RequestableResource } from '@teleport-ts/core/api';
import { decodeJson, getAllWithPrefix } from '@teleport-ts/core/services';
import { AccessDeniedError, BadParameterError, isNotFound } from '@teleport-ts/core/errors';
import {
  assertCanReview,
  canReview,
  newAccessChecker,
  requestRules,
  requestableRoles,
  searchAsRoles,
  withReview,
  withState,
  type RoleSet,
} from '@teleport-ts/core/rbac';
import { accessRequestToWire, parseAccessRequest, parseResourceId, type AccessRequest, type User } from '@teleport-ts/core/types';
import { actorName, authorize, requireAuthenticated, type AuthenticatedCaller, type Caller } from './authz.js';
import type { AuthContext } from './context.js';
import { CreateAccessRequestBody, ReviewAccessRequestBody, SetAccessRequestStateBody, parseBody } from './requests.js';

const HOUR = 3_600_000;
/** How long access lasts when neither the request nor the caller's certificate says (Teleport's default session TTL). */
const DEFAULT_ACCESS_DURATION_MS = 12 * HOUR;

type Wire = Record<string, unknown>;

async function roleSetOf(ctx: AuthContext, user: User): Promise<RoleSet> {
  return { roles: await Promise.all(user.spec.roles.map((n) => ctx.access.getRole(n))), traits: user.spec.traits };
}

/** The caller as a reviewer: the roles of their certificate and its traits. */
export async function reviewerOf(ctx: AuthContext, caller: AuthenticatedCaller): Promise<RoleSet & { name: string }> {
  if (caller.kind !== 'user') return { name: caller.username, roles: [], traits: {} };
  const roles = await Promise.all(caller.identity.roles.map((n) => ctx.access.getRole(n)));
  return { name: caller.username, roles, traits: caller.identity.traits };
}

/** The roles a request asks for, checked against the requester's roles, and the resource ids it names. */
async function requestedRoles(ctx: AuthContext, set: RoleSet, body: { roles?: string[] | undefined; resources?: string[] | undefined }) {
  const resources = [...new Set(body.resources ?? [])];
  for (const id of resources) {
    const parsed = parseResourceId(id);
    if (parsed.cluster !== ctx.clusterName) throw new BadParameterError(`resource ${JSON.stringify(id)} is not in cluster ${JSON.stringify(ctx.clusterName)}`);
    if (parsed.kind !== 'db') throw new BadParameterError(`resource requests for ${parsed.kind} are not supported`, { hint: 'request /<cluster>/db/<name>' });
  }
  if (resources.length > 0 && (body.roles?.length ?? 0) > 0) throw new BadParameterError('request roles or resources, not both');
  const kind = resources.length > 0 ? 'resource' : 'role';
  const roles = kind === 'resource' ? searchAsRoles(set) : [...new Set(body.roles ?? [])];
  if (kind === 'resource' && roles.length === 0) throw new AccessDeniedError('user may not request resources: no role grants search_as_roles');
  const rules = requestRules(set, roles, kind);
  // Every requested role must exist (not-found names it).
  await Promise.all(roles.map((r) => ctx.access.getRole(r)));
  return { kind, roles, resources, rules };
}

/** `request_access: reason` on any of the requester's roles makes the reason mandatory; its `request_prompt` is the hint. */
function checkReason(set: RoleSet, reason: string | undefined): void {
  const strict = set.roles.find((r) => r.spec.options.request_access === 'reason' || r.spec.options.request_access === 'always');
  if (strict?.spec.options.request_access === 'reason' && (reason === undefined || reason.trim() === '')) {
    throw new BadParameterError('a reason is required for this access request', { hint: strict.spec.options.request_prompt ?? 'pass --reason' });
  }
}

/** Creates an access request: for the caller, or (with `create` on `access_request`) for `user`. */
export async function createAccessRequest(ctx: AuthContext, caller: Caller, rawBody: unknown): Promise<Wire> {
  const authed = requireAuthenticated(caller);
  const body = parseBody(CreateAccessRequestBody, rawBody);
  const forSelf = authed.kind === 'user' && (body.user === undefined || body.user === authed.username);
  if (!forSelf) authorize(caller, 'access_request', 'create');
  const userName = forSelf ? authed.username : body.user;
  if (userName === undefined) throw new BadParameterError('missing parameter user');
  const set = await roleSetOf(ctx, await ctx.identity.getUser(userName));
  checkReason(set, body.reason);
  const { roles, resources, rules } = await requestedRoles(ctx, set, body);
  const now = ctx.clock.now();
  let durationMs = Math.min(body.maxDuration ?? DEFAULT_ACCESS_DURATION_MS, rules.maxDurationMs ?? Infinity);
  // A user's elevated access never outlives the certificate they asked with (Teleport's rule, too).
  if (forSelf && authed.kind === 'user') durationMs = Math.min(durationMs, authed.identity.expires.getTime() - now.getTime());
  if (durationMs <= 0) throw new BadParameterError('the access would already have expired', { hint: 'log in again first' });
  const expires = new Date(now.getTime() + durationMs).toISOString();
  const request = parseAccessRequest({
    kind: 'access_request',
    version: 'v3',
    metadata: { name: randomUUID(), expires },
    spec: {
      user: userName,
      roles,
      resources,
      state: 'PENDING',
      ...(body.reason ? { request_reason: body.reason } : {}),
      suggested_reviewers: body.suggestedReviewers ?? [],
      created: now.toISOString(),
      expires,
      thresholds: rules.thresholds,
      role_thresholds: rules.role_thresholds,
    },
  });
  const created = await ctx.accessRequests.createAccessRequest(request);
  await ctx.emit('accessRequestCreate', {
    user: actorName(authed),
    id: created.metadata.name,
    requester: userName,
    roles: [...roles],
    ...(resources.length > 0 ? { resource_ids: resources } : {}),
    reason: body.reason ?? '',
    state: 'PENDING',
    'addr.remote': caller.remoteAddr,
  });
  ctx.notifyAccessRequest('created', created);
  return accessRequestToWire(created);
}

/** Whether the caller may see `request`: their own, one they may review, or any with `read` on `access_request`. */
export function visibleTo(caller: AuthenticatedCaller, reviewer: RoleSet & { name: string }, request: AccessRequest): boolean {
  return request.spec.user === caller.username || canReview(reviewer, request) || caller.checker.allowsRule('access_request', 'read');
}

/** `scope=own` (default), `reviewable` (pending requests the caller may review) or `all` (needs `list` on `access_request`). */
export async function getAccessRequests(ctx: AuthContext, caller: Caller, scope: string | null): Promise<{ items: Wire[] }> {
  const authed = requireAuthenticated(caller);
  const all = await ctx.accessRequests.getAccessRequests();
  let items: AccessRequest[];
  if (scope === 'all') {
    authorize(caller, 'access_request', 'list', 'read');
    items = all;
  } else if (scope === 'reviewable') {
    const reviewer = await reviewerOf(ctx, authed);
    items = all.filter((r) => r.spec.state === 'PENDING' && canReview(reviewer, r) && !r.spec.reviews.some((x) => x.author === reviewer.name));
  } else if (scope === null || scope === '' || scope === 'own') {
    items = all.filter((r) => r.spec.user === authed.username);
  } else {
    throw new BadParameterError(`unknown scope ${JSON.stringify(scope.slice(0, 32))}`, { hint: 'use own, reviewable or all' });
  }
  items.sort((a, b) => (a.spec.created < b.spec.created ? -1 : a.spec.created > b.spec.created ? 1 : 0));
  return { items: items.map(accessRequestToWire) };
}

async function getVisible(ctx: AuthContext, caller: Caller, id: string): Promise<{ authed: AuthenticatedCaller; request: AccessRequest }> {
  const authed = requireAuthenticated(caller);
  const request = await ctx.accessRequests.getAccessRequest(id);
  // Someone who may not see the request learns nothing about it, not even that it exists.
  if (!visibleTo(authed, await reviewerOf(ctx, authed), request)) throw new AccessDeniedError(`access request ${JSON.stringify(id)} is not found or not yours`);
  return { authed, request };
}

export async function getAccessRequest(ctx: AuthContext, caller: Caller, id: string): Promise<Wire> {
  return accessRequestToWire((await getVisible(ctx, caller, id)).request);
}

/** Audits a change of state and tells the notifiers. */
async function decided(ctx: AuthContext, actor: string, request: AccessRequest): Promise<void> {
  await ctx.emit('accessRequestUpdate', {
    user: actor,
    id: request.metadata.name,
    requester: request.spec.user,
    roles: [...request.spec.roles],
    state: request.spec.state,
    reason: request.spec.resolve_reason ?? '',
    expires: request.spec.expires,
  });
  ctx.notifyAccessRequest('decided', request);
}

/** Adds the caller's review (never to their own request; only for roles their `review_requests` covers). */
export async function reviewAccessRequest(ctx: AuthContext, caller: Caller, id: string, rawBody: unknown): Promise<Wire> {
  const authed = requireAuthenticated(caller);
  const body = parseBody(ReviewAccessRequestBody, rawBody);
  const reviewer = await reviewerOf(ctx, authed);
  const review = {
    author: reviewer.name,
    roles: reviewer.roles.map((r) => r.metadata.name),
    state: body.state,
    created: ctx.clock.now().toISOString(),
    ...(body.reason ? { reason: body.reason } : {}),
  };
  const { before, after } = await ctx.accessRequests.updateAccessRequest(id, (current) => {
    assertCanReview(reviewer, current);
    return withReview(current, review);
  });
  await ctx.emit('accessRequestReview', { user: reviewer.name, id, requester: after.spec.user, proposed_state: body.state, reason: body.reason ?? '', 'addr.remote': caller.remoteAddr });
  if (after.spec.state !== before.spec.state) await decided(ctx, reviewer.name, after);
  return accessRequestToWire(after);
}

/** `tctl request approve|deny`: sets the state outright (needs `update` on `access_request`). */
export async function setAccessRequestState(ctx: AuthContext, caller: Caller, id: string, rawBody: unknown): Promise<Wire> {
  const actor = authorize(caller, 'access_request', 'update');
  const body = parseBody(SetAccessRequestStateBody, rawBody);
  const { after } = await ctx.accessRequests.updateAccessRequest(id, (current) =>
    withState(current, body.state, { ...(body.reason ? { reason: body.reason } : {}), ...(body.roles ? { roles: body.roles } : {}) }),
  );
  await decided(ctx, actorName(actor), after);
  return accessRequestToWire(after);
}

/** Deletes a request: one's own, or any with `delete` on `access_request`. */
export async function deleteAccessRequest(ctx: AuthContext, caller: Caller, id: string): Promise<Record<string, never>> {
  const authed = requireAuthenticated(caller);
  let request: AccessRequest | undefined;
  try {
    request = await ctx.accessRequests.getAccessRequest(id);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  if (request?.spec.user !== authed.username) authorize(caller, 'access_request', 'delete');
  await ctx.accessRequests.deleteAccessRequest(id);
  await ctx.emit('accessRequestDelete', { user: actorName(authed), id, 'addr.remote': caller.remoteAddr });
  return {};
}

/** Long poll: answers once the request is decided, or as it is after `timeout` ms (at most {@link MAX_WAIT_MS}). */
export async function waitForAccessRequest(ctx: AuthContext, caller: Caller, id: string, timeoutText: string | null): Promise<Wire> {
  await getVisible(ctx, caller, id);
  const timeout = Number(timeoutText ?? MAX_WAIT_MS);
  if (!Number.isFinite(timeout) || timeout < 0) throw new BadParameterError('timeout must be a number of milliseconds');
  return accessRequestToWire(await ctx.accessRequests.waitForDecision(id, Math.min(timeout, MAX_WAIT_MS)));
}

/**
 * What the caller may request and how (Teleport's access capabilities): requestable roles among the cluster's, whether a
 * reason is required, and whether `tsh login` must request them by itself (`request_access: always`).
 */
export async function getAccessCapabilities(ctx: AuthContext, caller: Caller): Promise<AccessCapabilities> {
  const authed = requireAuthenticated(caller);
  if (authed.kind !== 'user') throw new AccessDeniedError('access denied: only users have access request capabilities');
  const set = await roleSetOf(ctx, await ctx.identity.getUser(authed.username));
  const roles = requestableRoles(set, (await ctx.access.getRoles()).map((r) => r.metadata.name));
  const modes = set.roles.map((r) => r.spec.options.request_access);
  const prompt = set.roles.map((r) => r.spec.options.request_prompt).find((p) => p !== undefined);
  return {
    requestableRoles: roles,
    requireReason: modes.includes('reason'),
    autoRequest: modes.includes('always') && roles.length > 0,
    ...(prompt !== undefined ? { requestPrompt: prompt } : {}),
  };
}

/** `tsh request search --kind=db`: the databases the caller's `search_as_roles` would reach. */
export async function searchRequestableResources(ctx: AuthContext, caller: Caller, kind: string | null): Promise<{ items: RequestableResource[] }> {
  const authed = requireAuthenticated(caller);
  if (kind !== 'db') throw new BadParameterError(`searching ${JSON.stringify((kind ?? '').slice(0, 32))} is not supported`, { hint: 'use --kind=db' });
  if (authed.kind !== 'user') throw new AccessDeniedError('access denied: only users search for resources to request');
  const set = await roleSetOf(ctx, await ctx.identity.getUser(authed.username));
  const searchAs = await Promise.all(searchAsRoles(set).map((n) => ctx.access.getRole(n)));
  const checker = newAccessChecker({ roles: searchAs, traits: set.traits });
  const seen = new Map<string, RequestableResource>();
  for (const item of await getAllWithPrefix(ctx.cache, '/db_servers/')) {
    const db = (decodeJson(item) as DatabaseServer).spec.database;
    const labels = db.metadata.labels ?? {};
    if (!checker.isDatabaseVisible(labels) || seen.has(db.metadata.name)) continue;
    seen.set(db.metadata.name, { id: `/${ctx.clusterName}/db/${db.metadata.name}`, kind: 'db', name: db.metadata.name, labels });
  }
  return { items: [...seen.values()] };
}
