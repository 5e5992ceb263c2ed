/**
 * What approved access requests add to a user's certificates: their roles, their resource restriction, their ids, and
 * an expiry no later than the earliest access expiry among them.
 */

import { AccessDeniedError, isNotFound } from '@teleport-ts/core/errors';
import type { AccessRequest, User } from '@teleport-ts/core/types';
import type { AuthContext } from './context.js';

/** The approved requests a certificate is issued with. */
export interface ActiveRequests {
  ids: readonly string[];
  roles: readonly string[];
  /** `/<cluster>/db/<name>`: when not empty, the certificates reach only these. */
  resources: readonly string[];
  /** The earliest access expiry. */
  notAfter: Date;
}

const MAX_ACTIVE_REQUESTS = 32;

/**
 * Loads and checks each request: it must exist, be `user`'s, be APPROVED and not past its access expiry.
 *
 * @throws AccessDeniedError naming the request and why.
 */
export async function activeRequests(ctx: AuthContext, user: string, ids: readonly string[]): Promise<ActiveRequests> {
  const unique = [...new Set(ids)];
  if (unique.length > MAX_ACTIVE_REQUESTS) throw new AccessDeniedError(`at most ${MAX_ACTIVE_REQUESTS} access requests may be active at once`);
  const now = ctx.clock.now().getTime();
  const requests: AccessRequest[] = [];
  for (const id of unique) {
    let request: AccessRequest;
    try {
      request = await ctx.accessRequests.getAccessRequest(id);
    } catch (err) {
      if (isNotFound(err)) throw new AccessDeniedError(`access request ${id} is not found or has expired`, { hint: 'drop it with tsh request drop, or request access again' });
      throw err;
    }
    if (request.spec.user !== user) throw new AccessDeniedError(`access request ${id} is not for user ${JSON.stringify(user)}`);
    if (request.spec.state !== 'APPROVED') throw new AccessDeniedError(`access request ${id} is ${request.spec.state.toLowerCase()}, not approved`);
    if (Date.parse(request.spec.expires) <= now) throw new AccessDeniedError(`access request ${id} has expired`, { hint: 'request access again' });
    requests.push(request);
  }
  return {
    ids: unique,
    roles: [...new Set(requests.flatMap((r) => r.spec.roles))],
    resources: [...new Set(requests.flatMap((r) => r.spec.resources))],
    notAfter: new Date(Math.min(...requests.map((r) => Date.parse(r.spec.expires)))),
  };
}

/** The user as the certificates see them: their roles and the requested ones. */
export function withRequestedRoles(user: User, requests: ActiveRequests): User {
  return { ...user, spec: { ...user.spec, roles: [...new Set([...user.spec.roles, ...requests.roles])] } };
}
