/**
 * Users and their invite / reset tokens. Tokens are random, single use and short-lived; completing one
 * sets the password (12..128 characters) and, when the cluster asks for it, registers an OTP device.
 */

import type { CompleteUserTokenRequest, UserTokenDetails, UserTokenInfo, UserTokenKind } from '@teleport-ts/core/api';
import { checkPasswordPolicy, hashPassword, maskSecret, newSecretToken, newTotpSecret, totpUrl, validateTotp } from '@teleport-ts/core/authn';
import { BadParameterError, NotImplementedError } from '@teleport-ts/core/errors';
import type { TotpDevice, UserToken } from '@teleport-ts/core/services';
import { TRAIT_DB_NAMES, TRAIT_DB_USERS, TRAIT_LOGINS, checkNewName, parseUser, userToWire, type SecondFactor, type User } from '@teleport-ts/core/types';
import { actorName, authorize, type Caller } from './authz.js';
import type { AuthContext } from './context.js';
import { CompleteUserTokenBody, CreateUserBody, INVITE_TOKEN_TTL, RESET_TOKEN_TTL, ResetPasswordTokenBody, UserTokenBody, parseBody } from './requests.js';

/** Whether a second factor setting asks users for an OTP device. */
export function otpRequirement(secondFactor: SecondFactor): 'required' | 'optional' | 'no' {
  switch (secondFactor) {
    case 'otp':
    case 'on':
      return 'required';
    case 'optional':
      return 'optional';
    case 'off':
      return 'no';
    case 'webauthn':
      throw new NotImplementedError('second_factor "webauthn" is not supported yet', { hint: 'set auth_service.authentication.second_factor to otp' });
  }
}

/** Every role of a user must exist: a user with a missing role could never log in. */
async function checkRolesExist(ctx: AuthContext, roles: readonly string[]): Promise<void> {
  await Promise.all(roles.map((r) => ctx.access.getRole(r)));
}

async function newUserToken(ctx: AuthContext, user: string, kind: UserTokenKind, ttlMs: number): Promise<UserToken> {
  const now = ctx.clock.now();
  const otp = otpRequirement((await ctx.authPreference()).spec.second_factor);
  return {
    id: newSecretToken(),
    user,
    kind,
    created: now.toISOString(),
    expires: new Date(now.getTime() + ttlMs).toISOString(),
    ...(otp !== 'no' ? { totpSecret: newTotpSecret() } : {}),
  };
}

function tokenInfo(ctx: AuthContext, token: UserToken): UserTokenInfo {
  return {
    id: token.id,
    user: token.user,
    kind: token.kind,
    expires: token.expires,
    url: `https://${ctx.proxyPublicAddr}/web/${token.kind === 'invite' ? 'invite' : 'reset'}/${token.id}`,
  };
}

/** The audit fields of a token: its kind and masked id, never the id. */
const tokenFields = (token: UserToken) => ({ name: token.user, token_kind: token.kind, token_name: maskSecret(token.id), expires: token.expires });

export async function getUsers(ctx: AuthContext, caller: Caller): Promise<{ items: unknown[] }> {
  authorize(caller, 'user', 'list', 'read');
  const users = await ctx.identity.getUsers();
  return { items: users.map(userToWire) };
}

export async function getUser(ctx: AuthContext, caller: Caller, name: string): Promise<unknown> {
  authorize(caller, 'user', 'read');
  return userToWire(await ctx.identity.getUser(name));
}

/**
 * Creates a user (roles must exist; logins / db users / db names become traits; labels, description and expiry go to
 * the metadata) with an invite token, unless `invite` is false (`tctl create` of a user resource).
 */
export async function createUser(ctx: AuthContext, caller: Caller, rawBody: unknown): Promise<{ user: unknown; token?: UserTokenInfo }> {
  const actor = authorize(caller, 'user', 'create');
  const body = parseBody(CreateUserBody, rawBody);
  const name = checkNewName('user', body.name);
  const roles = body.roles ?? [];
  if (roles.length === 0) throw new BadParameterError('a user needs at least one role', { hint: 'pass --roles, e.g. --roles=access' });
  const invite = body.invite ?? true;
  const ttl = body.ttl ?? INVITE_TOKEN_TTL.default;
  if (!invite && body.ttl !== undefined) throw new BadParameterError('ttl is the lifetime of the invite: it needs invite');
  const { labels, description, expires } = body;
  const traits: Record<string, string[]> = {};
  if (body.traits !== undefined) Object.assign(traits, body.traits);
  for (const [field, trait] of [['logins', TRAIT_LOGINS], ['dbUsers', TRAIT_DB_USERS], ['dbNames', TRAIT_DB_NAMES]] as const) {
    const values = body[field];
    if (values !== undefined) traits[trait] = [...new Set(values.filter((v) => v !== ''))];
  }
  const user = parseUser({
    kind: 'user',
    version: 'v2',
    metadata: { name, ...(labels ? { labels } : {}), ...(description !== undefined ? { description } : {}), ...(expires !== undefined ? { expires } : {}) },
    spec: { roles, traits, created_by: { time: ctx.clock.now().toISOString(), user: { name: actorName(actor) } } },
  });
  await checkRolesExist(ctx, user.spec.roles);
  const token = invite ? await newUserToken(ctx, name, 'invite', ttl) : undefined;
  const created = await ctx.identity.createUser(user, token ? { token } : {});
  await ctx.emit('userCreate', { user: actorName(actor), name, roles: [...user.spec.roles], 'addr.remote': caller.remoteAddr });
  if (token) await ctx.emit('resetPasswordTokenCreate', { user: actorName(actor), ...tokenFields(token) });
  ctx.logger.info('user created', { user: name, by: actorName(actor), invite });
  return token ? { user: userToWire(created), token: tokenInfo(ctx, token) } : { user: userToWire(created) };
}

