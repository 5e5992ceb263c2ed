/**
 * Locks (Teleport's `kind: lock`, v2): a lock in force denies new sessions and certificates to whatever its target
 * matches and ends the sessions already running. `tctl lock --user=alice --message=... --ttl=1h` creates one.
 */

import { AccessDeniedError, BadParameterError } from '../errors/index.js';
import { parseWith, v } from '../schema/index.js';
import { headerEntries, resourceName, toMetadata, type ResourceHeader } from './metadata.js';
import { deepFreeze, fail, isRecord, optString, optTimestamp, section, type ParseContext } from './validate.js';

export const KIND_LOCK = 'lock';
export const LOCK_VERSIONS = ['v2'] as const;
export type LockVersion = (typeof LOCK_VERSIONS)[number];

/**
 * What a lock applies to. Every field that is set must match (a target with `user` and `role` locks that user only
 * while they hold that role). Teleport's other targets (MFA devices, trusted devices, desktops, access requests,
 * bots, join tokens) have no counterpart here yet and are refused, so a lock never silently matches nothing.
 */
export interface LockTarget {
  readonly user?: string;
  readonly role?: string;
  readonly login?: string;
  /** A Teleport agent's host UUID: its sessions end and it gets nothing signed. */
  readonly server_id?: string;
}

export const LOCK_TARGET_FIELDS = ['user', 'role', 'login', 'server_id'] as const;
/** Teleport's target fields we cannot enforce: refused with a clear message. */
const UNSUPPORTED_TARGETS = ['mfa_device', 'windows_desktop', 'access_request', 'device', 'bot_instance_id', 'join_token'];

export interface LockSpec {
  readonly target: LockTarget;
  /** Shown to whoever is locked out. */
  readonly message?: string;
  /** When the lock stops being in force (ISO 8601 UTC). */
  readonly expires?: string;
  readonly created_at?: string;
  readonly created_by?: string;
}

export type Lock = ResourceHeader<typeof KIND_LOCK, LockVersion, LockSpec>;

/** Teleport's unsupported target fields refuse any value but the empty one. */
const unsupportedTarget = v.optional(v.pipe(v.unknown(), v.check((x) => x === undefined || x === '', 'is not supported by teleport-ts yet')));

/** A lock document. */
const LockDocument = section({
  ...headerEntries(KIND_LOCK, LOCK_VERSIONS, 'v2'),
  spec: section({
    target: section({
      ...Object.fromEntries(UNSUPPORTED_TARGETS.map((field) => [field, unsupportedTarget])),
      user: optString,
      role: optString,
      login: optString,
      server_id: optString,
      node: optString,
    }),
    message: optString,
    expires: optTimestamp,
    created_at: optTimestamp,
    created_by: optString,
  }),
});

/** The target's named fields (`node`, Teleport's older name, read as `server_id`); an empty target is refused. */
function lockTarget(ctx: ParseContext, raw: v.InferOutput<typeof LockDocument>['spec']['target']): LockTarget {
  const target: Record<string, string> = {};
  for (const field of LOCK_TARGET_FIELDS) {
    const value = raw[field];
    if (value !== undefined && value !== null && value !== '') target[field] = value;
  }
  const node = raw.node;
  if (node !== undefined && node !== null && node !== '') {
    if (target['server_id'] !== undefined && target['server_id'] !== node) fail(ctx, 'spec.target.node', 'and spec.target.server_id name different agents');
    target['server_id'] = node;
  }
  if (Object.keys(target).length === 0) {
    fail(ctx, 'spec.target', `must name at least one of ${LOCK_TARGET_FIELDS.join(', ')} (an empty target would lock everyone)`);
  }
  return target;
}

/**
 * Parses and validates a lock document (Teleport's YAML shape; `spec.target.node` is read as `server_id`, as in
 * Teleport) and returns a frozen {@link Lock}.
 *
 * @example
 * ```ts
 * const lock = parseLock({ kind: 'lock', version: 'v2', metadata: { name: randomUUID() }, spec: { target: { user: 'alice' }, message: 'incident 42' } });
 * ```
 *
 * @throws BadParameterError for an empty target, an unknown or unsupported target field, or a malformed field.
 */
