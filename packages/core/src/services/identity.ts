import { key, rangeEnd } from '../backend/keys.js';
import type { Backend, ConditionalAction, Item } from '../backend/types.js';
import { isLocked, NO_LOGIN_ATTEMPTS, type LoginAttempts } from '../authn/lockout.js';
import type { Clock } from '../clock/index.js';
import { AlreadyExistsError, BadParameterError, CompareFailedError, NotFoundError, isCompareFailed, isNotFound } from '../errors/index.js';
import { parseUser, userToWire, type User, type UserStatus } from '../types/index.js';
import { decodeJson, encodeJson, getAllWithPrefix, getOptional, storedForm, updateWithRetry, withRevision } from './items.js';

const USERS_PREFIX = '/web/users/';
const USER_TOKENS_PREFIX = '/usertoken/';

/** Backend keys of one user's records, after Teleport's `/web/users/<name>/...`. */
export const userKeys = Object.freeze({
  /** The user resource (no credentials). */
  params: (name: string): string => key('web', 'users', name, 'params'),
  /** The scrypt password hash. */
  password: (name: string): string => key('web', 'users', name, 'pwd'),
  /** The TOTP device. */
  totp: (name: string): string => key('web', 'users', name, 'mfa', 'totp'),
  /** Failed login attempts and the lock they caused. */
  attempts: (name: string): string => key('web', 'users', name, 'attempts'),
  /** Prefix of everything stored for the user. */
  prefix: (name: string): string => `${key('web', 'users', name)}/`,
});

/** Backend key of a user token (`/usertoken/<id>`). */
export function userTokenKey(id: string): string {
  return key('usertoken', id);
}

/** A one-time-password device (RFC 6238). `secret` is a secret. */
export interface TotpDevice {
  /** Base32 secret. */
  secret: string;
  /** When it was added (ISO 8601). */
  added: string;
  /** The TOTP step of the last code accepted, so a code is never accepted twice. */
  lastUsedStep?: number;
}

/** An invite or password reset token. `id` and `totpSecret` are secrets; nothing logs them. */
export interface UserToken {
  id: string;
  user: string;
  kind: 'invite' | 'reset';
  /** ISO 8601. */
  created: string;
  /** ISO 8601; the backend forgets the token at this instant. */
  expires: string;
  /** The OTP secret the user registers while completing the token, when the cluster asks for OTP. */
  totpSecret?: string;
}

/** New credentials set by completing a user token. */
export interface NewCredentials {
  passwordHash: string;
  /** The OTP device; absent removes any previous one. */
  totp?: TotpDevice;
}

/**
 * Users and their credentials (Teleport's `Identity` service): the user resource, password hash, OTP
 * device, failed login attempts, and invite/reset tokens. The user's `status` is not stored: it is read
 * from the login attempts, so a lock lapses with the clock and nothing has to unlock it.
 */
export interface IdentityService {
  getUser(name: string): Promise<User>;
  getUsers(): Promise<User[]>;
  /** Creates the user and, atomically with it, its invite token. Throws already-exists. */
  createUser(user: User, options?: { token?: UserToken }): Promise<User>;
  /** Replaces an existing user (roles, traits...). Throws not-found. */
  updateUser(user: User): Promise<User>;
  /** Deletes the user, its credentials and its tokens. Throws not-found. */
  deleteUser(name: string): Promise<void>;

  getPasswordHash(name: string): Promise<string | undefined>;
  getTotpDevice(name: string): Promise<{ device: TotpDevice; revision: string } | undefined>;
  /** Records the step of an accepted OTP code, if the device did not change meanwhile (else compare-failed). */
  setTotpLastUsedStep(name: string, device: { device: TotpDevice; revision: string }, step: number): Promise<void>;

  getLoginAttempts(name: string): Promise<LoginAttempts>;
  /**
   * Read-modify-write of the login attempts with compare-and-swap, safe with several auth servers: `update` may run
   * more than once (after a lost race) and its last run is what was written. Returning `current` itself writes nothing.
   */
  updateLoginAttempts(name: string, update: (current: LoginAttempts) => LoginAttempts): Promise<LoginAttempts>;

  /** Stores a token, first deleting the user's other tokens (one live token per user, as in Teleport). */
  createUserToken(token: UserToken): Promise<void>;
  /** The token, or not-found when it does not exist, was used, or has expired. */
  getUserToken(id: string): Promise<UserToken & { revision: string }>;
  getUserTokens(): Promise<UserToken[]>;
  /**
   * Uses a token: in one atomic write, deletes it (only if unchanged since read, so it works once), sets
   * the password and OTP device, and clears failed login attempts. Throws not-found when the token was
   * used or expired meanwhile.
   */
  completeUserToken(token: UserToken & { revision: string }, credentials: NewCredentials): Promise<void>;
}

