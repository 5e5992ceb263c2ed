/**
 * The auth API: its wire shapes and the typed client (`newAuthClient`). Method names follow Teleport's
 * `api/client` (`getUsers`, `upsertRole`, `generateUserCerts`, `registerUsingToken`...). Resources travel
 * in their plain-data form (`userToWire`, `roleToWire`...) and are parsed back with the `core/types`
 * parsers, so callers get the same validated, frozen objects the server holds. Durations are
 * milliseconds; times are ISO 8601 strings on the wire.
 */

import type { AuditEvent, SearchEventsResult, SearchOrder } from '../audit/types.js';
import type { CertAuthority, CertAuthorityType, Rotation, RotationMode, RotationPhase } from '../ca/authority.js';
import type { KeyAlgorithm } from '../ca/keys.js';
import type { BackendEvent, Item } from '../backend/types.js';
import type { RouteToDatabase } from '../ca/tlsca/identity.js';
import { BadParameterError } from '../errors/index.js';
import type { DatabaseProtocol } from '../config/index.js';
import {
  authPreferenceToWire,
  parseAuthPreference,
  parseProvisionToken,
  parseRole,
  parseLock,
  parseNode,
  parseListedNode,
  nodeToWire,
  type NodeServer,
  parseAccessRequest,
  type AccessRequest,
  lockToWire,
  type Lock,
  parseUser,
  roleToWire,
  userToWire,
  type AuthPreference,
  type ProvisionToken,
  type Role,
  type SecondFactor,
  type SystemRole,
  type Traits,
  type User,
} from '../types/index.js';
import { parseWith, type v } from '../schema/index.js';
import { newApiClient, type ApiClient, type ApiErrorHints, type ApiTlsOptions, type HttpMethod } from './client.js';
import type { Identity } from './identity.js';
import { recordingMethods, type RecordingsApi } from './recordings.js';
import {
  AuthenticateUserResponse,
  CertAuthoritiesResponse,
  ClusterNameResponse,
  ClusterStatusSchema,
  CreateUserResponse,
  DatabaseCertsSchema,
  DatabaseServerSchema,
  parseDatabaseServers,
  HostCertsSchema,
  InstanceSchema,
  InstancesResponse,
  ItemsResponse,
  OpenSshHostCertSchema,
  OpenSshUserCertSchema,
  PingResponseSchema,
  ProxyServerSchema,
  ProxyServersResponse,
  TunnelStrategySchema,
  SearchEventsResponse,
  UserCertsSchema,
  UserNameResponse,
  UserTokenDetailsSchema,
  UserTokenInfoSchema,
  RequestableResourcesResponse,
  AccessCapabilitiesSchema,
  AccessRequestWatchLine,
  BackendItemsResponse,
  BackendWatchLine,
} from './responses.js';

/**
 * The TLS server name every auth server's certificate carries (Teleport's `teleport.cluster.local`), so
 * a client can verify the server whatever address it dialled.
 */
export const AUTH_SERVER_NAME = 'teleport.cluster.local';

/** Path prefix of every auth API route. */
export const AUTH_API_PREFIX = '/v1';

/** What `ping` answers, without authentication. */
export interface PingResponse {
  clusterName: string;
  serverVersion: string;
  authPreference: { type: string; secondFactor: SecondFactor };
  /** The proxy's public address, when the cluster has one configured. */
  proxyPublicAddr?: string;
}

/** User token kinds: an invite for a new user, or a password reset. */
export type UserTokenKind = 'invite' | 'reset';

/** A user token as its creator sees it. `id` is a secret: share it (or `url`) only with the user. */
export interface UserTokenInfo {
  id: string;
  user: string;
  kind: UserTokenKind;
  /** ISO 8601. */
  expires: string;
  /** Where the user completes the setup (the proxy's `/web/invite/<id>` or `/web/reset/<id>`). */
  url: string;
}

/** A user token as the user sees it when opening the link. */
export interface UserTokenDetails {
  user: string;
  kind: UserTokenKind;
  expires: string;
  /** Present when the cluster wants a one-time-password device: add it to an authenticator app, then complete. */
  totp?: { secret: string; url: string };
}

/** Input of {@link AuthClient.createUser}. `logins`, `dbUsers` and `dbNames` are stored as traits. */
export interface CreateUserRequest {
  name: string;
  roles: readonly string[];
  traits?: Traits;
  logins?: readonly string[];
  dbUsers?: readonly string[];
  dbNames?: readonly string[];
  /** `metadata.labels`; keys use Teleport's label characters. */
  labels?: Readonly<Record<string, string>>;
  /** `metadata.description`. */
  description?: string;
  /** When the user stops existing (`metadata.expires`), ISO 8601. */
  expires?: string;
  /**
   * Whether to create an invite token with the user (default true), as `tctl users add` does. `false` creates only
   * the user, as `tctl create` of a user resource does; the user then needs `createResetPasswordToken` to log in.
   */
  invite?: boolean;
  /** Lifetime of the invite token, ms; default 1 h, at most 48 h. Only with an invite. */
  ttl?: number;
}

/** Input of {@link AuthClient.completeUserToken}. */
export interface CompleteUserTokenRequest {
  tokenId: string;
  password: string;
  /** The current code of the OTP device from {@link UserTokenDetails.totp}, when the cluster asks for one. */
  otpCode?: string;
}

