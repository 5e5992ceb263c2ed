/**
 * Certificate issuance: user certificates (self-service renewal, the proxy's password login), database
 * certificates, and host certificates for agents joining with a token.
 */

import { randomUUID } from 'node:crypto';
import type { DatabaseCerts, HostCerts, OpenSshHostCert, UserCerts } from '@teleport-ts/core/api';
import { AUTH_SERVER_NAME } from '@teleport-ts/core/api';
import {
  DEFAULT_SCRYPT_PARAMS,
  hashPassword,
  isLocked,
  maskSecret,
  recordLoginSuccess,
  reserveLoginAttempt,
  settleLoginFailure,
  validateTotp,
  verifyPassword,
  type AttemptReservation,
} from '@teleport-ts/core/authn';
import {
  formatSshCertificate,
  issueDatabaseClientCert,
  issueDatabaseServerCert,
  issueHostCert,
  issueOpenSshHostCert,
  issueSshHostCert,
  SSH_CERT_MAX_PRINCIPALS,
  issueSshUserCert,
  issueUserCert,
  splitHosts,
  sshSigningKeyPair,
  tlsCaSigner,
  tlsSigningKeyPair,
  trustedSshKeys,
  trustedTlsCerts,
  type CertAuthority,
  type Identity as CertIdentity,
  type RouteToDatabase,
} from '@teleport-ts/core/ca';
import { AccessDeniedError, BadParameterError, isNotFound, isTeleportError } from '@teleport-ts/core/errors';
import { accessCheckerForUser } from '@teleport-ts/core/rbac';
import type { TotpDevice } from '@teleport-ts/core/services';
import { JOIN_TOKEN_ROLES, parseSystemRoles, type ProvisionToken, type SystemRole, type User } from '@teleport-ts/core/types';
import { actorName, authorize, hostIdOf, requireAuthenticated, requireSystemRole, type Caller } from './authz.js';
import type { AuthContext } from './context.js';
import { assertNotLocked } from './locks.js';
import { findStaticToken } from './resources.js';
import {
  AuthenticateUserBody,
  DatabaseCertBody,
  DatabaseClientCertBody,
  HostCertBody,
  RegisterUsingTokenBody,
  UserCertsBody,
  parseBody,
  type ParsedUserCertsBody,
} from './requests.js';
import { otpRequirement } from './users.js';
import { activeRequests, withRequestedRoles, type ActiveRequests } from './request-certs.js';

const HOUR = 3_600_000;
/** Teleport's `apidefaults.CertDuration`: the default TTL of user and `tctl auth sign` certificates. */
const DEFAULT_CERT_TTL_MS = 12 * HOUR;
/** Host certificates live a year (bounded by their CA); agents get new ones by joining again. */
export const HOST_CERT_TTL_MS = 365 * 24 * HOUR;
/** A host name or address that may become a certificate principal. */
const PRINCIPAL = /^[A-Za-z0-9*][A-Za-z0-9.*:_-]{0,252}$/;
/** Longest database client certificate (the db agent asks for one per session). */

/** Expiry of a certificate signed by `ca`: `now + ttl`, but never past the CA certificate itself. */
export function boundedExpiry(ctx: AuthContext, ca: CertAuthority, ttlMs: number): Date {
  const caNotAfter = tlsCaSigner(tlsSigningKeyPair(ca)).notAfter.getTime();
  return new Date(Math.min(ctx.clock.now().getTime() + ttlMs, caNotAfter - 60_000));
}

function hostTrust(hostCa: CertAuthority): { tlsCaCerts: string[]; sshCaKeys: string[] } {
  return { tlsCaCerts: trustedTlsCerts(hostCa), sshCaKeys: trustedSshKeys(hostCa) };
}

function parseRouteToDatabase(body: ParsedUserCertsBody['routeToDatabase']): RouteToDatabase | undefined {
  if (body === undefined) return undefined;
  const route: RouteToDatabase = { serviceName: body.serviceName, protocol: body.protocol };
  const { username, database } = body;
  if (username !== undefined) route.username = username;
  if (database !== undefined) route.database = database;
  return route;
}

interface UserCertsInput {
  sshPublicKey: string;
  tlsPublicKey: string;
  ttlMs: number;
  routeToDatabase?: RouteToDatabase | undefined;
  /** Never issue past this (a user renewing their own certificates cannot extend them). */
  notAfter?: Date;
  /** Approved access requests whose roles (and resource restriction) the certificates carry. */
  requests?: ActiveRequests;
}

