/**
 * The node's access check over the user's roles (core/rbac), as Teleport's node does it: the login must be allowed
 * by `logins` (traits expanded, such as `{{internal.logins}}`) of a role whose `node_labels` match this node, and
 * no role may deny the login or the labels (deny wins). The login's presence among the certificate principals is
 * checked before, with the certificate.
 */

import { AccessDeniedError, isNotFound } from '@teleport-ts/core/errors';
import { newAccessChecker, type ResourceLabels } from '@teleport-ts/core/rbac';
import type { Role } from '@teleport-ts/core/types';
import type { SshAccessCheck } from './types.js';

/** How long role definitions are reused before being read again. */
const DEFAULT_ROLE_CACHE_TTL_MS = 5_000;

interface RoleAccessOptions {
  getRole(name: string): Promise<Role>;
  /** The node's labels now (static and dynamic). */
  labels(): ResourceLabels;
  nodeName: string;
  /** 0 reads the roles at every login. */
  roleCacheTtlMs?: number;
}

/**
 * @example
 * ```ts
 * const access = newRoleAccess({ getRole: (n) => auth.getRole(n), labels: () => node.labels, nodeName: 'node-1' });
 * newNodeSshServer({ ..., access });
 * ```
 */
export function newRoleAccess(options: RoleAccessOptions): SshAccessCheck {
  const ttl = options.roleCacheTtlMs ?? DEFAULT_ROLE_CACHE_TTL_MS;
  const cache = new Map<string, { at: number; role: Promise<Role> }>();
  const getRole = (name: string): Promise<Role> => {
    const now = performance.now();
    const hit = cache.get(name);
    if (hit !== undefined && now - hit.at < ttl) return hit.role;
    const role = options.getRole(name);
    cache.set(name, { at: now, role });
    role.catch(() => cache.delete(name));
    return role;
  };
  return async ({ identity, login }) => {
    let roles: Role[];
    try {
      roles = await Promise.all(identity.roles.map(getRole));
    } catch (err) {
      if (isNotFound(err)) throw new AccessDeniedError(`access denied to ${login} connecting to ${options.nodeName}: ${(err as Error).message}`, { code: 'ERR_TP_SSH_DENIED' });
      throw err;
    }
    const checker = newAccessChecker({ roles, traits: identity.traits });
    try {
      checker.checkLogin(login, options.labels());
    } catch (err) {
      // Teleport's text, with the reason after it.
      const reason = (err as Error).message.replace(/^access to node denied: /, '');
      throw new AccessDeniedError(`access denied to ${login} connecting to ${options.nodeName}: ${reason}`, { code: 'ERR_TP_SSH_DENIED' });
    }
    return {
      portForwarding: checker.canPortForward(),
      forwardAgent: checker.canForwardAgent(),
      maxSessionTtlMs: checker.certTTL(Number.MAX_SAFE_INTEGER),
    };
  };
}