/** Input of {@link AuthClient.createToken}. */
export interface CreateTokenRequest {
  /** System roles the token lets a host join as, e.g. `['Node', 'Db']` or `'node,db'`. */
  roles: readonly string[] | string;
  /** Lifetime, ms; default 30 min. */
  ttl?: number;
  /** The token itself; default a random 128-bit hex string. */
  name?: string;
  /** Labels stored on the token (`metadata.labels`), e.g. `{ env: 'prod' }`; keys use Teleport's label characters. */
  labels?: Readonly<Record<string, string>>;
}

/** Input of {@link AuthClient.rotateCertAuthority}. */
export interface RotateCertAuthorityRequest {
  /** The CA to rotate; default every CA of the cluster. */
  type?: CertAuthorityType;
  /** Target phase; default `init` (start a rotation). */
  phase?: RotationPhase;
  /** Default `manual`. */
  mode?: RotationMode;
  /** How long old and new keys are both trusted, ms. */
  gracePeriod?: number;
}

/** One CA as `tctl status` shows it. */
export interface CertAuthorityStatus {
  type: CertAuthorityType;
  clusterName: string;
  rotation: Rotation;
  /** Algorithms of the signing keys (`undefined` for a protocol the CA has no key for). */
  algorithms: { tls?: KeyAlgorithm | 'unknown'; ssh?: KeyAlgorithm | 'unknown' };
  /** How many TLS / SSH keys are trusted now (more than one during a rotation). */
  trustedKeys: { tls: number; ssh: number };
}

/** What `tctl status` prints. */
export interface ClusterStatus {
  clusterName: string;
  serverVersion: string;
  /** `sha256:<hex>` of each trusted host CA certificate (two during a host CA rotation). */
  caPins: string[];
  certAuthorities: CertAuthorityStatus[];
}

/** Input of {@link AuthClient.generateDatabaseCert}: a server certificate for a database. */
export interface DatabaseCertRequest {
  /** SubjectPublicKeyInfo PEM of the database's key. */
  publicKey: string;
  /** DNS names and IPs the database serves on; the first is the CN. */
  hosts: readonly string[];
  /** ms; default 12 h, as Teleport's `tctl auth sign` (databases usually want longer, e.g. 90 days). */
  ttl?: number;
  /**
   * Also allow the certificate as a TLS client certificate (extended key usage `clientAuth` next to
   * `serverAuth`): CockroachDB nodes present `node.crt` to each other. Default false.
   */
  clientAuth?: boolean;
}

/** Input of {@link AuthClient.generateDatabaseClientCert}: the db agent's client certificate for a database. */
export interface DatabaseClientCertRequest {
  publicKey: string;
  /** The database account; becomes the CN. */
  dbUser: string;
  /** ms; default 1 h. */
  ttl?: number;
}

/** A database certificate and the CAs around it. */
export interface DatabaseCerts {
  cert: string;
  /** The `db` CA certificates (what clients of the database trust). */
  caCerts: string[];
  /** The `db_client` CA certificates (what the database trusts for client certificates). */
  clientCaCerts: string[];
}

/**
 * Input of {@link AuthClient.generateHostCert}: an OpenSSH host certificate for a host that is not a Teleport agent
 * (Teleport's `GenerateHostCert`, what `tctl auth sign --host --format=openssh` asks for).
 */
export interface HostCertRequest {
  /** OpenSSH public key line of the host key. */
  sshPublicKey: string;
  /** Host names and addresses clients reach the host by; they become the certificate's principals. */
  principals: readonly string[];
  /** ms; default 12 h, never past the host CA. */
  ttl?: number;
}

/** An OpenSSH host certificate and the host CA keys that verify it. */
export interface OpenSshHostCert {
  /** OpenSSH certificate line (`ssh-ed25519-cert-v01@openssh.com AAAA...`). */
  sshCert: string;
  /** Host CA SSH keys (`authorized_keys` lines): what clients trust the host with (`@cert-authority`). */
  sshCaKeys: string[];
}

/**
 * Input of {@link AuthClient.generateOpenSshCert}: a user certificate from the `openssh` CA, with which the proxy logs
 * in to an agentless OpenSSH node for the user (Teleport's `GenerateOpenSSHCert`).
 */
export interface OpenSshCertRequest {
  /** The user's own SSH certificate (an OpenSSH `-cert.pub` line), valid now and listing `login`. */
  userCert: string;
  login: string;
  /** OpenSSH public key line of the key the proxy logs in with. */
  sshPublicKey: string;
}

/** A short-lived user certificate from the `openssh` CA. */
export interface OpenSshUserCert {
  /** OpenSSH certificate line. */
  sshCert: string;
}

/** Input of {@link AuthClient.generateUserCerts}. */
export interface UserCertsRequest {
  user: string;
  /** OpenSSH public key line. */
  sshPublicKey: string;
  /** SubjectPublicKeyInfo PEM. */
  tlsPublicKey: string;
  /** ms; default 12 h, capped by the user's roles (`max_session_ttl`). */
  ttl?: number;
  routeToDatabase?: RouteToDatabase;
  /** Approved access requests to use; absent keeps those of the caller's certificate, `[]` drops them. */
  accessRequests?: string[];
}

/** Certificates of a user. */
export interface UserCerts {
  /** OpenSSH certificate line (`ssh-ed25519-cert-v01@openssh.com AAAA...`). */
  sshCert: string;
  tlsCert: string;
  /** Host CA certificates: what the user trusts the proxy and auth servers with. */
  tlsCaCerts: string[];
  /** Host CA SSH keys (`authorized_keys` lines): what the user trusts hosts with. */
  sshCaKeys: string[];
}

/** An event of {@link AuthClient.watchAccessRequests}. */
export type AccessRequestWatchEvent = { type: 'init' } | { type: 'put'; request: AccessRequest } | { type: 'delete'; id: string };