/** Issues a user's SSH and TLS certificates from their current roles and traits (and those of approved requests). */
async function issueUserCerts(ctx: AuthContext, actor: string, base: User, input: UserCertsInput): Promise<UserCerts> {
  const requests = input.requests;
  const user = requests ? withRequestedRoles(base, requests) : base;
  const checker = await accessCheckerForUser(user, ctx.access);
  const [userCa, hostCa] = await Promise.all([ctx.certAuthority('user'), ctx.certAuthority('host')]);
  let expires = boundedExpiry(ctx, userCa, checker.certTTL(input.ttlMs));
  if (input.notAfter && expires > input.notAfter) expires = input.notAfter;
  if (requests && expires > requests.notAfter) expires = requests.notAfter;
  let logins = checker.allowedLogins();
  // An SSH certificate without principals is valid for every login: never issue one.
  await assertNotLocked(ctx, { user: user.metadata.name, roles: user.spec.roles, logins });
  if (logins.length === 0) logins = [`-teleport-nologin-${randomUUID()}`];
  const traits: Record<string, string[]> = Object.fromEntries(Object.entries(user.spec.traits).map(([k, v]) => [k, [...v]]));
  const identity: CertIdentity = {
    username: user.metadata.name,
    roles: [...user.spec.roles],
    logins,
    traits,
    routeToCluster: ctx.clusterName,
    teleportCluster: ctx.clusterName,
    expires,
    ...(input.routeToDatabase ? { routeToDatabase: input.routeToDatabase } : {}),
    ...(requests ? { activeRequests: [...requests.ids] } : {}),
    ...(requests?.resources.length ? { allowedResourceIds: [...requests.resources] } : {}),
  };
  const tlsCert = await issueUserCert({ ca: tlsSigningKeyPair(userCa), publicKey: input.tlsPublicKey, identity, clock: ctx.clock });
  const sshCert = await issueSshUserCert({
    ca: sshSigningKeyPair(userCa).private_key,
    publicKey: input.sshPublicKey,
    username: user.metadata.name,
    logins,
    roles: user.spec.roles,
    traits,
    routeToCluster: ctx.clusterName,
    expires,
    clock: ctx.clock,
    permitPortForwarding: checker.canPortForward(),
    permitAgentForwarding: checker.canForwardAgent(),
    ...(requests ? { activeRequests: requests.ids } : {}),
  });
  await ctx.emit('certificateCreate', {
    user: actor,
    cert_type: 'user',
    identity: {
      user: user.metadata.name,
      roles: [...user.spec.roles],
      logins,
      expires: expires.toISOString(),
      ...(input.routeToDatabase ? { route_to_database: { service_name: input.routeToDatabase.serviceName, protocol: input.routeToDatabase.protocol } } : {}),
      ...(requests ? { access_requests: [...requests.ids] } : {}),
      ...(requests?.resources.length ? { allowed_resource_ids: [...requests.resources] } : {}),
    },
  });
  return { sshCert: formatSshCertificate(sshCert), tlsCert, ...hostTrust(hostCa) };
}

function readUserCertsBody<B extends ParsedUserCertsBody>(body: B): { body: B; input: UserCertsInput } {
  return {
    body,
    input: {
      sshPublicKey: body.sshPublicKey,
      tlsPublicKey: body.tlsPublicKey,
      ttlMs: body.ttl ?? DEFAULT_CERT_TTL_MS,
      routeToDatabase: parseRouteToDatabase(body.routeToDatabase),
    },
  };
}

/**
 * User certificates. A user may renew their own (with their current roles, never past their current
 * certificate); the Admin and Proxy system roles may issue them for anyone.
 */
export async function generateUserCerts(ctx: AuthContext, caller: Caller, rawBody: unknown): Promise<UserCerts> {
  const authed = requireAuthenticated(caller);
  const { body, input } = readUserCertsBody(parseBody(UserCertsBody, rawBody));
  const name = body.user;
  if (authed.kind === 'user') {
    if (authed.username !== name) throw new AccessDeniedError('access denied: a user may only generate their own certificates');
    input.notAfter = authed.identity.expires;
  } else {
    requireSystemRole(caller, 'Admin', 'Proxy');
  }
  const user = await ctx.identity.getUser(name);
  // Absent: a renewal keeps the requests of the certificate it renews; `[]` drops them (`tsh request drop`).
  const ids = body.accessRequests ?? (authed.kind === 'user' ? authed.identity.activeRequests : undefined) ?? [];
  if (ids.length > 0) input.requests = await activeRequests(ctx, name, ids);
  return issueUserCerts(ctx, actorName(authed), user, input);
}

