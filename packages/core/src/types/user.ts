import { BadParameterError } from '../errors/index.js';
import { checkHeader, parseMetadata, resourceName, type ResourceHeader } from './metadata.js';
import {
  checkKeys,
  deepFreeze,
  fail,
  isRecord,
  optBool,
  optRecord,
  optString,
  optTimestamp,
  quote,
  stringList,
  type ParseContext,
} from './validate.js';

export const KIND_USER = 'user';
export const USER_VERSIONS = ['v2'] as const;
export type UserVersion = (typeof USER_VERSIONS)[number];

/**
 * User traits: name -> values. Role templates read them: `{{internal.logins}}` and
 * `{{external.logins}}` both read `traits.logins`.
 */
export type Traits = Readonly<Record<string, readonly string[]>>;

/** Well-known trait names (Teleport's `internal.*` traits that local users carry). */
export const TRAIT_LOGINS = 'logins';
export const TRAIT_DB_USERS = 'db_users';
export const TRAIT_DB_NAMES = 'db_names';

export interface CreatedBy {
  /** ISO 8601 UTC. */
  readonly time?: string;
  readonly user?: { readonly name: string };
}

export interface UserSpec {
  readonly roles: readonly string[];
  readonly traits: Traits;
  readonly created_by?: CreatedBy;
  /** When the user stops existing (ISO 8601 UTC). */
  readonly expires?: string;
}

/** Login lock state: set after too many failed logins, or by an administrator. */
export interface UserStatus {
  readonly is_locked: boolean;
  /** ISO 8601 UTC; the lock no longer applies from this instant on. Absent: locked until unlocked. */
  readonly locked_until?: string;
  readonly lock_reason?: string;
  /** When the lock was set (ISO 8601 UTC). */
  readonly locked_time?: string;
}

/** A user resource, parsed by {@link parseUser}: validated, defaults filled, frozen. Holds no credentials. */
export interface User extends ResourceHeader<typeof KIND_USER, UserVersion, UserSpec> {
  readonly status: UserStatus;
}

function parseTraits(ctx: ParseContext, raw: unknown): Traits {
  const obj = optRecord(ctx, raw, 'spec.traits');
  const out: Record<string, readonly string[]> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (k === '') fail(ctx, 'spec.traits', 'has an empty trait name');
    out[k] = stringList(ctx, v, `spec.traits[${quote(k)}]`);
  }
  return out;
}

function parseCreatedBy(ctx: ParseContext, raw: unknown): CreatedBy | undefined {
  if (raw === undefined || raw === null) return undefined;
  const obj = optRecord(ctx, raw, 'spec.created_by');
  checkKeys(ctx, obj, 'spec.created_by', ['time', 'user'], ['connector']);
  const time = optTimestamp(ctx, obj['time'], 'spec.created_by.time');
  let user: { name: string } | undefined;
  if (obj['user'] !== undefined && obj['user'] !== null) {
    const u = optRecord(ctx, obj['user'], 'spec.created_by.user');
    checkKeys(ctx, u, 'spec.created_by.user', ['name']);
    const name = optString(ctx, u['name'], 'spec.created_by.user.name');
    if (name !== undefined && name !== '') user = { name };
  }
  if (time === undefined && user === undefined) return undefined;
  return { ...(time !== undefined ? { time } : {}), ...(user !== undefined ? { user } : {}) };
}

/**
 * Reads `status` (this implementation's layout) or, for users exported from Teleport, `spec.status`
 * (`is_locked`, `locked_message`, `lock_expires`, `locked_time`).
 */
