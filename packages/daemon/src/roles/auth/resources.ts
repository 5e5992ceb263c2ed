/**
 * Roles, join tokens, the auth preference, certificate authorities (and their rotation), cluster status
 * and the audit log search.
 */

import type { CertAuthorityStatus, ClusterStatus, PingResponse } from '@teleport-ts/core/api';
import { MAX_SEARCH_LIMIT, type SearchEventsResult } from '@teleport-ts/core/audit';
import { maskSecret, newSecretToken, constantTimeEqual } from '@teleport-ts/core/authn';
import {
  CERT_AUTHORITY_TYPES,
  caPin,
  keyAlgorithmOf,
  rotate,
  trustedTlsCerts,
  withoutSecrets,
  type CertAuthority,
  type CertAuthorityType,
  type RotationMode,
  type RotationPhase,
  ROTATION_PHASES,
  advanceAutoRotation,
} from '@teleport-ts/core/ca';
import { AlreadyExistsError, BadParameterError, isCompareFailed } from '@teleport-ts/core/errors';
import {
  authPreferenceToWire,
  parseAuthPreference,
  parseProvisionToken,
  parseRole,
  parseSystemRoles,
  provisionTokenToWire,
  roleToWire,
  type ProvisionToken,
  checkNewName,
} from '@teleport-ts/core/types';
import { VERSION } from '@teleport-ts/core/version';
import { actorName, authorize, type Caller } from './authz.js';
import type { AuthContext } from './context.js';
import { CreateTokenBody, DeleteTokenBody, RotateCertAuthorityBody, parseBody } from './requests.js';

/** Teleport's `defaults.ProvisioningTokenTTL`. */
const JOIN_TOKEN_TTL_MS = 30 * 60_000;

// ---- cluster --------------------------------------------------------------------------------------------

/** Unauthenticated: what a client needs before it logs in. */
export async function ping(ctx: AuthContext): Promise<PingResponse> {
  const pref = await ctx.authPreference();
  return {
    clusterName: ctx.clusterName,
    serverVersion: VERSION,
    authPreference: { type: pref.spec.type, secondFactor: pref.spec.second_factor },
    proxyPublicAddr: ctx.proxyPublicAddr,
  };
}

export function getClusterName(ctx: AuthContext, caller: Caller): { clusterName: string } {
  authorize(caller, 'cluster_name', 'read');
  return { clusterName: ctx.clusterName };
}