/**
 * A server certificate for a database, signed by the `db` CA (`tctl auth sign --format=db`); with `clientAuth` it is
 * also a client certificate, as CockroachDB nodes use theirs.
 */
export async function generateDatabaseCert(ctx: AuthContext, caller: Caller, rawBody: unknown): Promise<DatabaseCerts> {
  const actor = authorize(caller, 'database_certificate', 'create');
  const body = parseBody(DatabaseCertBody, rawBody);
  const publicKey = body.publicKey;
  const hosts = (body.hosts ?? []).filter((h) => h !== '');
  if (hosts.length === 0) throw new BadParameterError('at least one host is required', { hint: 'pass --host=db.example.com' });
  const [dbCa, clientCa] = await Promise.all([ctx.certAuthority('db'), ctx.certAuthority('db_client')]);
  const expires = boundedExpiry(ctx, dbCa, body.ttl ?? DEFAULT_CERT_TTL_MS);
  const clientAuth = body.clientAuth ?? false;
  const cert = await issueDatabaseServerCert({ ca: tlsSigningKeyPair(dbCa), publicKey, hosts, expires, clock: ctx.clock, clientAuth });
  await ctx.emit('certificateCreate', { user: actorName(actor), cert_type: 'db', hosts, expires: expires.toISOString() });
  return { cert, caCerts: trustedTlsCerts(dbCa), clientCaCerts: trustedTlsCerts(clientCa) };
}

/** A client certificate the db agent presents to a database (CN = database user), signed by `db_client`. */
export async function generateDatabaseClientCert(ctx: AuthContext, caller: Caller, rawBody: unknown): Promise<DatabaseCerts> {
  const actor = requireSystemRole(caller, 'Db', 'Admin');
  authorize(caller, 'db_client_certificate', 'create');
  if (actor.systemRole === 'Db') await assertNotLocked(ctx, { serverId: hostIdOf(actor.username, ctx.clusterName) });
  const body = parseBody(DatabaseClientCertBody, rawBody);
  const [dbCa, clientCa] = await Promise.all([ctx.certAuthority('db'), ctx.certAuthority('db_client')]);
  const expires = boundedExpiry(ctx, clientCa, body.ttl ?? HOUR);
  const dbUser = body.dbUser;
  const cert = await issueDatabaseClientCert({ ca: tlsSigningKeyPair(clientCa), publicKey: body.publicKey, dbUser, expires, clock: ctx.clock });
  await ctx.emit('certificateCreate', { user: actorName(actor), cert_type: 'db_client', db_user: dbUser, expires: expires.toISOString() });
  return { cert, caCerts: trustedTlsCerts(dbCa), clientCaCerts: trustedTlsCerts(clientCa) };
}

/**
 * An OpenSSH host certificate for a host that is not a Teleport agent (`tctl auth sign --host --format=openssh`,
 * Teleport's `GenerateHostCert`): principals are the given host names, signed by the host CA's SSH key. Needs
 * `create` on `host_cert`.
 */
export async function generateHostCert(ctx: AuthContext, caller: Caller, rawBody: unknown): Promise<OpenSshHostCert> {
  const actor = authorize(caller, 'host_cert', 'create');
  const body = parseBody(HostCertBody, rawBody);
  const sshPublicKey = body.sshPublicKey;
  const principals = [...new Set((body.principals ?? []).filter((p) => p !== ''))];
  if (principals.length === 0) throw new BadParameterError('at least one host name is required', { hint: 'pass --host=host.example.com,10.0.0.7' });
  if (principals.length > SSH_CERT_MAX_PRINCIPALS) throw new BadParameterError(`at most ${SSH_CERT_MAX_PRINCIPALS} host names are allowed`);
  for (const p of principals) if (!PRINCIPAL.test(p)) throw new BadParameterError(`invalid host name ${JSON.stringify(p.slice(0, 64))}`);
  const hostCa = await ctx.certAuthority('host');
  const expires = boundedExpiry(ctx, hostCa, body.ttl ?? DEFAULT_CERT_TTL_MS);
  const cert = await issueOpenSshHostCert({
    ca: sshSigningKeyPair(hostCa).private_key,
    publicKey: sshPublicKey,
    principals,
    clusterName: ctx.clusterName,
    expires,
    clock: ctx.clock,
  });
  await ctx.emit('certificateCreate', { user: actorName(actor), cert_type: 'host', principals, expires: expires.toISOString(), 'addr.remote': caller.remoteAddr });
  return { sshCert: formatSshCertificate(cert), sshCaKeys: trustedSshKeys(hostCa) };
}

