import { BadParameterError } from '../errors/index.js';
import { checkHeader, parseMetadata, resourceName, type ResourceHeader } from './metadata.js';
import { checkKeys, deepFreeze, fail, isRecord, optRecord, optString, type ParseContext } from './validate.js';

export const KIND_TOKEN = 'token';
export const TOKEN_VERSIONS = ['v2'] as const;
export type TokenVersion = (typeof TOKEN_VERSIONS)[number];

/** Teleport's system roles (the identity of a service, as opposed to a user role). */
export const SYSTEM_ROLES = [
  'Auth',
  'Node',
  'Proxy',
  'Admin',
  'ProvisionToken',
  'Trusted_cluster',
  'Signup',
  'Nop',
  'RemoteProxy',
  'Kube',
  'App',
  'Db',
  'WindowsDesktop',
  'Bot',
  'Instance',
  'Discovery',
  'Okta',
  'MDM',
] as const;
export type SystemRole = (typeof SYSTEM_ROLES)[number];

/** The system roles a join token may grant here. */
export const JOIN_TOKEN_ROLES = [
  'Auth',
  'Node',
  'Proxy',
  'Kube',
  'App',
  'Db',
  'WindowsDesktop',
  'Discovery',
  'Instance',
  'Trusted_cluster',
] as const satisfies readonly SystemRole[];
export type JoinTokenRole = (typeof JOIN_TOKEN_ROLES)[number];

export const JOIN_METHODS = ['token'] as const;
export type JoinMethod = (typeof JOIN_METHODS)[number];

export interface ProvisionTokenSpec {
  readonly roles: readonly JoinTokenRole[];
  readonly join_method: JoinMethod;
}

/**
 * A provision (join) token. `metadata.name` is the secret itself, so no message about a token ever
 * quotes it; `metadata.expires` bounds its life.
 */
export type ProvisionToken = ResourceHeader<typeof KIND_TOKEN, TokenVersion, ProvisionTokenSpec>;

const BY_LOWER = new Map<string, SystemRole>(SYSTEM_ROLES.map((r) => [r.toLowerCase(), r]));

/**
 * Parses system role names, case-insensitively, from a list or a comma-separated string as `tctl tokens
 * add --type=node,db` takes them. Returns canonical spellings (`Node`, `Db`), duplicates removed.
 *
 * @example
 * ```ts
 * parseSystemRoles('node,db'); // ['Node', 'Db']
 * ```
 */
export function parseSystemRoles(input: string | readonly string[]): SystemRole[] {
  const parts = typeof input === 'string' ? input.split(',') : input;
  const out: SystemRole[] = [];
  for (const part of parts) {
    if (typeof part !== 'string') throw new BadParameterError('system roles must be strings');
    const name = part.trim();
    if (name === '') continue;
    const role = BY_LOWER.get(name.toLowerCase());
    if (role === undefined) {
      throw new BadParameterError(`unknown system role ${JSON.stringify(name.slice(0, 64))}`, {
        hint: `use one of: ${JOIN_TOKEN_ROLES.join(', ')}`,
      });
    }
    if (!out.includes(role)) out.push(role);
  }
  return out;
}

/**
 * Parses and validates a provision token document (`spec.roles` as a list or `node,db`; `join_method`
 * defaults to `token`) and returns a frozen {@link ProvisionToken}. Messages never contain the token.
 *
 * @example
 * ```ts
 * const token = parseProvisionToken({
 *   kind: 'token',
 *   version: 'v2',
 *   metadata: { name: newSecretToken(), expires: '2030-01-01T00:00:00Z' },
 *   spec: { roles: ['Node', 'Db'] },
 * });
 * ```
 */
export function parseProvisionToken(raw: unknown): ProvisionToken {
  if (!isRecord(raw)) throw new BadParameterError('token must be a mapping');
  const name = resourceName(raw, { kind: KIND_TOKEN, secretName: true });
  const ctx: ParseContext = { prefix: 'token' };
  checkKeys(ctx, raw, '', ['kind', 'version', 'metadata', 'spec']);
  const version = checkHeader(ctx, raw, KIND_TOKEN, TOKEN_VERSIONS, 'v2');
  const spec = optRecord(ctx, raw['spec'], 'spec');
  checkKeys(ctx, spec, 'spec', ['roles', 'join_method']);
  const rawRoles = spec['roles'];
  if (typeof rawRoles !== 'string' && !(Array.isArray(rawRoles) && rawRoles.every((r) => typeof r === 'string'))) {
    fail(ctx, 'spec.roles', 'must be a list of system roles such as [Node, Db]');
  }
  let roles: SystemRole[];
  try {
    roles = parseSystemRoles(rawRoles as string | string[]);
  } catch (err) {
    fail(ctx, 'spec.roles', `has ${(err as Error).message}; use ${JOIN_TOKEN_ROLES.join(', ')}`);
  }
  if (roles.length === 0) fail(ctx, 'spec.roles', 'must list at least one system role');
  for (const r of roles) {
    if (!(JOIN_TOKEN_ROLES as readonly string[]).includes(r)) fail(ctx, 'spec.roles', `must not grant ${r}; use ${JOIN_TOKEN_ROLES.join(', ')}`);
  }
  const joinMethod = optString(ctx, spec['join_method'], 'spec.join_method') ?? 'token';
  if (!(JOIN_METHODS as readonly string[]).includes(joinMethod)) {
    fail(ctx, 'spec.join_method', `${JSON.stringify(joinMethod.slice(0, 64))} is not supported, use token`);
  }
  return deepFreeze({
    kind: KIND_TOKEN,
    version,
    metadata: parseMetadata(ctx, raw['metadata'], name),
    spec: { roles: roles as JoinTokenRole[], join_method: joinMethod as JoinMethod },
  });
}

/** The plain-data form of a token, as `tctl get` prints it. */
export function provisionTokenToWire(token: ProvisionToken): Record<string, unknown> {
  return {
    kind: token.kind,
    version: token.version,
    metadata: { ...token.metadata },
    spec: { roles: [...token.spec.roles], join_method: token.spec.join_method },
  };
}