/** Input of {@link AuthClient.createAccessRequest}. */
export interface CreateAccessRequest {
  /** Defaults to the caller. */
  user?: string;
  roles?: string[];
  /** `/<cluster>/db/<name>` ids (a resource request). */
  resources?: string[];
  reason?: string;
  suggestedReviewers?: string[];
  /** How long the access may last once approved, ms (capped by the roles' `max_duration` and the caller's certificate). */
  maxDuration?: number;
}

export type AccessRequestScope = 'own' | 'reviewable' | 'all';

/** {@link AuthClient.getAccessCapabilities}. */
export interface AccessCapabilities {
  requestableRoles: string[];
  /** Some role sets `request_access: reason`. */
  requireReason: boolean;
  /** Some role sets `request_access: always`: `tsh login` requests the requestable roles and waits. */
  autoRequest: boolean;
  requestPrompt?: string;
}

/** A resource a resource access request may name. */
export interface RequestableResource {
  id: string;
  kind: string;
  name: string;
  labels: Record<string, string>;
}

/** Input of {@link AuthClient.authenticateUser} (the proxy's login path). */
export interface AuthenticateUserRequest {
  user: string;
  password: string;
  otp?: string;
  sshPublicKey: string;
  tlsPublicKey: string;
  ttl?: number;
  /**
   * The end user's address as the proxy saw it (`IP:port`, `[IPv6]:port`), recorded as `addr.remote` in the login
   * audit events. Only the Proxy system role may pass it; without it, the caller's own address is recorded.
   */
  clientAddr?: string;
}

/** Input of {@link AuthClient.registerUsingToken}. `token` is a secret. */
export interface RegisterUsingTokenRequest {
  token: string;
  hostId: string;
  nodeName: string;
  role: SystemRole;
  tlsPublicKey: string;
  sshPublicKey: string;
  /** More DNS names / IPs for the host certificates. */
  additionalPrincipals?: readonly string[];
}

/** Certificates of a host that joined. */
export interface HostCerts {
  tlsCert: string;
  sshCert: string;
  /** Host CA certificates (to trust the auth server and other hosts). */
  tlsCaCerts: string[];
  /** Host CA SSH keys. */
  sshCaKeys: string[];
}

/** Input of {@link AuthClient.searchEvents}. */
export interface SearchEventsQuery {
  from: Date;
  to: Date;
  eventTypes?: readonly string[];
  /** Default 100. */
  limit?: number;
  /** Default `desc`. */
  order?: SearchOrder;
  startKey?: string;
}

/**
 * A database as a db agent serves it (Teleport's `db` resource, `types.DatabaseV3`, in its wire form):
 * `metadata.labels` are the labels roles' `db_labels` match.
 */
export interface Database {
  kind: 'db';
  version: 'v3';
  metadata: { name: string; description?: string; labels: Record<string, string> };
  spec: { protocol: DatabaseProtocol; uri: string };
}

/**
 * A database served by one db agent (Teleport's `db_server`, `types.DatabaseServerV3`): what the agent heartbeats
 * and the proxy routes by. The same database served by two agents is two `db_server`s with one name. It lives until
 * `metadata.expires` unless the agent heartbeats again.
 */
export interface DatabaseServer {
  kind: 'db_server';
  version: 'v3';
  /** `name` is the database's name; `expires` (ISO 8601) is when it disappears without a new heartbeat. */
  metadata: { name: string; expires?: string };
  spec: {
    /** The agent's host UUID: the id of its reverse tunnel. */
    host_id: string;
    /** The agent's node name. */
    hostname: string;
    /** The agent's teleport-ts version. */
    version: string;
    database: Database;
    /** Ids of the proxies the agent holds a reverse tunnel to (proxy peering routes by them). */
    proxy_ids?: string[];
  };
}

/** The order of database server listings (the auth server's `GET /dbservers`, the proxies' caches): by name, then host id. */
export function compareDatabaseServers(a: DatabaseServer, b: DatabaseServer): number {
  if (a.metadata.name !== b.metadata.name) return a.metadata.name < b.metadata.name ? -1 : 1;
  return a.spec.host_id < b.spec.host_id ? -1 : a.spec.host_id > b.spec.host_id ? 1 : 0;
}

/** Input of {@link AuthClient.upsertDatabaseServer}. */
export interface UpsertDatabaseServerRequest {
  /** Must be the calling agent's own host UUID. */
  hostId: string;
  hostname: string;
  version: string;
  database: { name: string; description?: string; protocol: DatabaseProtocol; uri: string; labels?: Readonly<Record<string, string>> };
  /** How long the heartbeat keeps the server listed, ms; default 60 s, from 1 s to 10 min. */
  ttl?: number;
  /** The proxies the agent holds a tunnel to now. */
  proxyIds?: readonly string[];
}

/**
 * A proxy of the cluster, as it heartbeats itself (Teleport's `proxy` resource, `types.ServerV2` of kind proxy):
 * agents learn from the list which proxies to reach, and proxies where to forward to their peers.
 */
export interface ProxyServer {
  kind: 'proxy';
  version: 'v2';
  /** `name` is the proxy's host UUID (the `<uuid>` of its certificate); `expires` is when it drops out without a heartbeat. */
  metadata: { name: string; expires?: string };
  spec: {
    hostname: string;
    /** `host:port` users and agents reach it at (often a load balancer's). */
    public_addr: string;
    /** `host:port` of its proxy peering listener, when it runs one. */
    peer_addr?: string;
    version: string;
  };
}