// ---- password login -------------------------------------------------------------------------------------

const invalidCredentials = (): AccessDeniedError =>
  new AccessDeniedError('invalid username, password or second factor', { code: 'ERR_TP_INVALID_CREDENTIALS' });

const userLocked = (name: string, until: string | undefined): AccessDeniedError =>
  new AccessDeniedError(`user ${JSON.stringify(name)} is locked${until === undefined ? '' : ` until ${until}`}: too many failed login attempts`, {
    code: 'ERR_TP_USER_LOCKED',
    hint: 'wait for the lock to expire, or ask an administrator for a password reset',
  });

/** A hash to verify against when the user does not exist, so the answer takes as long either way. */
let dummyHash: Promise<string> | undefined;
const timingDecoy = (): Promise<string> => (dummyHash ??= hashPassword(randomUUID(), { params: DEFAULT_SCRYPT_PARAMS }));

/**
 * The proxy's login path: reserves an attempt (refusing a locked user, or one whose 5 attempts of the window are
 * already counted), checks the password and the second factor, settles the attempt (the 5th failure locks the user
 * for 30 minutes and is already answered "locked"; a success clears the count), audits it (at the end user's address
 * when the proxy reports it), and issues the user's certificates. Only the Proxy and Admin system roles may call it.
 * The reservation is a compare-and-swap in the backend made before the password is read, so concurrent attempts, on
 * one auth server or several, verify at most 5 passwords per window and exactly one of them writes the lock.
 */
export async function authenticateUser(ctx: AuthContext, caller: Caller, rawBody: unknown): Promise<UserCerts & { username: string }> {
  const actor = requireSystemRole(caller, 'Proxy', 'Admin');
  const { body, input } = readUserCertsBody(parseBody(AuthenticateUserBody, rawBody));
  const name = body.user;
  // Through the proxy, the caller is the proxy: it reports the end user's address, which the audit records.
  const clientAddr = body.clientAddr;
  if (clientAddr !== undefined && actor.systemRole !== 'Proxy') {
    throw new AccessDeniedError('access denied: only the Proxy may report a client address');
  }
  const remote = { 'addr.remote': clientAddr ?? caller.remoteAddr, method: 'local' };
  const refuse = async (reason: string, err: Error): Promise<never> => {
    await ctx.emit('userLoginFailure', { user: name, success: false, error: reason, ...remote });
    throw err;
  };

  let user: User;
  try {
    user = await ctx.identity.getUser(name);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    await verifyPassword(body.password, await timingDecoy());
    return refuse('user not found', invalidCredentials());
  }
  await reserveAttempt(ctx, name, refuse);
  const { failure, acceptedOtp } = await checkCredentials(ctx, name, body.password, body.otp);
  if (failure !== undefined) return refuse(failure, await settleFailure(ctx, name));
  const after = await ctx.identity.updateLoginAttempts(name, (a) => recordLoginSuccess(a, ctx.clock));
  // Locked by a concurrent attempt while this one was being checked: the lock wins.
  if (isLocked(after, ctx.clock)) return refuse('user is locked', userLocked(name, after.lockedUntil));
  try {
    await assertNotLocked(ctx, { user: name, roles: user.spec.roles });
  } catch (err) {
    // The right password does not get a locked user in: audited as a failed login with the lock's message.
    return refuse((err as Error).message, err as Error);
  }
  await ctx.emit('userLogin', { user: name, success: true, mfa: acceptedOtp !== undefined, ...remote });
  const certs = await issueUserCerts(ctx, actorName(actor), user, input);
  return { username: name, ...certs };
}

/** The author of the automatic lock after failed logins: the cluster itself (Teleport's `teleport.UserSystem`). */
const LOCKOUT_AUTHOR = 'system';