export interface IdentityServiceOptions {
  backend: Backend;
  /**
   * Where `getUser`/`getUsers` read the user resource and its login attempts (a cache: `core/cache`); default
   * `backend`. Credentials, attempts before a write and tokens are always read from `backend`.
   */
  reads?: Backend;
  /** Decides whether a lock holds; default the backend's clock. */
  clock?: Clock;
}

const NOT_FOUND_TOKEN = (): NotFoundError =>
  new NotFoundError('the user token is not found: it has expired or has already been used', {
    code: 'ERR_TP_USER_TOKEN_NOT_FOUND',
    hint: 'ask an administrator for a new link',
  });

function parseAttempts(raw: unknown): LoginAttempts {
  const r = (raw ?? {}) as { failures?: unknown; lockedUntil?: unknown; lockReason?: unknown };
  const failures = Array.isArray(r.failures) ? r.failures.filter((f): f is string => typeof f === 'string') : [];
  return {
    failures,
    ...(typeof r.lockedUntil === 'string' ? { lockedUntil: r.lockedUntil } : {}),
    ...(typeof r.lockReason === 'string' ? { lockReason: r.lockReason } : {}),
  };
}

function parseUserToken(raw: unknown): UserToken {
  const t = (raw ?? {}) as Record<string, unknown>;
  if (typeof t['id'] !== 'string' || typeof t['user'] !== 'string' || (t['kind'] !== 'invite' && t['kind'] !== 'reset')) {
    throw new BadParameterError('stored user token is malformed');
  }
  return {
    id: t['id'],
    user: t['user'],
    kind: t['kind'],
    created: String(t['created'] ?? ''),
    expires: String(t['expires'] ?? ''),
    ...(typeof t['totpSecret'] === 'string' ? { totpSecret: t['totpSecret'] } : {}),
  };
}

function tokenItem(token: UserToken): { key: string; value: Uint8Array; expires: Date } {
  const expires = new Date(token.expires);
  if (!Number.isFinite(expires.getTime())) throw new BadParameterError('a user token needs a valid expiry');
  return { key: userTokenKey(token.id), value: encodeJson(token), expires };
}

/** A user token id as a key segment; anything else cannot be a token (and key() would quote it). */
const isTokenId = (id: string): boolean => typeof id === 'string' && /^[A-Za-z0-9_-]{1,256}$/.test(id);

/** What every step of the identity service works on. */
interface IdentityState {
  readonly backend: Backend;
  /** Reads of the user resource (possibly a cache). */
  readonly reads: Backend;
  /** Decides whether a lock holds. */
  readonly clock: Clock;
}

/**
 * @example
 * ```ts
 * const identity = newIdentityService({ backend, clock });
 * await identity.createUser(alice, { token: invite });
 * ```
 */
export function newIdentityService(options: IdentityServiceOptions): IdentityService {
  const s: IdentityState = { backend: options.backend, reads: options.reads ?? options.backend, clock: options.clock ?? options.backend.clock };
  return {
    getUser: (name) => getUser(s, name),
    getUsers: () => getUsers(s),
    createUser: (user, opts) => createUser(s, user, opts),
    updateUser: (user) => updateUser(s, user),
    deleteUser: (name) => deleteUser(s, name),
    getPasswordHash: (name) => getPasswordHash(s, name),
    getTotpDevice: (name) => getTotpDevice(s, name),
    setTotpLastUsedStep: (name, current, step) => setTotpLastUsedStep(s, name, current, step),
    getLoginAttempts: (name) => getLoginAttempts(s, name),
    updateLoginAttempts: (name, update) => updateLoginAttempts(s, name, update),
    createUserToken: (token) => createUserToken(s, token),
    getUserToken: (id) => getUserToken(s, id),
    getUserTokens: () => getUserTokens(s),
    completeUserToken: (token, credentials) => completeUserToken(s, token, credentials),
  };
}

// --- users ---

function statusFrom(s: IdentityState, attempts: LoginAttempts): UserStatus {
  return isLocked(attempts, s.clock)
    ? {
        is_locked: true,
        ...(attempts.lockedUntil !== undefined ? { locked_until: attempts.lockedUntil } : {}),
        ...(attempts.lockReason !== undefined ? { lock_reason: attempts.lockReason } : {}),
      }
    : { is_locked: false };
}