/** Input of {@link AuthClient.upsertProxy}. */
export interface UpsertProxyRequest {
  /** Must be the calling proxy's own host UUID. */
  name: string;
  hostname: string;
  publicAddr: string;
  peerAddr?: string;
  version: string;
  /** How long the heartbeat keeps the proxy listed, ms; default 60 s, from 1 s to 10 min. */
  ttl?: number;
}

/** The rotation of one CA a process has caught up with (the id and phase of the CA's `spec.rotation`). */
export interface InstanceRotation {
  current_id?: string;
  phase: string;
}

/**
 * What a process (an agent, a proxy) reports about the identity it runs with: the rotation of the host CA (its
 * certificate is issued by the current signing key) and of the user CA (it trusts the current user keys) it has
 * caught up with. Kept under `/instances/<host_id>/<role>` with an expiry; `tctl auth rotate status` lists the
 * ones behind the CAs.
 */
export interface Instance {
  kind: 'instance';
  version: 'v1';
  metadata: { name: string; expires?: string };
  spec: { host_id: string; hostname: string; role: string; last_seen: string; host?: InstanceRotation; user?: InstanceRotation };
}

/** Input of {@link AuthClient.upsertInstance}; the host id and role come from the caller's certificate. */
export interface UpsertInstanceRequest {
  hostname: string;
  role: string;
  host?: InstanceRotation;
  user?: InstanceRotation;
  /** How long the report is kept without a new one, ms; default 10 min. */
  ttl?: number;
}

/** Input of {@link AuthClient.reissueHostCerts}: a host asking for new certificates for itself. */
export interface ReissueHostCertsRequest {
  nodeName: string;
  tlsPublicKey: string;
  sshPublicKey: string;
  additionalPrincipals?: readonly string[];
}

/** How agents reach proxies (`auth_service.tunnel_strategy`, Teleport's `cluster_networking_config`). */
export interface TunnelStrategy {
  type: 'agent_mesh' | 'proxy_peering';
  /** With `proxy_peering`: how many proxies each agent keeps a tunnel to. */
  agent_connection_count?: number;
}

/** Options of {@link newAuthClient}: an address and either an identity or explicit TLS settings. */
export interface AuthClientOptions {
  /** `host:port` or `https://host:port` of the auth API. */
  addr: string;
  /** Client identity (cert, key, trusted CAs), e.g. from `loadIdentity`. */
  identity?: Identity;
  /** Explicit TLS settings; `cert`/`key` may be left out for the unauthenticated endpoints. */
  tls?: ApiTlsOptions;
  /** TLS server name to verify; default {@link AUTH_SERVER_NAME}. */
  serverName?: string;
  timeoutMs?: number;
  /**
   * ALPN protocols to offer (see `ApiClientOptions.alpnProtocols`). Pass {@link AUTH_VIA_PROXY_ALPN} when `addr` may
   * be a proxy's address: the proxy forwards the connection to the auth server.
   */
  alpnProtocols?: readonly string[];
  /** How errors name the server (see `ApiClientOptions.peer`), e.g. `proxy host:3080`. */
  peer?: string;
  /** Hints for network failures (see `ApiClientOptions.hints`). */
  hints?: ApiErrorHints;
  /** Local address to connect from (see `ApiClientOptions.localAddress`). */
  localAddress?: string;
}

/** What to offer to reach the auth API at an address that may be the auth server or a proxy (`teleport-auth`). */
export const AUTH_VIA_PROXY_ALPN: readonly string[] = Object.freeze(['teleport-auth', 'http/1.1']);

/** The typed auth API client. Every failure is a `TeleportError` of the kind the server raised. */
export interface AuthClient extends RecordingsApi {
  ping(): Promise<PingResponse>;
  getClusterName(): Promise<string>;
  getClusterStatus(): Promise<ClusterStatus>;

  getUsers(): Promise<User[]>;
  getUser(name: string): Promise<User>;
  /** Creates a user and an invite token, the link the user sets a password with (`tctl users add`). */
  createUser(request: CreateUserRequest & { invite?: true }): Promise<{ user: User; token: UserTokenInfo }>;
  /** Creates only the user, no token (`tctl create` of a user resource). */
  createUser(request: CreateUserRequest & { invite: false }): Promise<{ user: User }>;
  updateUser(user: User): Promise<User>;
  deleteUser(name: string): Promise<void>;
  createResetPasswordToken(request: { name: string; ttl?: number }): Promise<UserTokenInfo>;
  getUserToken(tokenId: string): Promise<UserTokenDetails>;
  completeUserToken(request: CompleteUserTokenRequest): Promise<{ user: string }>;

  getRoles(): Promise<Role[]>;
  getRole(name: string): Promise<Role>;
  createRole(role: Role): Promise<Role>;
  upsertRole(role: Role): Promise<Role>;
  deleteRole(name: string): Promise<void>;

  /** Locks (`tctl lock`, `tctl get locks`); the Db and Proxy system roles may read them. */
  getLocks(): Promise<Lock[]>;
  getLock(name: string): Promise<Lock>;
  /** Creates or replaces a lock (`created_at` / `created_by` are stamped by the auth server when missing). */
  upsertLock(lock: Lock): Promise<Lock>;
  deleteLock(name: string): Promise<void>;

  getTokens(): Promise<ProvisionToken[]>;
  createToken(request: CreateTokenRequest): Promise<ProvisionToken>;
  deleteToken(name: string): Promise<void>;

  getAuthPreference(): Promise<AuthPreference>;
  setAuthPreference(pref: AuthPreference): Promise<AuthPreference>;