/** Counts this attempt in the backend before any credential is read, or refuses (through `refuse`, which audits). */
async function reserveAttempt(ctx: AuthContext, name: string, refuse: (reason: string, err: Error) => Promise<never>): Promise<void> {
  let outcome = 'reserved' as AttemptReservation;
  const state = await ctx.identity.updateLoginAttempts(name, (current) => {
    const reserved = reserveLoginAttempt(current, ctx.clock);
    outcome = reserved.outcome;
    return reserved.outcome === 'reserved' ? reserved.state : current;
  });
  if (outcome === 'locked') await refuse('user is locked', userLocked(name, state.lockedUntil));
  // Five attempts of the window are counted, some still being checked (or left by an auth server that stopped).
  if (outcome === 'exhausted') await refuse('too many login attempts in progress', userLocked(name, undefined));
}

/** Settles a failed attempt; the one write that locks the user is audited as the lock. Returns the error to answer. */
async function settleFailure(ctx: AuthContext, name: string): Promise<AccessDeniedError> {
  let lockedNow = false;
  const next = await ctx.identity.updateLoginAttempts(name, (current) => {
    const settled = settleLoginFailure(current, ctx.clock);
    lockedNow = settled !== current && isLocked(settled, ctx.clock);
    return settled;
  });
  if (!isLocked(next, ctx.clock)) return invalidCredentials();
  if (lockedNow) {
    await ctx.emit('lockCreated', { user: LOCKOUT_AUTHOR, target: { user: name }, message: next.lockReason ?? '', expires: next.lockedUntil ?? '' });
    ctx.logger.warn('user locked after failed login attempts', { user: name, until: next.lockedUntil });
  }
  // The attempt that locks the user already says so, as Teleport does; the audit keeps the real reason.
  return userLocked(name, next.lockedUntil);
}

/** An accepted one-time code: the device it was checked against and its TOTP step. */
interface AcceptedOtp {
  device: { device: TotpDevice; revision: string };
  step: number;
}

/**
 * Checks the password and, when the cluster asks for one, the one-time code, and records an accepted code's step
 * so it cannot be replayed. `failure` says why the login fails (for the audit), undefined when it succeeds.
 */
async function checkCredentials(
  ctx: AuthContext,
  name: string,
  password: string,
  otp: string | undefined,
): Promise<{ failure: string | undefined; acceptedOtp: AcceptedOtp | undefined }> {
  let failure: string | undefined;
  let acceptedOtp: AcceptedOtp | undefined;
  const hash = await ctx.identity.getPasswordHash(name);
  if (hash === undefined) {
    await verifyPassword(password, await timingDecoy());
    failure = 'user has no password set';
  } else if (!(await verifyPassword(password, hash))) {
    failure = 'invalid password';
  } else {
    const device = await ctx.identity.getTotpDevice(name);
    const need = otpRequirement((await ctx.authPreference()).spec.second_factor);
    if (need === 'required' || (need === 'optional' && device !== undefined)) {
      if (device === undefined) failure = 'user has no OTP device';
      else if (otp === undefined) failure = 'missing one-time code';
      else {
        try {
          acceptedOtp = { device, step: validateTotp({ secret: device.device.secret, code: otp, clock: ctx.clock, lastUsedStep: device.device.lastUsedStep }) };
        } catch (err) {
          if (!isTeleportError(err)) throw err;
          failure = err.message;
        }
      }
    }
  }
  if (acceptedOtp !== undefined) {
    try {
      await ctx.identity.setTotpLastUsedStep(name, acceptedOtp.device, acceptedOtp.step);
    } catch (err) {
      if (!isTeleportError(err)) throw err;
      failure = 'one-time code already used';
    }
  }
  return { failure, acceptedOtp };
}

// ---- joining --------------------------------------------------------------------------------------------

/**
 * An agent joins with a token: the token must exist (static tokens compared in constant time), be
 * unexpired and allow the requested system role. The agent gets host certificates (TLS and SSH) for its
 * host UUID and role. Every attempt is audited with the token masked.
 */