/** Replaces a user's roles, traits and labels; credentials and the creation record stay. */
export async function updateUser(ctx: AuthContext, caller: Caller, name: string, rawBody: unknown): Promise<unknown> {
  const actor = authorize(caller, 'user', 'update');
  const incoming = parseUser(rawBody);
  if (incoming.metadata.name !== name) throw new BadParameterError(`the user in the body is ${JSON.stringify(incoming.metadata.name)}, not ${JSON.stringify(name)}`);
  const existing = await ctx.identity.getUser(name);
  await checkRolesExist(ctx, incoming.spec.roles);
  // The status is derived from login attempts, and the creation record is the server's: neither comes from the body.
  const { status: _status, ...wire } = userToWire(incoming) as { spec: Record<string, unknown>; status: unknown };
  const merged: User = parseUser({
    ...wire,
    spec: { ...wire.spec, ...(existing.spec.created_by ? { created_by: existing.spec.created_by } : {}) },
  });
  const updated = await ctx.identity.updateUser(merged);
  await ctx.emit('userUpdate', { user: actorName(actor), name, roles: [...updated.spec.roles], 'addr.remote': caller.remoteAddr });
  return userToWire(updated);
}

export async function deleteUser(ctx: AuthContext, caller: Caller, name: string): Promise<Record<string, never>> {
  const actor = authorize(caller, 'user', 'delete');
  await ctx.identity.deleteUser(name);
  await ctx.emit('userDelete', { user: actorName(actor), name, 'addr.remote': caller.remoteAddr });
  ctx.logger.info('user deleted', { user: name, by: actorName(actor) });
  return {};
}

/** A password reset token for an existing user (replacing any earlier token of theirs). */
export async function createResetPasswordToken(ctx: AuthContext, caller: Caller, name: string, rawBody: unknown): Promise<UserTokenInfo> {
  const actor = authorize(caller, 'user', 'update');
  const ttl = parseBody(ResetPasswordTokenBody, rawBody).ttl ?? RESET_TOKEN_TTL.default;
  await ctx.identity.getUser(name);
  const token = await newUserToken(ctx, name, 'reset', ttl);
  await ctx.identity.createUserToken(token);
  await ctx.emit('resetPasswordTokenCreate', { user: actorName(actor), ...tokenFields(token) });
  return tokenInfo(ctx, token);
}

/** What the user sees when opening the link. Unauthenticated: holding the token is the credential. */
export async function getUserToken(ctx: AuthContext, rawBody: unknown): Promise<UserTokenDetails> {
  const token = await ctx.identity.getUserToken(parseBody(UserTokenBody, rawBody).tokenId);
  const details: UserTokenDetails = { user: token.user, kind: token.kind, expires: token.expires };
  if (token.totpSecret !== undefined) {
    details.totp = { secret: token.totpSecret, url: totpUrl({ secret: token.totpSecret, issuer: ctx.clusterName, account: token.user }) };
  }
  return details;
}

/** Sets the password (and OTP device) and uses up the token. Unauthenticated. */
export async function completeUserToken(ctx: AuthContext, caller: Caller, rawBody: unknown): Promise<{ user: string }> {
  const body: CompleteUserTokenRequest = parseBody(CompleteUserTokenBody, rawBody);
  const token = await ctx.identity.getUserToken(body.tokenId);
  const password = body.password;
  checkPasswordPolicy(password);
  const otpCode = body.otpCode;
  const otp = otpRequirement((await ctx.authPreference()).spec.second_factor);
  let totp: TotpDevice | undefined;
  if (otp === 'required' || (otp === 'optional' && otpCode !== undefined)) {
    if (token.totpSecret === undefined) {
      throw new BadParameterError('this link was created before one-time passwords were required', { hint: 'ask an administrator for a new link' });
    }
    if (otpCode === undefined) throw new BadParameterError('a one-time code from your authenticator app is required', { hint: 'add the OTP device shown with the link, then enter its code' });
    const step = validateTotp({ secret: token.totpSecret, code: otpCode, clock: ctx.clock });
    totp = { secret: token.totpSecret, added: ctx.clock.now().toISOString(), lastUsedStep: step };
  }
  await ctx.identity.completeUserToken(token, { passwordHash: await hashPassword(password), ...(totp ? { totp } : {}) });
  await ctx.emit('userPasswordChange', { user: token.user, token_kind: token.kind, mfa_registered: totp !== undefined, 'addr.remote': caller.remoteAddr });
  ctx.logger.info('user token completed', { user: token.user, kind: token.kind });
  return { user: token.user };
}