  getCertAuthorities(type: CertAuthorityType, options?: { withSecrets?: boolean }): Promise<CertAuthority[]>;
  rotateCertAuthority(request?: RotateCertAuthorityRequest): Promise<CertAuthority[]>;

  generateDatabaseCert(request: DatabaseCertRequest): Promise<DatabaseCerts>;
  generateDatabaseClientCert(request: DatabaseClientCertRequest): Promise<DatabaseCerts>;
  generateUserCerts(request: UserCertsRequest): Promise<UserCerts>;
  /** Needs `create` on `host_cert` (the Admin role, or a user role with that rule). */
  generateHostCert(request: HostCertRequest): Promise<OpenSshHostCert>;
  /** Only the Proxy: see {@link OpenSshCertRequest}. */
  generateOpenSshCert(request: OpenSshCertRequest): Promise<OpenSshUserCert>;
  authenticateUser(request: AuthenticateUserRequest): Promise<UserCerts & { username: string }>;
  registerUsingToken(request: RegisterUsingTokenRequest): Promise<HostCerts>;

  searchEvents(query: SearchEventsQuery): Promise<SearchEventsResult>;
  /**
   * Stores audit events a service recorded (idempotent by `uid`). Only system roles: the Db agent and the Proxy may
   * emit `db.*` events of the catalogue; the auth server stamps `cluster_name` and the caller's host id
   * (`server_id`). At most 100 events per call.
   */
  emitAuditEvents(events: readonly AuditEvent[]): Promise<void>;

  /**
   * A db agent's heartbeat for one database it serves (the Db system role, for its own host id only). Returns the
   * stored server with its expiry.
   */
  upsertDatabaseServer(request: UpsertDatabaseServerRequest): Promise<DatabaseServer>;
  /**
   * Live database servers, by name then host. System roles with `db_server` list/read (Admin, Proxy, Db) see all;
   * a user sees those whose labels some role's `db_labels` match and no deny `db_labels` match (as Teleport lists
   * resources), whatever their rules.
   */
  getDatabaseServers(): Promise<DatabaseServer[]>;

  /**
   * Registers a node. A node agent (the Node system role) heartbeats its own host UUID with a `ttl` (ms); an
   * administrator registers agentless OpenSSH servers (`sub_kind: openssh`), which do not expire.
   */
  upsertNode(node: NodeServer, options?: { ttl?: number }): Promise<NodeServer>;
  /** Live nodes, by hostname. Users see those their roles' `node_labels` make visible. */
  getNodes(): Promise<NodeServer[]>;
  deleteNode(name: string): Promise<void>;
  /** A proxy's heartbeat of itself (the Proxy system role, for its own host id only). */
  upsertProxy(request: UpsertProxyRequest): Promise<ProxyServer>;
  /** Live proxies, by name (Proxy, Db, Node and Admin). */
  getProxies(): Promise<ProxyServer[]>;
  /** Reports which rotation of the host and user CAs this process caught up with (a host's own report). */
  upsertInstance(request: UpsertInstanceRequest): Promise<Instance>;
  /** Lines of `GET /cas/watch`: `init`, then `change` whenever a CA changed (heartbeats dropped); ends with `signal`. */
  watchCertAuthorities(signal: AbortSignal): AsyncIterable<'init' | 'change'>;
  /** Every process's last report (admins). */
  getInstances(): Promise<Instance[]>;
  /** New host certificates for the calling host (same host id and role), from the host CA's current signing key. */
  reissueHostCerts(request: ReissueHostCertsRequest): Promise<HostCerts>;
  /** A proxy leaving the cluster removes its heartbeat. */
  deleteProxy(name: string): Promise<void>;
  /** The cluster's tunnel strategy. */
  getTunnelStrategy(): Promise<TunnelStrategy>;

  /**
   * Backend items with `start <= key < end` (at most `limit`), under a prefix the caller may watch: the list call
   * a watch-fed cache initialises from. CAs come without their private keys.
   */
  getBackendItems(start: string, end: string, limit?: number): Promise<Item[]>;
  /**
   * The backend watch, scoped to what the caller may read (a proxy: CAs without keys, roles, locks, database
   * servers, nodes, proxies, cluster configuration; an agent: CAs without keys, roles, locks, cluster
   * configuration): `init` once every later change is seen, then puts and deletes in commit order. Ends when
   * `signal` aborts or the server closes the stream (a `connection-problem` error when it broke).
   */
  watchBackend(prefixes: readonly string[], signal: AbortSignal): AsyncIterable<BackendEvent>;

  /** Creates an access request (for the caller, or for `user` when the caller may create requests for others). */
  createAccessRequest(request: CreateAccessRequest): Promise<AccessRequest>;
  /** `own`: the caller's; `reviewable`: those the caller may review; `all` (administrators): every request. */
  getAccessRequests(scope?: AccessRequestScope): Promise<AccessRequest[]>;
  getAccessRequest(id: string): Promise<AccessRequest>;
  /** Adds the caller's review; the answer is the request in its new state. */
  reviewAccessRequest(id: string, review: { state: 'APPROVED' | 'DENIED'; reason?: string }): Promise<AccessRequest>;
  /** Approves or denies outright (`tctl request approve|deny`), optionally approving a subset of the roles. */
  setAccessRequestState(id: string, update: { state: 'APPROVED' | 'DENIED'; reason?: string; roles?: string[] }): Promise<AccessRequest>;
  deleteAccessRequest(id: string): Promise<void>;
  /** Long poll: resolves when the request is decided, or as it is after `timeoutMs` (at most 25 s per call). */
  waitForAccessRequest(id: string, timeoutMs: number): Promise<AccessRequest>;
  /**
   * Follows access requests (for plugins): `init` once every later change is seen, then `put` (created or changed) and
   * `delete`, only for the requests the caller may see. Ends when `signal` aborts or the server closes the stream.
   */
  watchAccessRequests(signal: AbortSignal): AsyncIterable<AccessRequestWatchEvent>;
  /** What the caller may request: the roles, whether a reason is required, whether login requests them by itself. */
  getAccessCapabilities(): Promise<AccessCapabilities>;
  /** Resources of `kind` the caller could request (seen with their `search_as_roles`), as `/<cluster>/<kind>/<name>` ids with labels. */
  searchRequestableResources(kind: 'db'): Promise<RequestableResource[]>;