export async function registerUsingToken(ctx: AuthContext, caller: Caller, rawBody: unknown): Promise<HostCerts> {
  const body = parseBody(RegisterUsingTokenBody, rawBody);
  const { token: tokenName, hostId, nodeName } = body;
  const roles = parseSystemRoles(body.role);
  const role = roles[0];
  if (roles.length !== 1 || role === undefined || !(JOIN_TOKEN_ROLES as readonly string[]).includes(role)) {
    throw new BadParameterError('role must be one system role to join as', { hint: `use one of ${JOIN_TOKEN_ROLES.join(', ')}` });
  }
  const principals = body.additionalPrincipals ?? [];
  for (const p of principals) if (!PRINCIPAL.test(p)) throw new BadParameterError(`invalid principal ${JSON.stringify(p.slice(0, 64))}`);
  const { tlsPublicKey, sshPublicKey } = body;

  const fields = {
    host_id: hostId,
    node_name: nodeName,
    role,
    method: 'token',
    token_name: maskSecret(tokenName),
    'addr.remote': caller.remoteAddr,
  };
  const refuse = async (reason: string, err: Error): Promise<never> => {
    await ctx.emit('instanceJoinFailure', { ...fields, success: false, error: reason });
    ctx.logger.warn('join refused', { ...fields, reason });
    throw err;
  };

  await checkJoinToken(ctx, tokenName, role, refuse);
  const certs = await issueJoinCerts(ctx, { hostId, nodeName, role, principals, tlsPublicKey, sshPublicKey });
  await ctx.emit('instanceJoin', { ...fields, success: true });
  ctx.logger.info('host joined', { host_id: hostId, node_name: nodeName, role });
  return certs;
}

/** Refuses (through `refuse`, which audits) a token that does not exist, has expired, or does not allow `role`. */
async function checkJoinToken(ctx: AuthContext, tokenName: string, role: string, refuse: (reason: string, err: Error) => Promise<never>): Promise<void> {
  const token: ProvisionToken | undefined = findStaticToken(ctx, tokenName) ?? (await ctx.provisioning.findToken(tokenName));
  if (token === undefined) {
    return refuse(
      'invalid or expired token',
      new AccessDeniedError('the join token is not valid: it has expired, was deleted or never existed', {
        code: 'ERR_TP_JOIN_TOKEN_INVALID',
        hint: 'create a new token with `tctl tokens add --type=<role>`',
      }),
    );
  }
  const expires = token.metadata.expires;
  if (expires !== undefined && Date.parse(expires) <= ctx.clock.now().getTime()) {
    return refuse('expired token', new AccessDeniedError('the join token has expired', { code: 'ERR_TP_JOIN_TOKEN_INVALID', hint: 'create a new token with `tctl tokens add`' }));
  }
  if (!token.spec.roles.includes(role as (typeof token.spec.roles)[number])) {
    return refuse(
      `token does not allow role ${role}`,
      new AccessDeniedError(`the join token does not allow joining as ${role}; it allows ${token.spec.roles.join(', ')}`, {
        code: 'ERR_TP_JOIN_TOKEN_ROLE',
        hint: `create a token with --type=${role.toLowerCase()}`,
      }),
    );
  }
}

/** The host certificates (TLS and SSH) of a joining agent, with the host CA to trust. */
export async function issueJoinCerts(
  ctx: AuthContext,
  req: { hostId: string; nodeName: string; role: string; principals: readonly string[]; tlsPublicKey: string; sshPublicKey: string },
): Promise<HostCerts> {
  const { hostId, nodeName, role, principals, tlsPublicKey, sshPublicKey } = req;
  // From the backend: a renewal right after a rotation moved must be signed by the key that signs now.
  const hostCa = (await ctx.trust.getCertAuthority('host', ctx.clusterName)).ca;
  const expiry = boundedExpiry(ctx, hostCa, HOST_CERT_TTL_MS);
  // A proxy answers `teleport-auth` itself while the auth server is unreachable (from its cache): its certificate
  // carries the auth API's server name, as Teleport's host certificates do.
  const { dnsNames, ipAddresses } = splitHosts([nodeName, ...principals, ...(role === 'Proxy' ? [AUTH_SERVER_NAME] : [])]);
  const tlsCert = await issueHostCert({
    ca: tlsSigningKeyPair(hostCa),
    publicKey: tlsPublicKey,
    hostId,
    clusterName: ctx.clusterName,
    systemRole: role as SystemRole,
    dnsNames,
    ipAddresses,
    expires: expiry,
    clock: ctx.clock,
  });
  const sshCert = await issueSshHostCert({
    ca: sshSigningKeyPair(hostCa).private_key,
    publicKey: sshPublicKey,
    hostId,
    clusterName: ctx.clusterName,
    nodeName,
    systemRole: role,
    // A node is also reached as `<nodename>.<cluster>` (OpenSSH clients using `tsh config`'s Host pattern).
    additionalPrincipals: role === 'Node' ? [`${nodeName}.${ctx.clusterName}`, ...principals] : principals,
    expires: expiry,
    clock: ctx.clock,
  });
  return { tlsCert, sshCert: formatSshCertificate(sshCert), ...hostTrust(hostCa) };
}
