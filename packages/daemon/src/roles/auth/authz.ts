/**
 * Who is calling and what they may do. Every request is identified from its TLS client certificate:
 * verified against the host CA it is a host (a system role: Admin, Proxy, Db, Node...), against the user
 * CA a user (roles from the certificate, loaded from the backend). Without a valid certificate the caller
 * is anonymous, which only the join, ping and user-token endpoints accept.
 */

import type { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { IncomingMessage } from 'node:http';
import type { Clock } from '@teleport-ts/core/clock';
import { AccessDeniedError, isTeleportError } from '@teleport-ts/core/errors';
import { verifyTlsCert, type Identity as CertIdentity, type VerifiedTlsCert } from '@teleport-ts/core/ca';
import { newAccessChecker, type AccessChecker } from '@teleport-ts/core/rbac';
import { SYSTEM_ROLES, assertNoLockInForce, parseRole, type Lock, type LockSubject, type Role, type SystemRole } from '@teleport-ts/core/types';
import type { AccessService } from '@teleport-ts/core/services';

/** A caller with no (valid) client certificate. `reason` says why a presented certificate was refused. */
interface AnonymousCaller {
  kind: 'anonymous';
  remoteAddr: string;
  reason?: string;
}

/** A user, identified by a certificate from the user CA. */
interface UserCaller {
  kind: 'user';
  username: string;
  identity: CertIdentity;
  checker: AccessChecker;
  remoteAddr: string;
}

/** A host or the local admin, identified by a certificate from the host CA. */
export interface BuiltinCaller {
  kind: 'builtin';
  /** `<host-uuid>.<cluster>`. */
  username: string;
  systemRole: SystemRole;
  identity: CertIdentity;
  checker: AccessChecker;
  remoteAddr: string;
}

export type Caller = AnonymousCaller | UserCaller | BuiltinCaller;
export type AuthenticatedCaller = UserCaller | BuiltinCaller;

/**
 * Verified client certificates remembered by {@link newIdentifier} (about 1 KiB each): a fleet of 10,000 agents and
 * its users fit. With 1,024, 10,000 heartbeating agents pushed each other out and nearly every request parsed and
 * verified its certificate again.
 */
const VERIFIED_CERTS_CACHE_SIZE = 16_384;

const RO = ['list', 'read'];
const RW = ['list', 'create', 'read', 'update', 'delete'];

const role = (name: string, rules: { resources: string[]; verbs: string[] }[]): Role =>
  parseRole({ kind: 'role', version: 'v7', metadata: { name }, spec: { allow: { rules } } });

/**
 * Teleport's implicit rules: what every authenticated caller may do (read the cluster name, the auth
 * preference, and CAs without their keys).
 */
const IMPLICIT_ROLE: Role = role('implicit', [
  { resources: ['cluster_name', 'cluster_auth_preference', 'session_recording_config'], verbs: RO },
  { resources: ['cert_authority'], verbs: ['list', 'readnosecrets'] },
]);

/** The fixed permissions of system roles; a system role not listed gets only the implicit rules. */
const SYSTEM_ROLE_RULES: Partial<Record<SystemRole, { resources: string[]; verbs: string[] }[]>> = {
  Admin: [{ resources: ['*'], verbs: ['*'] }],
  Proxy: [
    { resources: ['user', 'role', 'node', 'db_server', 'proxy', 'auth_server', 'lock'], verbs: RO },
    { resources: ['proxy'], verbs: ['create', 'update', 'delete'] },
    { resources: ['event'], verbs: ['create', ...RO] },
    // Recordings of agentless OpenSSH nodes (proxy recording mode).
    { resources: ['session'], verbs: ['create', 'update'] },
    // The host certificate it presents for an agentless OpenSSH node, whose SSH connections it terminates.
    { resources: ['host_cert'], verbs: ['create'] },
  ],
  Db: [
    { resources: ['db_server'], verbs: RW },
    { resources: ['user', 'role', 'lock', 'proxy'], verbs: RO },
    { resources: ['db_client_certificate'], verbs: ['create'] },
    { resources: ['event'], verbs: ['create'] },
  ],
  Node: [
    { resources: ['node'], verbs: RW },
    { resources: ['user', 'role', 'proxy', 'lock'], verbs: RO },
    { resources: ['event'], verbs: ['create'] },
    { resources: ['session'], verbs: ['create', 'update'] },
  ],
};

const SYSTEM_ROLE_CHECKERS = new Map<SystemRole, AccessChecker>(
  SYSTEM_ROLES.map((r) => [r, newAccessChecker({ roles: [role(`system-${r.toLowerCase()}`, SYSTEM_ROLE_RULES[r] ?? []), IMPLICIT_ROLE] })]),
);

/** The trust an auth server checks client certificates against. */
export interface ClientTrust {
  clusterName: string;
  /** Host CA certificates (active and, during a rotation, additional). */
  hostCaCerts: readonly string[];
  userCaCerts: readonly string[];
}

export interface Identifier {
  identify(req: IncomingMessage): Promise<Caller>;
}

/**
 * Builds the function the router calls for every request.
 *
 * @example
 * ```ts
 * const identifier = newIdentifier({ trust: () => currentTrust, access, clock });
 * await router.serve(req, res, (r) => identifier.identify(r));
 * ```
 */
export function newIdentifier(options: IdentifierOptions): Identifier {
  const s: IdentifierState = { options, verified: new Map(), verifiedFor: undefined };
  return { identify: (req) => identify(s, req) };
}

export interface IdentifierOptions {
  trust: () => ClientTrust;
  access: AccessService;
  clock: Clock;
  /** The cluster's locks (a cached view is fine): a locked user or agent gets access-denied on every request. */
  locks?: () => Promise<readonly Lock[]>;
}

interface VerifiedEntry {
  ca: 'host' | 'user';
  result: VerifiedTlsCert;
}

interface IdentifierState {
  readonly options: IdentifierOptions;
  // Verified certificates by SHA-256 fingerprint, least recently used first, for the trust they were verified
  // against: agents and proxies present one certificate for thousands of requests, and parsing and verifying it
  // is most of the cost of identifying them.
  readonly verified: Map<string, VerifiedEntry>;
  verifiedFor: ClientTrust | undefined;
}

/** Verifies the peer certificate against one CA, through the cache. */
type VerifyAgainst = (ca: 'host' | 'user') => VerifiedTlsCert;

/** A client certificate and its SHA-256 fingerprint. */
interface PeerCertificate {
  cert: X509Certificate;
  fingerprint: string;
}

/** The peer certificate of each kept-alive connection, read once: it cannot change on a connection. */
const peerCertificates = new WeakMap<TLSSocket, PeerCertificate | undefined>();

/**
 * The client's certificate. Not getPeerCertificate(), which converts every field to an object; and not a new
 * X509Certificate per request either (a DER parse and a hash, most of identifying a kept-alive agent's heartbeat).
 */
function peerCertificate(socket: TLSSocket): PeerCertificate | undefined {
  if (peerCertificates.has(socket)) return peerCertificates.get(socket);
  // What is remembered must stay this connection's certificate: no TLS 1.2 renegotiation to present another.
  socket.disableRenegotiation?.();
  const cert = socket.getPeerX509Certificate?.();
  const peer = cert === undefined ? undefined : { cert, fingerprint: cert.fingerprint256 };
  peerCertificates.set(socket, peer);
  return peer;
}

async function identify(s: IdentifierState, req: IncomingMessage): Promise<Caller> {
  const remoteAddr = req.socket.remoteAddress ?? '';
  const peer = peerCertificate(req.socket as TLSSocket);
  if (peer === undefined) return { kind: 'anonymous', remoteAddr };
  const trust = s.options.trust();
  if (trust !== s.verifiedFor) {
    // A new trust (CA rotation, first load): nothing verified before holds.
    s.verified.clear();
    s.verifiedFor = trust;
  }
  const fingerprint = peer.fingerprint;
  const known = fingerprint ? recall(s, fingerprint) : undefined;
  const verify: VerifyAgainst = (ca) => {
    if (known?.ca === ca) return known.result;
    const result = verifyTlsCert(peer.cert.toString(), {
      trustedCaCerts: ca === 'host' ? trust.hostCaCerts : trust.userCaCerts,
      clock: s.options.clock,
      usage: 'clientAuth',
    });
    if (fingerprint) remember(s, fingerprint, ca, result);
    return result;
  };
  let reason = 'the client certificate is not signed by a certificate authority of this cluster';
  // A certificate known to be a user's is not tried against the host CA again.
  if (known?.ca !== 'user') {
    const host = identifyHost(verify, trust, remoteAddr);
    if ('caller' in host) {
      const builtin = host.caller;
      if (builtin.kind === 'anonymous') return builtin;
      // Admin is the local tctl (and the auth server itself): what lifts a lock must never be locked out.
      if (builtin.systemRole !== 'Admin' && builtin.systemRole !== 'Auth') await checkLocks(s, { serverId: hostIdOf(builtin.username, trust.clusterName) });
      return builtin;
    }
    reason = host.reason ?? reason;
  }
  return identifyUser(s, verify, remoteAddr, reason);
}

/**
 * Tries the certificate as a host's: a caller to answer with (a builtin, or anonymous for a host certificate
 * that cannot be used), or the reason it failed when it is not a host certificate of this cluster.
 */
function identifyHost(verify: VerifyAgainst, trust: ClientTrust, remoteAddr: string): { caller: BuiltinCaller | AnonymousCaller } | { reason?: string } {
  try {
    const { identity } = verify('host');
    const systemRole = identity.roles[0] as SystemRole | undefined;
    if (identity.roles.length !== 1 || !systemRole || !SYSTEM_ROLE_CHECKERS.has(systemRole)) {
      return { caller: { kind: 'anonymous', remoteAddr, reason: 'the host certificate carries no known system role' } };
    }
    if (identity.teleportCluster !== trust.clusterName) {
      return { caller: { kind: 'anonymous', remoteAddr, reason: 'the host certificate was issued by another cluster' } };
    }
    return { caller: { kind: 'builtin', username: identity.username, systemRole, identity, checker: SYSTEM_ROLE_CHECKERS.get(systemRole)!, remoteAddr } };
  } catch (err) {
    if (!isTeleportError(err)) throw err;
    return err.code !== 'ERR_TP_TLS_UNTRUSTED_CA' ? { reason: err.message } : {};
  }
}

/** Tries the certificate as a user's: loads its roles and checks locks. */
async function identifyUser(s: IdentifierState, verify: VerifyAgainst, remoteAddr: string, reason: string): Promise<Caller> {
  let identity: CertIdentity;
  try {
    identity = verify('user').identity;
  } catch (err) {
    if (!isTeleportError(err)) throw err;
    if (err.code !== 'ERR_TP_TLS_UNTRUSTED_CA') reason = err.message;
    return { kind: 'anonymous', remoteAddr, reason };
  }
  let roles: Role[];
  try {
    roles = await Promise.all(identity.roles.map((name) => s.options.access.getRole(name)));
  } catch (err) {
    if (isTeleportError(err) && err.kind === 'not-found') {
      throw new AccessDeniedError(`access denied: ${err.message}`, { hint: 'log in again to get a certificate with your current roles' });
    }
    throw err;
  }
  await checkLocks(s, { user: identity.username, roles: identity.roles, logins: identity.logins });
  const checker = newAccessChecker({ roles: [...roles, IMPLICIT_ROLE], traits: identity.traits });
  return { kind: 'user', username: identity.username, identity, checker, remoteAddr };
}

/** Refuses the request of a caller a lock in force targets (Teleport rejects locked callers' API requests too). */
async function checkLocks(s: IdentifierState, subject: LockSubject): Promise<void> {
  if (s.options.locks !== undefined) assertNoLockInForce(await s.options.locks(), subject, s.options.clock.now());
}

function remember(s: IdentifierState, fingerprint: string, ca: 'host' | 'user', result: VerifiedTlsCert): void {
  if (s.verified.size >= VERIFIED_CERTS_CACHE_SIZE) s.verified.delete(s.verified.keys().next().value!);
  s.verified.set(fingerprint, { ca, result });
}

function recall(s: IdentifierState, fingerprint: string): VerifiedEntry | undefined {
  const hit = s.verified.get(fingerprint);
  if (hit === undefined) return undefined;
  s.verified.delete(fingerprint);
  const at = s.options.clock.now();
  // Outside its validity the certificate is verified again, to fail with the proper reason.
  if (at < hit.result.notBefore || at > hit.result.notAfter) return undefined;
  s.verified.set(fingerprint, hit);
  return hit;
}

/** The caller, if authenticated; otherwise access-denied naming why a certificate was refused. */
export function requireAuthenticated(caller: Caller): AuthenticatedCaller {
  if (caller.kind !== 'anonymous') return caller;
  throw new AccessDeniedError(`access denied: ${caller.reason ?? 'a valid client certificate is required'}`, {
    code: 'ERR_TP_CLIENT_CERT_REQUIRED',
    hint: 'connect with a certificate issued by this cluster (tsh login, or the admin identity on the auth server)',
  });
}

/** Checks that `caller` may apply each verb to `resource`, as Teleport's `checkRule`. */
export function authorize(caller: Caller, resource: string, ...verbs: string[]): AuthenticatedCaller {
  const authed = requireAuthenticated(caller);
  for (const verb of verbs) authed.checker.checkRule(resource, verb);
  return authed;
}

/** Only the given system roles may call (e.g. the proxy's login path). */
export function requireSystemRole(caller: Caller, ...roles: SystemRole[]): BuiltinCaller {
  const authed = requireAuthenticated(caller);
  if (authed.kind === 'builtin' && roles.includes(authed.systemRole)) return authed;
  throw new AccessDeniedError(`access denied: only ${roles.join(' or ')} may do this`);
}

/** The host UUID of a host certificate's `<uuid>.<cluster>` name. */
export function hostIdOf(username: string, clusterName: string): string {
  const suffix = `.${clusterName}`;
  return username.endsWith(suffix) ? username.slice(0, -suffix.length) : username;
}

/** What audit events record as the actor. */
export function actorName(caller: Caller): string {
  return caller.kind === 'anonymous' ? '' : caller.username;
}