export function parseLock(raw: unknown): Lock {
  if (!isRecord(raw)) throw new BadParameterError('lock must be a mapping');
  const name = resourceName(raw, { kind: KIND_LOCK });
  const ctx: ParseContext = { prefix: `lock ${JSON.stringify(name)}` };
  const doc = parseWith(LockDocument, raw, ctx.prefix);
  const spec = doc.spec;
  return deepFreeze({
    kind: KIND_LOCK,
    version: doc.version,
    metadata: toMetadata(name, doc.metadata),
    spec: {
      target: lockTarget(ctx, spec.target),
      ...(spec.message ? { message: spec.message } : {}),
      ...(spec.expires ? { expires: spec.expires } : {}),
      ...(spec.created_at ? { created_at: spec.created_at } : {}),
      ...(spec.created_by ? { created_by: spec.created_by } : {}),
    },
  });
}

/** The plain-data form of a lock, as `tctl get locks` prints it. */
export function lockToWire(lock: Lock): Record<string, unknown> {
  return { kind: lock.kind, version: lock.version, metadata: { ...lock.metadata }, spec: { ...lock.spec, target: { ...lock.spec.target } } };
}

/** Who or what is acting, as a lock sees it. */
export interface LockSubject {
  user?: string;
  roles?: readonly string[];
  logins?: readonly string[];
  /** The agent serving the session. */
  serverId?: string;
}

/** Whether `lock` is in force at `now` (not past `spec.expires` nor `metadata.expires`). */
export function lockInForce(lock: Lock, now: Date): boolean {
  const until = lock.spec.expires ?? lock.metadata.expires;
  return until === undefined || Date.parse(until) > now.getTime();
}

/** Whether every field of the lock's target matches `subject`. */
export function lockMatches(lock: Lock, subject: LockSubject): boolean {
  const t = lock.spec.target;
  if (t.user !== undefined && t.user !== subject.user) return false;
  if (t.role !== undefined && !(subject.roles ?? []).includes(t.role)) return false;
  if (t.login !== undefined && !(subject.logins ?? []).includes(t.login)) return false;
  if (t.server_id !== undefined && t.server_id !== subject.serverId) return false;
  return true;
}

const TARGET_LABELS: Readonly<Record<(typeof LOCK_TARGET_FIELDS)[number], string>> = { user: 'User', role: 'Role', login: 'Login', server_id: 'ServerID' };

/**
 * Teleport's refusal text: `lock targeting User:"alice" is in force: <message>`.
 *
 * @example
 * ```ts
 * lockInForceMessage(lock); // 'lock targeting User:"alice" is in force: incident 42'
 * ```
 */
export function lockInForceMessage(lock: Lock): string {
  const target = LOCK_TARGET_FIELDS.filter((f) => lock.spec.target[f] !== undefined)
    .map((f) => `${TARGET_LABELS[f]}:${JSON.stringify(lock.spec.target[f])}`)
    .join(' ');
  return `lock targeting ${target} is in force${lock.spec.message ? `: ${lock.spec.message}` : ''}`;
}

/** The first lock in force at `now` that matches `subject`, if any. */
export function findLockInForce(locks: readonly Lock[], subject: LockSubject, now: Date): Lock | undefined {
  return locks.find((lock) => lockInForce(lock, now) && lockMatches(lock, subject));
}

/** The code of every refusal because of a lock. */
export const LOCKED_ERROR_CODE = 'ERR_TP_LOCKED';

/**
 * Refuses, with Teleport's message and code `ERR_TP_LOCKED`, when a lock in force at `now` matches `subject`: the one
 * check the auth server, the proxy and the agents all make.
 *
 * @throws AccessDeniedError `lock targeting User:"alice" is in force: <message>`.
 */
export function assertNoLockInForce(locks: readonly Lock[], subject: LockSubject, now: Date): void {
  const lock = findLockInForce(locks, subject, now);
  if (lock !== undefined) throw new AccessDeniedError(lockInForceMessage(lock), { code: LOCKED_ERROR_CODE });
}