  close(): Promise<void>;
}

/** `https://host:port` for an address given as `host:port` or as a URL. */
export function authBaseUrl(addr: string): string {
  const text = addr.trim();
  if (text === '') throw new BadParameterError('the auth server address is empty', { hint: 'pass host:port, e.g. 127.0.0.1:3025' });
  return /^https?:\/\//i.test(text) ? text : `https://${text}`;
}

const path = (...parts: string[]): string => `${AUTH_API_PREFIX}/${parts.map(encodeURIComponent).join('/')}`;

/** The request helpers every method group is built on. */
interface Caller {
  api: ApiClient;
  get<T>(p: string, schema: v.GenericSchema<unknown, T>): Promise<T>;
  post<T>(p: string, body: unknown, schema: v.GenericSchema<unknown, T>): Promise<T>;
  /** A request whose answer is not read. */
  send(method: HttpMethod, p: string, body?: unknown): Promise<void>;
  /** Lists resources a `core/types` parser checks one by one. */
  list<T>(p: string, parse: (raw: unknown) => T): Promise<T[]>;
}

function newCaller(api: ApiClient): Caller {
  return {
    api,
    get: (p, schema) => api.call('GET', p, undefined, schema),
    post: (p, body, schema) => api.call('POST', p, body, schema),
    send: async (method, p, body) => {
      await api.call(method, p, body);
    },
    list: async (p, parse) => (await api.call('GET', p, undefined, ItemsResponse)).items.map(parse),
  };
}

type Methods<K extends keyof AuthClient> = Pick<AuthClient, K>;

function clusterMethods(c: Caller): Methods<'ping' | 'getClusterName' | 'getClusterStatus' | 'getAuthPreference' | 'setAuthPreference'> {
  return {
    ping: () => c.get(path('ping'), PingResponseSchema),
    getClusterName: async () => (await c.get(path('clustername'), ClusterNameResponse)).clusterName,
    getClusterStatus: () => c.get(path('status'), ClusterStatusSchema),
    getAuthPreference: async () => parseAuthPreference(await c.api.call('GET', path('authpreference'))),
    setAuthPreference: async (pref) => parseAuthPreference(await c.api.call('PUT', path('authpreference'), authPreferenceToWire(pref))),
  };
}

type UserMethodName = 'getUsers' | 'getUser' | 'createUser' | 'updateUser' | 'deleteUser' | 'createResetPasswordToken' | 'getUserToken' | 'completeUserToken';

function userMethods(c: Caller): Methods<UserMethodName> {
  return {
    getUsers: () => c.list(path('users'), parseUser),
    getUser: async (name) => parseUser(await c.api.call('GET', path('users', name))),
    // One implementation for both overloads: the server answers with a token exactly when it made one.
    createUser: (async (request: CreateUserRequest) => {
      const res = await c.post(path('users'), request, CreateUserResponse);
      return res.token === undefined ? { user: parseUser(res.user) } : { user: parseUser(res.user), token: res.token };
    }) as AuthClient['createUser'],
    updateUser: async (user) => parseUser(await c.api.call('PUT', path('users', user.metadata.name), userToWire(user))),
    deleteUser: (name) => c.send('DELETE', path('users', name)),
    createResetPasswordToken: (request) =>
      c.post(path('users', request.name, 'reset'), request.ttl === undefined ? {} : { ttl: request.ttl }, UserTokenInfoSchema),
    // Token ids are secrets: they travel in bodies, never in URLs (which end up in logs).
    getUserToken: (tokenId) => c.post(path('usertokens', 'lookup'), { tokenId }, UserTokenDetailsSchema),
    completeUserToken: (request) => c.post(path('usertokens', 'complete'), request, UserNameResponse),
  };
}

type ResourceMethodName =
  | 'getRoles' | 'getRole' | 'createRole' | 'upsertRole' | 'deleteRole'
  | 'getLocks' | 'getLock' | 'upsertLock' | 'deleteLock'
  | 'getTokens' | 'createToken' | 'deleteToken';

function resourceMethods(c: Caller): Methods<ResourceMethodName> {
  return {
    getRoles: () => c.list(path('roles'), parseRole),
    getRole: async (name) => parseRole(await c.api.call('GET', path('roles', name))),
    createRole: async (role) => parseRole(await c.api.call('POST', path('roles'), roleToWire(role))),
    upsertRole: async (role) => parseRole(await c.api.call('PUT', path('roles', role.metadata.name), roleToWire(role))),
    deleteRole: (name) => c.send('DELETE', path('roles', name)),

    getLocks: () => c.list(path('locks'), parseLock),
    getLock: async (name) => parseLock(await c.api.call('GET', path('locks', name))),
    upsertLock: async (lock) => parseLock(await c.api.call('PUT', path('locks', lock.metadata.name), lockToWire(lock))),
    deleteLock: (name) => c.send('DELETE', path('locks', name)),

    getTokens: () => c.list(path('tokens'), parseProvisionToken),
    createToken: async (request) => parseProvisionToken(await c.api.call('POST', path('tokens'), request)),
    deleteToken: (name) => c.send('POST', path('tokens', 'delete'), { name }),
  };
}

