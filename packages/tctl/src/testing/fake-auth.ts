/** Test-only: an in-memory stand-in for the parts of the auth API tctl's handlers call. */

import { BadParameterError, NotFoundError, AlreadyExistsError } from '@teleport-ts/core/errors';
import { presetRoles } from '@teleport-ts/core/rbac';
import { defaultAuthPreference, lockToWire, parseLock, parseProvisionToken, parseSystemRoles, parseUser, type Lock, type NodeServer, type ProvisionToken, type Role, type User } from '@teleport-ts/core/types';
import type { AuditEvent } from '@teleport-ts/core/audit';
import type { CreateUserRequest } from '@teleport-ts/core/api';
import type { TctlApi } from '../api.js';

export type FakeAuth = Pick<
  TctlApi,
  | 'ping'
  | 'getUsers'
  | 'getUser'
  | 'createUser'
  | 'updateUser'
  | 'deleteUser'
  | 'createResetPasswordToken'
  | 'getRoles'
  | 'getRole'
  | 'createRole'
  | 'upsertRole'
  | 'deleteRole'
  | 'getTokens'
  | 'createToken'
  | 'deleteToken'
  | 'getAuthPreference'
  | 'setAuthPreference'
  | 'searchEvents'
  | 'getLocks'
  | 'getLock'
  | 'upsertLock'
  | 'deleteLock'
  | 'getNodes'
  | 'upsertNode'
  | 'deleteNode'
> & {
  users: Map<string, User>;
  roles: Map<string, Role>;
  tokens: Map<string, ProvisionToken>;
  locks: Map<string, Lock>;
  nodes: Map<string, NodeServer>;
  events: AuditEvent[];
  calls: string[];
};