function toUser(s: IdentityState, params: Item, attempts: Item | undefined): User {
  const raw = withRevision(decodeJson(params), params) as Record<string, unknown>;
  return parseUser({ ...raw, status: statusFrom(s, attempts === undefined ? NO_LOGIN_ATTEMPTS : parseAttempts(decodeJson(attempts))) });
}

function userValue(user: User): Uint8Array {
  const { status: _status, ...wire } = storedForm(userToWire(user));
  return encodeJson(wire);
}

const userNotFound = (name: string): NotFoundError => new NotFoundError(`user ${JSON.stringify(name)} is not found`);

async function getUser(s: IdentityState, name: string): Promise<User> {
  const [params, attempts] = await Promise.all([getOptional(s.reads, userKeys.params(name)), getOptional(s.reads, userKeys.attempts(name))]);
  if (params === undefined) throw userNotFound(name);
  return toUser(s, params, attempts);
}

async function getUsers(s: IdentityState): Promise<User[]> {
  // One range read returns every user's records; group them by user name.
  const byUser = new Map<string, { params?: Item; attempts?: Item }>();
  for (const item of await getAllWithPrefix(s.reads, USERS_PREFIX)) {
    const rest = item.key.slice(USERS_PREFIX.length);
    const slash = rest.indexOf('/');
    if (slash <= 0) continue;
    const name = rest.slice(0, slash);
    const entry = byUser.get(name) ?? {};
    const sub = rest.slice(slash + 1);
    if (sub === 'params') entry.params = item;
    else if (sub === 'attempts') entry.attempts = item;
    byUser.set(name, entry);
  }
  const users: User[] = [];
  for (const entry of byUser.values()) if (entry.params) users.push(toUser(s, entry.params, entry.attempts));
  return users;
}

async function createUser(s: IdentityState, user: User, opts: { token?: UserToken } = {}): Promise<User> {
  const name = user.metadata.name;
  const actions: ConditionalAction[] = [
    { key: userKeys.params(name), condition: { kind: 'not-exists' }, action: { kind: 'put', item: { value: userValue(user) } } },
    // Leftovers of an earlier user of the same name must not carry over.
    { key: userKeys.password(name), condition: { kind: 'whatever' }, action: { kind: 'delete' } },
    { key: userKeys.totp(name), condition: { kind: 'whatever' }, action: { kind: 'delete' } },
    { key: userKeys.attempts(name), condition: { kind: 'whatever' }, action: { kind: 'delete' } },
  ];
  if (opts.token) {
    if (opts.token.user !== name) throw new TypeError('createUser: the token is for another user');
    const item = tokenItem(opts.token);
    actions.push({ key: item.key, condition: { kind: 'not-exists' }, action: { kind: 'put', item: { value: item.value, expires: item.expires } } });
  }
  try {
    await s.backend.atomicWrite(actions);
  } catch (err) {
    if (isCompareFailed(err)) throw new AlreadyExistsError(`user ${JSON.stringify(name)} already exists`);
    throw err;
  }
  return getUser(s, name);
}

async function updateUser(s: IdentityState, user: User): Promise<User> {
  const name = user.metadata.name;
  try {
    await s.backend.update({ key: userKeys.params(name), value: userValue(user) });
  } catch (err) {
    if (isNotFound(err)) throw userNotFound(name);
    throw err;
  }
  return getUser(s, name);
}

async function deleteUser(s: IdentityState, name: string): Promise<void> {
  const params = userKeys.params(name);
  try {
    await s.backend.delete(params);
  } catch (err) {
    if (isNotFound(err)) throw userNotFound(name);
    throw err;
  }
  const prefix = userKeys.prefix(name);
  await s.backend.deleteRange(prefix, rangeEnd(prefix));
  const deletes = await deleteTokensOf(s, name);
  if (deletes.length > 0) await s.backend.atomicWrite(deletes);
}

// --- credentials and login attempts ---

async function getPasswordHash(s: IdentityState, name: string): Promise<string | undefined> {
  const item = await getOptional(s.backend, userKeys.password(name));
  if (item === undefined) return undefined;
  const hash = decodeJson(item);
  if (typeof hash !== 'string') throw new BadParameterError(`stored password of user ${JSON.stringify(name)} is malformed`);
  return hash;
}

