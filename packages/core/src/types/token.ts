import { BadParameterError } from '../errors/index.js';
import { parseWith, v } from '../schema/index.js';
import { headerEntries, resourceName, toMetadata, type ResourceHeader } from './metadata.js';
import { deepFreeze, isRecord, section } from './validate.js';

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

/** `spec.roles`: a list or `node,db`, only roles a join token may grant. */
function joinTokenRoles(raw: unknown): JoinTokenRole[] | string {
  if (typeof raw !== 'string' && !(Array.isArray(raw) && raw.every((r) => typeof r === 'string'))) {
    return 'must be a list of system roles such as [Node, Db]';
  }
  let roles: SystemRole[];
  try {
    roles = parseSystemRoles(raw as string | string[]);
  } catch (err) {
    return `has ${(err as Error).message}; use ${JOIN_TOKEN_ROLES.join(', ')}`;
  }
  if (roles.length === 0) return 'must list at least one system role';
  const refused = roles.find((r) => !(JOIN_TOKEN_ROLES as readonly string[]).includes(r));
  if (refused !== undefined) return `must not grant ${refused}; use ${JOIN_TOKEN_ROLES.join(', ')}`;
  return roles as JoinTokenRole[];
}

/** A token document. */
const TokenDocument = section({
  ...headerEntries(KIND_TOKEN, TOKEN_VERSIONS, 'v2'),
  spec: section({
    roles: v.pipe(
      v.nullish(v.unknown(), null),
      v.rawTransform(({ dataset, addIssue, NEVER }) => {
        const roles = joinTokenRoles(dataset.value);
        if (typeof roles !== 'string') return roles;
        addIssue({ message: roles });
        return NEVER;
      }),
    ),
    join_method: v.pipe(
      v.nullish(v.string(), 'token'),
      v.check((m) => (JOIN_METHODS as readonly string[]).includes(m), (issue) => `${JSON.stringify(String(issue.input).slice(0, 64))} is not supported, use token`),
      v.transform((m) => m as JoinMethod),
    ),
  }),
});

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
  const doc = parseWith(TokenDocument, raw, 'token');
  return deepFreeze({ kind: KIND_TOKEN, version: doc.version, metadata: toMetadata(name, doc.metadata), spec: doc.spec });
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