export function newFakeAuth(now: () => Date): FakeAuth {
  const users = new Map<string, User>();
  const roles = new Map<string, Role>(presetRoles().map((r) => [r.metadata.name, r]));
  const tokens = new Map<string, ProvisionToken>();
  const locks = new Map<string, Lock>();
  const nodes = new Map<string, NodeServer>();
  const events: AuditEvent[] = [];
  const calls: string[] = [];
  let authPreference = defaultAuthPreference();
  const userToken = (user: string, kind: 'invite' | 'reset', ttl: number) => ({
    id: 'f'.repeat(32),
    user,
    kind,
    expires: new Date(now().getTime() + ttl).toISOString(),
    url: `https://proxy.example.com:3080/web/${kind}/${'f'.repeat(32)}`,
  });
  const role = (name: string): Role => {
    const r = roles.get(name);
    if (!r) throw new NotFoundError(`role ${JSON.stringify(name)} is not found`);
    return r;
  };
  const user = (name: string): User => {
    const u = users.get(name);
    if (!u) throw new NotFoundError(`user ${JSON.stringify(name)} is not found`);
    return u;
  };
  return {
    users,
    roles,
    tokens,
    locks,
    nodes,
    events,
    calls,
    ping: async () => ({ clusterName: 'example.com', serverVersion: '0.1.0', authPreference: { type: 'local', secondFactor: 'otp' } }),
    getUsers: async () => [...users.values()],
    getUser: async (name) => user(name),
    createUser: (async (req: CreateUserRequest) => {
      calls.push(`createUser ${req.name}${req.invite === false ? ' (no invite)' : ''}`);
      if (users.has(req.name)) throw new AlreadyExistsError(`user ${JSON.stringify(req.name)} already exists`);
      for (const r of req.roles) role(r);
      const metadata = { name: req.name, ...(req.labels ? { labels: req.labels } : {}), ...(req.description ? { description: req.description } : {}), ...(req.expires ? { expires: req.expires } : {}) };
      const u = parseUser({ kind: 'user', version: 'v2', metadata, spec: { roles: req.roles, traits: req.traits ?? {} } });
      users.set(req.name, u);
      return req.invite === false ? { user: u } : { user: u, token: userToken(req.name, 'invite', req.ttl ?? 3_600_000) };
    }) as FakeAuth['createUser'],
    updateUser: async (u) => {
      calls.push(`updateUser ${u.metadata.name}`);
      user(u.metadata.name);
      users.set(u.metadata.name, u);
      return u;
    },
    deleteUser: async (name) => {
      calls.push(`deleteUser ${name}`);
      user(name);
      users.delete(name);
    },
    createResetPasswordToken: async (req) => {
      user(req.name);
      return userToken(req.name, 'reset', req.ttl ?? 8 * 3_600_000);
    },
    getRoles: async () => [...roles.values()],
    getRole: async (name) => role(name),
    createRole: async (r) => {
      calls.push(`createRole ${r.metadata.name}`);
      if (roles.has(r.metadata.name)) throw new AlreadyExistsError(`role ${JSON.stringify(r.metadata.name)} already exists`);
      roles.set(r.metadata.name, r);
      return r;
    },
    upsertRole: async (r) => {
      calls.push(`upsertRole ${r.metadata.name}`);
      roles.set(r.metadata.name, r);
      return r;
    },
    deleteRole: async (name) => {
      calls.push(`deleteRole ${name}`);
      role(name);
      roles.delete(name);
    },
    getTokens: async () => [...tokens.values()],
    createToken: async (req) => {
      const name = req.name ?? 'generated';
      calls.push('createToken');
      if (tokens.has(name)) throw new AlreadyExistsError('token already exists');
      const t = parseProvisionToken({
        kind: 'token',
        version: 'v2',
        metadata: { name, expires: new Date(now().getTime() + (req.ttl ?? 30 * 60_000)).toISOString(), ...(req.labels ? { labels: req.labels } : {}) },
        spec: { roles: parseSystemRoles(req.roles as string[]) },
      });
      tokens.set(name, t);
      return t;
    },
    deleteToken: async (name) => {
      calls.push('deleteToken');
      if (!tokens.delete(name)) throw new NotFoundError('token is not found');
    },
    getAuthPreference: async () => authPreference,
    setAuthPreference: async (p) => {
      calls.push('setAuthPreference');
      authPreference = p;
      return p;
    },
    getLocks: async () => [...locks.values()],
    getLock: async (name) => {
      const l = locks.get(name);
      if (!l) throw new NotFoundError(`lock ${JSON.stringify(name)} is not found`);
      return l;
    },
    // As the auth server: refuses an expiry that is not in the future and stamps created_at / created_by.
    upsertLock: async (l) => {
      calls.push(`upsertLock ${l.metadata.name}`);
      if (l.spec.expires !== undefined && Date.parse(l.spec.expires) <= now().getTime()) {
        throw new BadParameterError(`lock ${JSON.stringify(l.metadata.name)} would expire at ${l.spec.expires}, which is not in the future`);
      }
      const wire = lockToWire(l);
      const stamped = parseLock({ ...wire, spec: { ...(wire['spec'] as object), created_at: l.spec.created_at ?? now().toISOString(), created_by: l.spec.created_by ?? 'admin' } });
      locks.set(l.metadata.name, stamped);
      return stamped;
    },
    deleteLock: async (name) => {
      calls.push(`deleteLock ${name}`);
      if (!locks.delete(name)) throw new NotFoundError(`lock ${JSON.stringify(name)} is not found`);
    },
    getNodes: async () => [...nodes.values()],
    upsertNode: async (n) => {
      calls.push(`upsertNode ${n.metadata.name}`);
      nodes.set(n.metadata.name, n);
      return n;
    },
    deleteNode: async (name) => {
      calls.push(`deleteNode ${name}`);
      if (!nodes.delete(name)) throw new NotFoundError(`node ${JSON.stringify(name)} is not found`);
    },
    searchEvents: async (q) => {
      const matching = events.filter(
        (e) => Date.parse(e.time) >= q.from.getTime() && Date.parse(e.time) < q.to.getTime() && (!q.eventTypes?.length || q.eventTypes.includes(e.event)),
      );
      const start = q.startKey ? Number(q.startKey) : 0;
      const page = matching.slice(start, start + (q.limit ?? 100));
      const next = start + page.length;
      return next < matching.length ? { events: page, nextKey: String(next) } : { events: page };
    },
  };
}