function parseStatus(ctx: ParseContext, raw: unknown, teleportStatus: unknown): UserStatus {
  if ((raw === undefined || raw === null) && isRecord(teleportStatus)) {
    const t = teleportStatus;
    checkKeys(ctx, t, 'spec.status', ['is_locked', 'locked_message', 'lock_expires', 'locked_time'], ['recovery_attempt_lock_expires']);
    return buildStatus({
      isLocked: optBool(ctx, t['is_locked'], 'spec.status.is_locked'),
      until: optTimestamp(ctx, t['lock_expires'], 'spec.status.lock_expires'),
      reason: optString(ctx, t['locked_message'], 'spec.status.locked_message'),
      time: optTimestamp(ctx, t['locked_time'], 'spec.status.locked_time'),
    });
  }
  const s = optRecord(ctx, raw, 'status');
  checkKeys(ctx, s, 'status', ['is_locked', 'locked_until', 'lock_reason', 'locked_time'], ['password_state', 'mfa_weakest_device']);
  return buildStatus({
    isLocked: optBool(ctx, s['is_locked'], 'status.is_locked'),
    until: optTimestamp(ctx, s['locked_until'], 'status.locked_until'),
    reason: optString(ctx, s['lock_reason'], 'status.lock_reason'),
    time: optTimestamp(ctx, s['locked_time'], 'status.locked_time'),
  });
}

function buildStatus(
  p: { isLocked: boolean | undefined; until: string | undefined; reason: string | undefined; time: string | undefined },
): UserStatus {
  const isLocked = p.isLocked ?? false;
  // Lock details of an unlocked user are stale; dropping them keeps one meaning per state.
  if (!isLocked) return { is_locked: false };
  return {
    is_locked: true,
    ...(p.until !== undefined ? { locked_until: p.until } : {}),
    ...(p.reason !== undefined && p.reason !== '' ? { lock_reason: p.reason } : {}),
    ...(p.time !== undefined ? { locked_time: p.time } : {}),
  };
}

/**
 * Parses and validates a user document. Fills `roles: []`, `traits: {}` and `status.is_locked: false`
 * and returns a frozen {@link User}. Throws {@link BadParameterError} naming the field.
 *
 * @example
 * ```ts
 * const alice = parseUser({
 *   kind: 'user',
 *   version: 'v2',
 *   metadata: { name: 'alice' },
 *   spec: { roles: ['access'], traits: { logins: ['alice', 'ubuntu'], db_users: ['alice'] } },
 * });
 * ```
 */
export function parseUser(raw: unknown): User {
  if (!isRecord(raw)) throw new BadParameterError('user must be a mapping');
  const name = resourceName(raw, { kind: KIND_USER });
  const ctx: ParseContext = { prefix: `user ${JSON.stringify(name)}` };
  checkKeys(ctx, raw, '', ['kind', 'version', 'metadata', 'spec', 'status']);
  const version = checkHeader(ctx, raw, KIND_USER, USER_VERSIONS, 'v2');
  const spec = optRecord(ctx, raw['spec'], 'spec');
  // local_auth holds credentials in Teleport exports; they are never part of the user resource here.
  if ('local_auth' in spec) fail(ctx, 'spec.local_auth', 'is not accepted: set credentials through the password API');
  checkKeys(ctx, spec, 'spec', ['roles', 'traits', 'created_by', 'expires', 'status'], ['oidc_identities', 'saml_identities', 'github_identities', 'trusted_device_ids']);
  const roles = stringList(ctx, spec['roles'], 'spec.roles');
  if (roles.some((r) => r === '')) fail(ctx, 'spec.roles', 'must not contain empty strings');
  const createdBy = parseCreatedBy(ctx, spec['created_by']);
  const expires = optTimestamp(ctx, spec['expires'], 'spec.expires');
  return deepFreeze({
    kind: KIND_USER,
    version,
    metadata: parseMetadata(ctx, raw['metadata'], name),
    spec: {
      roles,
      traits: parseTraits(ctx, spec['traits']),
      ...(createdBy !== undefined ? { created_by: createdBy } : {}),
      ...(expires !== undefined ? { expires } : {}),
    },
    status: parseStatus(ctx, raw['status'], spec['status']),
  });
}

/** The plain-data form of a user, as `tctl get` prints it. */
export function userToWire(user: User): Record<string, unknown> {
  const traits: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(user.spec.traits)) if (v.length > 0) traits[k] = [...v];
  return {
    kind: user.kind,
    version: user.version,
    metadata: { ...user.metadata },
    spec: {
      roles: [...user.spec.roles],
      ...(Object.keys(traits).length > 0 ? { traits } : {}),
      ...(user.spec.created_by ? { created_by: { ...user.spec.created_by } } : {}),
      ...(user.spec.expires ? { expires: user.spec.expires } : {}),
    },
    status: { ...user.status },
  };
}