function algorithmOf(pem: string | undefined): CertAuthorityStatus['algorithms']['tls'] {
  if (pem === undefined) return undefined;
  try {
    return keyAlgorithmOf(pem) ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function caStatus(ca: CertAuthority): CertAuthorityStatus {
  const active = ca.spec.active_keys;
  const additional = ca.spec.additional_trusted_keys;
  const algorithms: CertAuthorityStatus['algorithms'] = {};
  const tls = algorithmOf(active.tls[0]?.cert);
  const ssh = algorithmOf(active.ssh[0]?.private_key);
  if (tls) algorithms.tls = tls;
  if (ssh) algorithms.ssh = ssh;
  return {
    type: ca.spec.type,
    clusterName: ca.spec.cluster_name,
    rotation: ca.spec.rotation,
    algorithms,
    trustedKeys: { tls: active.tls.length + additional.tls.length, ssh: active.ssh.length + additional.ssh.length },
  };
}

/** What `tctl status` shows: cluster, version, CA pins, and each CA's rotation state and algorithms. */
export async function getClusterStatus(ctx: AuthContext, caller: Caller): Promise<ClusterStatus> {
  authorize(caller, 'cert_authority', 'readnosecrets');
  const cas = await Promise.all(CERT_AUTHORITY_TYPES.map((type) => ctx.certAuthority(type)));
  const host = cas.find((ca) => ca.spec.type === 'host')!;
  return {
    clusterName: ctx.clusterName,
    serverVersion: VERSION,
    caPins: trustedTlsCerts(host).map(caPin),
    certAuthorities: cas.map(caStatus),
  };
}

// ---- roles ----------------------------------------------------------------------------------------------

export async function getRoles(ctx: AuthContext, caller: Caller): Promise<{ items: unknown[] }> {
  authorize(caller, 'role', 'list', 'read');
  return { items: (await ctx.access.getRoles()).map(roleToWire) };
}

/**
 * One role. As in Teleport, a user may always read the roles they hold (so `tsh` can tell which database users
 * and names they are allowed); any other role needs `read` on `role`.
 */
export async function getRole(ctx: AuthContext, caller: Caller, name: string): Promise<unknown> {
  if (caller.kind !== 'user' || !caller.identity.roles.includes(name)) authorize(caller, 'role', 'read');
  return roleToWire(await ctx.access.getRole(name));
}

export async function createRole(ctx: AuthContext, caller: Caller, body: unknown): Promise<unknown> {
  const actor = authorize(caller, 'role', 'create');
  const parsed = parseRole(body);
  checkNewName('role', parsed.metadata.name);
  const role = await ctx.access.createRole(parsed);
  await ctx.emit('roleCreated', { user: actorName(actor), name: role.metadata.name, 'addr.remote': caller.remoteAddr });
  return roleToWire(role);
}

export async function upsertRole(ctx: AuthContext, caller: Caller, name: string, body: unknown): Promise<unknown> {
  const actor = authorize(caller, 'role', 'create', 'update');
  const parsed = parseRole(body);
  if (parsed.metadata.name !== name) throw new BadParameterError(`the role in the body is ${JSON.stringify(parsed.metadata.name)}, not ${JSON.stringify(name)}`);
  checkNewName('role', name);
  const { role, existed } = await ctx.access.upsertRole(parsed);
  await ctx.emit(existed ? 'roleUpdated' : 'roleCreated', { user: actorName(actor), name, 'addr.remote': caller.remoteAddr });
  return roleToWire(role);
}

/** Deletes a role no user holds (a user with a missing role could not log in). */
export async function deleteRole(ctx: AuthContext, caller: Caller, name: string): Promise<Record<string, never>> {
  const actor = authorize(caller, 'role', 'delete');
  const holders = (await ctx.identity.getUsers()).filter((u) => u.spec.roles.includes(name)).map((u) => u.metadata.name);
  if (holders.length > 0) {
    throw new BadParameterError(`role ${JSON.stringify(name)} is still held by ${holders.length === 1 ? 'user' : 'users'} ${holders.slice(0, 5).map((h) => JSON.stringify(h)).join(', ')}`, {
      hint: 'remove the role from those users first (tctl users update --set-roles)',
    });
  }
  await ctx.access.deleteRole(name);
  await ctx.emit('roleDeleted', { user: actorName(actor), name, 'addr.remote': caller.remoteAddr });
  return {};
}

// ---- join tokens ----------------------------------------------------------------------------------------

function staticTokenResource(token: { roles: readonly string[]; token: string }): ProvisionToken {
  return parseProvisionToken({ kind: 'token', version: 'v2', metadata: { name: token.token }, spec: { roles: [...token.roles] } });
}

/** The static token equal to `name`, compared in constant time against every one. */
export function findStaticToken(ctx: AuthContext, name: string): ProvisionToken | undefined {
  let found: ProvisionToken | undefined;
  for (const t of ctx.staticTokens) if (constantTimeEqual(t.token, name) && found === undefined) found = staticTokenResource(t);
  return found;
}

/** Join tokens: dynamic ones and the static ones from teleport.yaml (which never expire). */
export async function getTokens(ctx: AuthContext, caller: Caller): Promise<{ items: unknown[] }> {
  authorize(caller, 'token', 'list', 'read');
  const dynamic = await ctx.provisioning.getTokens();
  return { items: [...ctx.staticTokens.map(staticTokenResource), ...dynamic].map(provisionTokenToWire) };
}

export async function createToken(ctx: AuthContext, caller: Caller, rawBody: unknown): Promise<unknown> {
  const actor = authorize(caller, 'token', 'create');
  const body = parseBody(CreateTokenBody, rawBody);
  const rawRoles = body.roles;
  if (typeof rawRoles !== 'string' && !(Array.isArray(rawRoles) && rawRoles.every((r) => typeof r === 'string'))) {
    throw new BadParameterError('roles must list system roles, e.g. ["Node", "Db"]', { hint: 'pass --type=node,db' });
  }
  const roles = parseSystemRoles(rawRoles as string | string[]);
  const ttl = body.ttl ?? JOIN_TOKEN_TTL_MS;
  const name = checkNewName('token', body.name ?? newSecretToken(), { secret: true });
  const labels = body.labels ?? {};
  if (findStaticToken(ctx, name)) throw new AlreadyExistsError('a join token with this name already exists');
  const expires = new Date(ctx.clock.now().getTime() + ttl).toISOString();
  const token = await ctx.provisioning.createToken(
    parseProvisionToken({ kind: 'token', version: 'v2', metadata: { name, expires, labels }, spec: { roles, join_method: 'token' } }),
  );
  await ctx.emit('joinTokenCreate', {
    user: actorName(actor),
    roles: [...token.spec.roles],
    join_method: 'token',
    token_name: maskSecret(name),
    expires,
    'addr.remote': caller.remoteAddr,
  });
  ctx.logger.info('join token created', { roles: [...token.spec.roles], token_name: maskSecret(name), by: actorName(actor) });
  return provisionTokenToWire(token);
}

export async function deleteToken(ctx: AuthContext, caller: Caller, rawBody: unknown): Promise<Record<string, never>> {
  const actor = authorize(caller, 'token', 'delete');
  const { name } = parseBody(DeleteTokenBody, rawBody);
  if (findStaticToken(ctx, name)) {
    throw new BadParameterError('a static token cannot be deleted through the API', { hint: 'remove it from auth_service.tokens in teleport.yaml' });
  }
  await ctx.provisioning.deleteToken(name);
  ctx.logger.info('join token deleted', { token_name: maskSecret(name), by: actorName(actor) });
  return {};
}

// ---- auth preference ------------------------------------------------------------------------------------

export async function getAuthPreference(ctx: AuthContext, caller: Caller): Promise<unknown> {
  authorize(caller, 'cluster_auth_preference', 'read');
  return authPreferenceToWire(await ctx.authPreference());
}

export async function setAuthPreference(ctx: AuthContext, caller: Caller, body: unknown): Promise<unknown> {
  const actor = authorize(caller, 'cluster_auth_preference', 'create', 'update');
  const pref = await ctx.config.setAuthPreference(parseAuthPreference(body));
  ctx.logger.info('auth preference updated', { second_factor: pref.spec.second_factor, by: actorName(actor) });
  return authPreferenceToWire(pref);
}

// ---- certificate authorities ----------------------------------------------------------------------------

function parseCaType(type: string): CertAuthorityType {
  if (!(CERT_AUTHORITY_TYPES as readonly string[]).includes(type)) {
    throw new BadParameterError(`unknown certificate authority type ${JSON.stringify(type.slice(0, 64))}`, { hint: `use one of ${CERT_AUTHORITY_TYPES.join(', ')}` });
  }
  return type as CertAuthorityType;
}

/** CAs of a type; with their private keys only for callers allowed to `read` them (not just `readnosecrets`). */
export async function getCertAuthorities(ctx: AuthContext, caller: Caller, type: string, withSecrets: boolean): Promise<{ items: CertAuthority[] }> {
  authorize(caller, 'cert_authority', 'list', withSecrets ? 'read' : 'readnosecrets');
  const cas = await ctx.certAuthorities(parseCaType(type));
  return { items: withSecrets ? cas : cas.map(withoutSecrets) };
}

/** Moves one CA (or all) to the next rotation phase, conditionally on the revision read. */
export async function rotateCertAuthority(ctx: AuthContext, caller: Caller, rawBody: unknown): Promise<{ items: CertAuthority[] }> {
  const actor = authorize(caller, 'cert_authority', 'update');
  const body = parseBody(RotateCertAuthorityBody, rawBody);
  const typeText = body.type;
  const types = typeText === undefined || typeText === 'all' ? [...CERT_AUTHORITY_TYPES] : [parseCaType(typeText)];
  const phaseText = body.phase;
  if (phaseText !== undefined && !(ROTATION_PHASES as readonly string[]).includes(phaseText)) {
    throw new BadParameterError(`unknown rotation phase ${JSON.stringify(phaseText.slice(0, 64))}`, { hint: `use one of ${ROTATION_PHASES.join(', ')}` });
  }
  const phase = (phaseText ?? 'init') as RotationPhase;
  const modeText = body.mode ?? 'manual';
  if (modeText !== 'manual' && modeText !== 'auto') throw new BadParameterError('mode must be manual or auto');
  const gracePeriodMs = body.gracePeriod;
  const out: CertAuthority[] = [];
  for (const type of types) {
    const stored = await ctx.trust.getCertAuthority(type, ctx.clusterName);
    const next = await rotate(stored.ca, {
      phase,
      mode: modeText as RotationMode,
      clock: ctx.clock,
      ...(gracePeriodMs !== undefined ? { gracePeriodMs } : {}),
    });
    await ctx.trust.updateCertAuthority(next, stored.revision);
    out.push(withoutSecrets(next));
    ctx.logger.info('certificate authority rotation moved', { type, phase, mode: modeText, by: actorName(actor) });
  }
  ctx.onTrustChanged();
  return { items: out };
}

/**
 * Moves automatic rotations whose next phase is due; another auth server doing it first is fine. Returns the CAs as
 * they are now (to know when the next phase is due).
 */
export async function advanceAutoRotations(ctx: AuthContext): Promise<CertAuthority[]> {
  let changed = false;
  const out: CertAuthority[] = [];
  for (const type of CERT_AUTHORITY_TYPES) {
    const stored = await ctx.trust.getCertAuthority(type, ctx.clusterName);
    const next = advanceAutoRotation(stored.ca, { clock: ctx.clock });
    out.push(next);
    if (next === stored.ca) continue;
    try {
      await ctx.trust.updateCertAuthority(next, stored.revision);
      changed = true;
      ctx.logger.info('automatic rotation moved', { type, phase: next.spec.rotation.phase });
    } catch (err) {
      if (!isCompareFailed(err)) throw err;
    }
  }
  if (changed) ctx.onTrustChanged();
  return out;
}

// ---- audit log ------------------------------------------------------------------------------------------

function queryDate(query: URLSearchParams, name: string): Date {
  const text = query.get(name);
  const date = text === null ? new Date(Number.NaN) : new Date(text);
  if (!Number.isFinite(date.getTime())) throw new BadParameterError(`query parameter ${name} must be an ISO 8601 time`);
  return date;
}

export async function searchEvents(ctx: AuthContext, caller: Caller, query: URLSearchParams): Promise<SearchEventsResult> {
  authorize(caller, 'event', 'list', 'read');
  const limitText = query.get('limit');
  const limit = limitText === null ? 100 : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_SEARCH_LIMIT) throw new BadParameterError(`limit must be an integer from 1 to ${MAX_SEARCH_LIMIT}`);
  const order = query.get('order') ?? 'desc';
  if (order !== 'asc' && order !== 'desc') throw new BadParameterError('order must be asc or desc');
  const startKey = query.get('startKey') ?? undefined;
  return ctx.audit.search({
    from: queryDate(query, 'from'),
    to: queryDate(query, 'to'),
    eventTypes: query.getAll('type'),
    limit,
    order,
    ...(startKey ? { startKey } : {}),
  });
}