async function getTotpDevice(s: IdentityState, name: string): Promise<{ device: TotpDevice; revision: string } | undefined> {
  const item = await getOptional(s.backend, userKeys.totp(name));
  if (item === undefined) return undefined;
  const d = decodeJson(item) as Partial<TotpDevice> | null;
  if (typeof d?.secret !== 'string') throw new BadParameterError(`stored OTP device of user ${JSON.stringify(name)} is malformed`);
  const device: TotpDevice = { secret: d.secret, added: String(d.added ?? '') };
  if (typeof d.lastUsedStep === 'number') device.lastUsedStep = d.lastUsedStep;
  return { device, revision: item.revision };
}

async function setTotpLastUsedStep(s: IdentityState, name: string, current: { device: TotpDevice; revision: string }, step: number): Promise<void> {
  try {
    await s.backend.conditionalUpdate({
      key: userKeys.totp(name),
      value: encodeJson({ ...current.device, lastUsedStep: step }),
      revision: current.revision,
    });
  } catch (err) {
    if (isCompareFailed(err) || isNotFound(err)) throw new CompareFailedError('the one-time code was used concurrently, try the next one');
    throw err;
  }
}

async function getLoginAttempts(s: IdentityState, name: string): Promise<LoginAttempts> {
  const item = await getOptional(s.backend, userKeys.attempts(name));
  return item === undefined ? NO_LOGIN_ATTEMPTS : parseAttempts(decodeJson(item));
}

async function updateLoginAttempts(s: IdentityState, name: string, update: (current: LoginAttempts) => LoginAttempts): Promise<LoginAttempts> {
  let result: LoginAttempts = NO_LOGIN_ATTEMPTS;
  await updateWithRetry(s.backend, userKeys.attempts(name), (current) => {
    const before = current === undefined ? NO_LOGIN_ATTEMPTS : parseAttempts(decodeJson(current));
    result = update(before);
    // The same object back means "no change": nothing is written, so a check that finds nothing to do costs one read.
    return result === before ? undefined : { value: result };
  });
  return result;
}

// --- user tokens ---

/** Actions deleting every token of a user (at most one is live: creating one deletes the others). */
async function deleteTokensOf(s: IdentityState, user: string): Promise<ConditionalAction[]> {
  return (await getUserTokens(s))
    .filter((t) => t.user === user)
    .map((t) => ({ key: userTokenKey(t.id), condition: { kind: 'whatever' }, action: { kind: 'delete' } }));
}

async function createUserToken(s: IdentityState, token: UserToken): Promise<void> {
  const item = tokenItem(token);
  const actions = await deleteTokensOf(s, token.user);
  actions.push({ key: item.key, condition: { kind: 'not-exists' }, action: { kind: 'put', item: { value: item.value, expires: item.expires } } });
  await s.backend.atomicWrite(actions);
}

async function getUserToken(s: IdentityState, id: string): Promise<UserToken & { revision: string }> {
  if (!isTokenId(id)) throw NOT_FOUND_TOKEN();
  const item = await getOptional(s.backend, userTokenKey(id));
  if (item === undefined) throw NOT_FOUND_TOKEN();
  return { ...parseUserToken(decodeJson(item)), revision: item.revision };
}

async function getUserTokens(s: IdentityState): Promise<UserToken[]> {
  return (await getAllWithPrefix(s.backend, USER_TOKENS_PREFIX)).map((item) => parseUserToken(decodeJson(item)));
}

async function completeUserToken(s: IdentityState, token: UserToken & { revision: string }, credentials: NewCredentials): Promise<void> {
  const name = token.user;
  try {
    await s.backend.atomicWrite([
      { key: userTokenKey(token.id), condition: { kind: 'revision', revision: token.revision }, action: { kind: 'delete' } },
      { key: userKeys.params(name), condition: { kind: 'exists' }, action: { kind: 'nop' } },
      { key: userKeys.password(name), condition: { kind: 'whatever' }, action: { kind: 'put', item: { value: encodeJson(credentials.passwordHash) } } },
      credentials.totp
        ? { key: userKeys.totp(name), condition: { kind: 'whatever' }, action: { kind: 'put', item: { value: encodeJson(credentials.totp) } } }
        : { key: userKeys.totp(name), condition: { kind: 'whatever' }, action: { kind: 'delete' } },
      { key: userKeys.attempts(name), condition: { kind: 'whatever' }, action: { kind: 'delete' } },
    ]);
  } catch (err) {
    if (isCompareFailed(err)) throw NOT_FOUND_TOKEN();
    throw err;
  }
}