type CertMethodName =
  | 'getCertAuthorities' | 'rotateCertAuthority'
  | 'generateDatabaseCert' | 'generateDatabaseClientCert' | 'generateUserCerts' | 'generateHostCert' | 'generateOpenSshCert'
  | 'authenticateUser' | 'registerUsingToken';

function certMethods(c: Caller): Methods<CertMethodName> {
  return {
    getCertAuthorities: async (type, opts = {}) =>
      (await c.get(`${path('cas', type)}${opts.withSecrets ? '?secrets=true' : ''}`, CertAuthoritiesResponse)).items,
    rotateCertAuthority: async (request = {}) => (await c.post(path('cas', 'rotate'), request, CertAuthoritiesResponse)).items,
    generateDatabaseCert: (request) => c.post(path('certs', 'db'), request, DatabaseCertsSchema),
    generateDatabaseClientCert: (request) => c.post(path('certs', 'dbclient'), request, DatabaseCertsSchema),
    generateUserCerts: (request) => c.post(path('certs', 'user'), request, UserCertsSchema),
    generateHostCert: (request) => c.post(path('certs', 'host'), request, OpenSshHostCertSchema),
    generateOpenSshCert: (request) => c.post(path('certs', 'openssh'), request, OpenSshUserCertSchema),
    authenticateUser: (request) => c.post(path('authenticate'), request, AuthenticateUserResponse),
    registerUsingToken: (request) => c.post(path('join'), request, HostCertsSchema),
  };
}

function eventAndServerMethods(c: Caller): Methods<'searchEvents' | 'emitAuditEvents' | 'upsertDatabaseServer' | 'getDatabaseServers'> {
  return {
    searchEvents: async (query) => {
      const q = new URLSearchParams({ from: query.from.toISOString(), to: query.to.toISOString() });
      if (query.limit !== undefined) q.set('limit', String(query.limit));
      if (query.order !== undefined) q.set('order', query.order);
      if (query.startKey !== undefined) q.set('startKey', query.startKey);
      for (const t of query.eventTypes ?? []) q.append('type', t);
      const res = await c.get(`${path('events')}?${q.toString()}`, SearchEventsResponse);
      return res.nextKey === undefined ? { events: res.events } : { events: res.events, nextKey: res.nextKey };
    },
    emitAuditEvents: (events) => c.send('POST', path('events'), { events }),
    upsertDatabaseServer: (request) =>
      c.api.call('PUT', path('dbservers', request.hostId, request.database.name), request, DatabaseServerSchema),
    getDatabaseServers: async () => {
      const p = path('dbservers');
      return parseDatabaseServers(await c.api.call('GET', p), `response of GET ${p}`);
    },
  };
}

/** Nodes: `/nodes/<uuid>` (Teleport's `/nodes/default/<uuid>` in the backend). */
function nodeMethods(c: Caller): Methods<'upsertNode' | 'getNodes' | 'deleteNode'> {
  return {
    upsertNode: async (node, options = {}) =>
      parseNode(await c.api.call('PUT', path('nodes', node.metadata.name), { node: nodeToWire(node), ...(options.ttl !== undefined ? { ttl: options.ttl } : {}) })),
    getNodes: () => c.list(path('nodes'), parseListedNode),
    deleteNode: (name) => c.send('DELETE', path('nodes', name)),
  };
}

function backendMethods(c: Caller): Methods<'getBackendItems' | 'watchBackend'> {
  return {
    getBackendItems: async (start, end, limit) => {
      const q = new URLSearchParams({ start, end });
      if (limit !== undefined) q.set('limit', String(limit));
      return (await c.get(`${path('backend', 'items')}?${q.toString()}`, BackendItemsResponse)).items.map(itemFromWire);
    },
    watchBackend: (prefixes, signal) => {
      const q = new URLSearchParams();
      for (const p of prefixes) q.append('prefix', p);
      return backendEvents(c.api.stream(`${path('backend', 'watch')}?${q.toString()}`, signal));
    },
  };
}

function itemFromWire(wire: v.InferOutput<typeof BackendItemsResponse>['items'][number]): Item {
  const expires = wire.expires === undefined ? undefined : new Date(wire.expires);
  if (expires !== undefined && Number.isNaN(expires.getTime())) throw new BadParameterError(`backend item ${wire.key}: malformed expiry`);
  return { key: wire.key, value: new Uint8Array(Buffer.from(wire.value, 'base64')), revision: wire.revision, ...(expires ? { expires } : {}) };
}

/** The backend watch stream's lines as events: heartbeats dropped, every line checked. */
async function* backendEvents(lines: AsyncIterable<unknown>): AsyncGenerator<BackendEvent> {
  for await (const raw of lines) {
    const line = parseWith(BackendWatchLine, raw, 'backend watch event');
    if (line.type === 'init') yield { type: 'init' };
    else if (line.type === 'put') yield { type: 'put', item: itemFromWire(line.item) };
    else if (line.type === 'delete') yield { type: 'delete', item: { key: line.key } };
  }
}

/** The CA watch stream's lines: heartbeats dropped, anything else unknown read as a change. */
async function* caWatchEvents(lines: AsyncIterable<unknown>): AsyncGenerator<'init' | 'change'> {
  for await (const raw of lines) {
    const type = typeof raw === 'object' && raw !== null ? (raw as { type?: unknown }).type : undefined;
    if (type === 'ping') continue;
    yield type === 'init' ? 'init' : 'change';
  }
}

