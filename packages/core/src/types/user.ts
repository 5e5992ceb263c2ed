import { BadParameterError } from '../errors/index.js';
import { parseWith, v } from '../schema/index.js';
import { headerEntries, resourceName, toMetadata, type ResourceHeader } from './metadata.js';
import { deepFreeze, isRecord, optBool, optString, optTimestamp, problem, quote, section, stringList } from './validate.js';

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

/** `spec.traits`: trait name -> list of values. */
function traitsProblem(traits: Record<string, unknown>): string | undefined {
  for (const [k, values] of Object.entries(traits)) {
    if (k === '') return 'has an empty trait name';
    if (values !== null && !(Array.isArray(values) && values.every((x) => typeof x === 'string'))) return `[${quote(k)}] must be a list of strings`;
  }
  return undefined;
}

const TraitsSchema = v.pipe(
  v.nullish(v.custom<Record<string, unknown>>(isRecord, 'must be a mapping'), {}),
  problem(traitsProblem),
  v.transform((traits): Traits => {
    const out: Record<string, readonly string[]> = {};
    for (const [k, values] of Object.entries(traits)) out[k] = [...new Set((values as string[] | null) ?? [])];
    return out;
  }),
);

const CreatedBySchema = section(
  { time: optTimestamp, user: v.nullish(section({ name: optString })) },
  { ignored: ['connector'] },
);

/** `status` as this implementation writes it. */
const StatusSchema = section(
  { is_locked: optBool, locked_until: optTimestamp, lock_reason: optString, locked_time: optTimestamp },
  { ignored: ['password_state', 'mfa_weakest_device'] },
);

/** Teleport's `spec.status` layout. */
const TeleportStatusSchema = section(
  { is_locked: optBool, locked_message: optString, lock_expires: optTimestamp, locked_time: optTimestamp },
  { ignored: ['recovery_attempt_lock_expires'] },
);

/** A user document. `local_auth` holds credentials in Teleport exports; they are never part of the user resource here. */
const UserDocument = section({
  ...headerEntries(KIND_USER, USER_VERSIONS, 'v2'),
  spec: section(
    {
      local_auth: v.optional(v.pipe(v.unknown(), v.check(() => false, 'is not accepted: set credentials through the password API'))),
      roles: v.pipe(stringList, v.check((roles) => !roles.includes(''), 'must not contain empty strings')),
      traits: TraitsSchema,
      created_by: v.nullish(CreatedBySchema),
      expires: optTimestamp,
      status: v.nullish(v.unknown()),
    },
    { ignored: ['oidc_identities', 'saml_identities', 'github_identities', 'trusted_device_ids'] },
  ),
  status: v.nullish(v.unknown()),
});

type Nullable<T> = T | null | undefined;

function createdBy(raw: Nullable<v.InferOutput<typeof CreatedBySchema>>): CreatedBy | undefined {
  if (raw === undefined || raw === null) return undefined;
  const time = raw.time ?? undefined;
  const name = raw.user?.name;
  const user = name !== undefined && name !== null && name !== '' ? { name } : undefined;
  if (time === undefined && user === undefined) return undefined;
  return { ...(time !== undefined ? { time } : {}), ...(user !== undefined ? { user } : {}) };
}

/** `status`, or Teleport's `spec.status` when `status` is absent. */
function parseStatus(prefix: string, raw: unknown, teleportStatus: unknown): UserStatus {
  if ((raw === undefined || raw === null) && isRecord(teleportStatus)) {
    const t = parseWith(TeleportStatusSchema, teleportStatus, { at: `${prefix}: spec.status` });
    return buildStatus({ isLocked: t.is_locked ?? undefined, until: t.lock_expires ?? undefined, reason: t.locked_message ?? undefined, time: t.locked_time ?? undefined });
  }
  const s = parseWith(StatusSchema, raw, { at: `${prefix}: status` });
  return buildStatus({ isLocked: s.is_locked ?? undefined, until: s.locked_until ?? undefined, reason: s.lock_reason ?? undefined, time: s.locked_time ?? undefined });
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
  const prefix = `user ${JSON.stringify(name)}`;
  const doc = parseWith(UserDocument, raw, prefix);
  const spec = doc.spec;
  const created = createdBy(spec.created_by);
  return deepFreeze({
    kind: KIND_USER,
    version: doc.version,
    metadata: toMetadata(name, doc.metadata),
    spec: {
      roles: spec.roles,
      traits: spec.traits,
      ...(created !== undefined ? { created_by: created } : {}),
      ...(spec.expires ? { expires: spec.expires } : {}),
    },
    status: parseStatus(prefix, doc.status, spec.status),
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
