import { BadParameterError } from '../errors/index.js';
import {
  authPreferenceToWire,
  KIND_CLUSTER_AUTH_PREFERENCE,
  parseAuthPreference,
  type AuthPreference,
} from './auth-preference.js';
import { KIND_LOCK, lockToWire, parseLock, type Lock } from './lock.js';
import { KIND_NODE, nodeToWire, parseNode, type NodeServer } from './node.js';
import { KIND_ROLE, parseRole, roleToWire, type Role } from './role.js';
import { KIND_TOKEN, parseProvisionToken, provisionTokenToWire, type ProvisionToken } from './token.js';
import { isRecord } from './validate.js';
import { KIND_USER, parseUser, userToWire, type User } from './user.js';

/** Every resource kind this module parses. */
export type Resource = Role | User | ProvisionToken | AuthPreference | Lock | NodeServer;
export type ResourceKind = Resource['kind'];

interface KindHandler {
  parse(raw: unknown): Resource;
  toWire(resource: Resource): Record<string, unknown>;
}

const HANDLERS: Readonly<Record<ResourceKind, KindHandler>> = {
  [KIND_ROLE]: { parse: parseRole, toWire: (r) => roleToWire(r as Role) },
  [KIND_USER]: { parse: parseUser, toWire: (r) => userToWire(r as User) },
  [KIND_TOKEN]: { parse: parseProvisionToken, toWire: (r) => provisionTokenToWire(r as ProvisionToken) },
  [KIND_CLUSTER_AUTH_PREFERENCE]: { parse: parseAuthPreference, toWire: (r) => authPreferenceToWire(r as AuthPreference) },
  [KIND_LOCK]: { parse: parseLock, toWire: (r) => lockToWire(r as Lock) },
  [KIND_NODE]: { parse: parseNode, toWire: (r) => nodeToWire(r as NodeServer) },
};

/** The kinds {@link parseResource} accepts. */
export const RESOURCE_KINDS = Object.keys(HANDLERS) as ResourceKind[];

function handlerFor(kind: unknown): KindHandler {
  if (kind === undefined || kind === null || kind === '') {
    throw new BadParameterError('resource is missing kind', { hint: `set kind to one of: ${RESOURCE_KINDS.join(', ')}` });
  }
  const handler = typeof kind === 'string' && Object.hasOwn(HANDLERS, kind) ? HANDLERS[kind as ResourceKind] : undefined;
  if (handler === undefined) {
    throw new BadParameterError(`unsupported resource kind ${JSON.stringify(String(kind).slice(0, 64))}`, {
      hint: `supported kinds: ${RESOURCE_KINDS.join(', ')}`,
    });
  }
  return handler;
}

/**
 * Parses any supported resource by its `kind`. Throws {@link BadParameterError} for an unknown or
 * missing kind and for every validation failure of the kind's parser.
 *
 * @example
 * ```ts
 * const r = parseResource(JSON.parse(body));
 * if (r.kind === 'role') console.log(r.spec.allow.logins);
 * ```
 */
export function parseResource(raw: unknown): Resource {
  if (!isRecord(raw)) throw new BadParameterError('a resource must be a mapping with kind, version, metadata and spec');
  return handlerFor(raw['kind']).parse(raw);
}

/** The plain-data (JSON) form of a resource: what the API sends and `tctl get` prints. */
export function resourceToWire(resource: Resource): Record<string, unknown> {
  return handlerFor(resource.kind).toWire(resource);
}