function proxyMethods(
  c: Caller,
): Methods<'upsertProxy' | 'getProxies' | 'deleteProxy' | 'getTunnelStrategy' | 'upsertInstance' | 'getInstances' | 'reissueHostCerts' | 'watchCertAuthorities'> {
  return {
    upsertInstance: (request) => c.api.call('PUT', path('instances', request.role), request, InstanceSchema),
    getInstances: async () => (await c.get(path('instances'), InstancesResponse)).items,
    watchCertAuthorities: (signal) => caWatchEvents(c.api.stream(path('cas', 'watch'), signal)),
    reissueHostCerts: (request) => c.post(path('certs', 'reissue'), request, HostCertsSchema),
    upsertProxy: (request) => c.api.call('PUT', path('proxies', request.name), request, ProxyServerSchema),
    getProxies: async () => (await c.get(path('proxies'), ProxyServersResponse)).items,
    deleteProxy: (name) => c.send('DELETE', path('proxies', name)),
    getTunnelStrategy: () => c.get(path('networking', 'tunnelstrategy'), TunnelStrategySchema),
  };
}

/** Access requests: one path per request, `/accessrequests/<id>`. */
function accessRequestMethods(c: Caller): Methods<
  | 'createAccessRequest' | 'getAccessRequests' | 'getAccessRequest' | 'reviewAccessRequest' | 'setAccessRequestState'
  | 'deleteAccessRequest' | 'waitForAccessRequest' | 'watchAccessRequests' | 'searchRequestableResources' | 'getAccessCapabilities'
> {
  return {
    createAccessRequest: async (request) => parseAccessRequest(await c.api.call('POST', path('accessrequests'), request)),
    getAccessRequests: (scope = 'own') => c.list(`${path('accessrequests')}?scope=${scope}`, parseAccessRequest),
    getAccessRequest: async (id) => parseAccessRequest(await c.api.call('GET', path('accessrequests', id))),
    reviewAccessRequest: async (id, review) => parseAccessRequest(await c.api.call('POST', path('accessrequests', id, 'reviews'), review)),
    setAccessRequestState: async (id, update) => parseAccessRequest(await c.api.call('PUT', path('accessrequests', id, 'state'), update)),
    deleteAccessRequest: (id) => c.send('DELETE', path('accessrequests', id)),
    watchAccessRequests: (signal) => watchEvents(c.api.stream(path('accessrequests', 'watch'), signal)),
    waitForAccessRequest: async (id, timeoutMs) =>
      parseAccessRequest(await c.api.call('GET', `${path('accessrequests', id, 'wait')}?timeout=${Math.max(0, Math.min(Math.round(timeoutMs), MAX_WAIT_MS))}`)),
    getAccessCapabilities: () => c.get(path('accessrequests', 'capabilities'), AccessCapabilitiesSchema),
    searchRequestableResources: async (kind) => (await c.get(`${path('accessrequests', 'search')}?kind=${kind}`, RequestableResourcesResponse)).items,
  };
}

/** The watch stream's lines as events: heartbeats dropped, every line checked, requests parsed. */
async function* watchEvents(lines: AsyncIterable<unknown>): AsyncGenerator<AccessRequestWatchEvent> {
  for await (const raw of lines) {
    const line = parseWith(AccessRequestWatchLine, raw, 'access request watch event');
    if (line.type === 'init') yield { type: 'init' };
    else if (line.type === 'put') yield { type: 'put', request: parseAccessRequest(line.request) };
    else if (line.type === 'delete') yield { type: 'delete', id: line.id };
  }
}

/** The longest single long poll for a decision (below the client's 30 s request timeout). */
export const MAX_WAIT_MS = 25_000;

/**
 * Connects to the auth API. With an `identity` the client authenticates with its certificate and
 * trusts its CA certificates; with `tls` it uses exactly those settings. Every answer the client reads is
 * checked against its schema (`./responses.ts`).
 *
 * @example
 * ```ts
 * const client = newAuthClient({ addr: '127.0.0.1:3025', identity: await loadIdentity('/var/lib/teleport/admin') });
 * const { user, token } = await client.createUser({ name: 'alice', roles: ['access'], logins: ['alice'] });
 * console.log(token.url);
 * await client.close();
 * ```
 */
export function newAuthClient(options: AuthClientOptions): AuthClient {
  let tls: ApiTlsOptions;
  if (options.tls) tls = options.tls;
  else if (options.identity) tls = { cert: options.identity.cert, key: options.identity.key, ca: options.identity.caCerts };
  else throw new TypeError('newAuthClient: pass identity or tls');
  const api: ApiClient = newApiClient({
    baseUrl: authBaseUrl(options.addr),
    tls: { ...tls, serverName: tls.serverName ?? options.serverName ?? AUTH_SERVER_NAME },
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.alpnProtocols !== undefined ? { alpnProtocols: options.alpnProtocols } : {}),
    ...(options.peer !== undefined ? { peer: options.peer } : {}),
    ...(options.hints !== undefined ? { hints: options.hints } : {}),
    ...(options.localAddress !== undefined ? { localAddress: options.localAddress } : {}),
  });
  const c = newCaller(api);
  return {
    ...clusterMethods(c),
    ...userMethods(c),
    ...resourceMethods(c),
    ...certMethods(c),
    ...eventAndServerMethods(c),
    ...nodeMethods(c),
    ...proxyMethods(c),
    ...backendMethods(c),
    ...accessRequestMethods(c),
    ...recordingMethods(api, AUTH_API_PREFIX),
    close: () => api.close(),
  };
}
