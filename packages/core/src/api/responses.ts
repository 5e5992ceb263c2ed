/**
 * Schemas of the answers the clients read: the auth API's (for `newAuthClient`) and the proxy web API's that tsh
 * reads at login. The wire shapes are the servers' as they are; objects are loose (fields a newer server adds pass
 * through untouched), but every field a client reads is checked, so a malformed answer is one bad-parameter line
 * naming the route and the field (`response of GET /v1/dbservers: items[0].spec.database.metadata.name must be a
 * string`), not a crash deep inside a command. Resources with their own parsers (users, roles, locks, tokens, the
 * auth preference) are checked by those parsers; here only their envelope.
 */

import type { AuditEvent, SearchEventsResult } from '../audit/types.js';
import type { CertAuthority, CertAuthorityType, Rotation, RotationMode, RotationPhase, RotationStateName } from '../ca/authority.js';
import type { KeyAlgorithm } from '../ca/keys.js';
import type { DatabaseProtocol } from '../config/index.js';
import { parseWith, v } from '../schema/index.js';
import { SECOND_FACTORS } from '../types/index.js';
import { isStringRecord } from '../types/metadata.js';
import { isRecord } from '../types/validate.js';
import type {
  ClusterStatus,
  Database,
  DatabaseCerts,
  DatabaseServer,
  HostCerts,
  OpenSshHostCert,
  OpenSshUserCert,
  PingResponse,
  Instance,
  ProxyServer,
  TunnelStrategy,
  AccessCapabilities,
  UserCerts,
  UserTokenDetails,
  UserTokenInfo,
} from './auth.js';

/**
 * A string whose allowed values the server owns (CA types, rotation phases...): checked to be a string, typed as
 * the union. The client does not refuse a value a newer server adds.
 */
const named = <T extends string>(): v.GenericSchema<unknown, T> => v.custom<T>((x) => typeof x === 'string', 'must be a string');
const strings = v.array(v.string());

/** `{ items: [...] }` of resources a `core/types` parser then checks one by one. */
export const ItemsResponse = v.looseObject({ items: v.array(v.unknown()) });

export const PingResponseSchema: v.GenericSchema<unknown, PingResponse> = v.looseObject({
  clusterName: v.string(),
  serverVersion: v.string(),
  authPreference: v.looseObject({ type: v.string(), secondFactor: v.picklist(SECOND_FACTORS) }),
  proxyPublicAddr: v.optional(v.string()),
});

export const ClusterNameResponse = v.looseObject({ clusterName: v.string() });

const RotationSchema: v.GenericSchema<unknown, Rotation> = v.looseObject({
  state: named<RotationStateName>(),
  phase: named<RotationPhase>(),
  mode: v.optional(named<RotationMode>()),
  current_id: v.optional(v.string()),
  started: v.optional(v.string()),
  grace_period: v.optional(v.number()),
  last_rotated: v.optional(v.string()),
  schedule: v.optional(v.looseObject({ update_clients: v.string(), update_servers: v.string(), standby: v.string() })),
});

export const ClusterStatusSchema: v.GenericSchema<unknown, ClusterStatus> = v.looseObject({
  clusterName: v.string(),
  serverVersion: v.string(),
  caPins: strings,
  certAuthorities: v.array(
    v.looseObject({
      type: named<CertAuthorityType>(),
      clusterName: v.string(),
      rotation: RotationSchema,
      algorithms: v.looseObject({ tls: v.optional(named<KeyAlgorithm | 'unknown'>()), ssh: v.optional(named<KeyAlgorithm | 'unknown'>()) }),
      trustedKeys: v.looseObject({ tls: v.number(), ssh: v.number() }),
    }),
  ),
});

export const UserTokenInfoSchema: v.GenericSchema<unknown, UserTokenInfo> = v.looseObject({
  id: v.string(),
  user: v.string(),
  kind: v.picklist(['invite', 'reset']),
  expires: v.string(),
  url: v.string(),
});

export const UserTokenDetailsSchema: v.GenericSchema<unknown, UserTokenDetails> = v.looseObject({
  user: v.string(),
  kind: v.picklist(['invite', 'reset']),
  expires: v.string(),
  totp: v.optional(v.looseObject({ secret: v.string(), url: v.string() })),
});

export const CreateUserResponse = v.looseObject({ user: v.unknown(), token: v.optional(UserTokenInfoSchema) });

export const UserNameResponse = v.looseObject({ user: v.string() });

const CaKeySetSchema = v.looseObject({
  ssh: v.array(v.looseObject({ public_key: v.string(), private_key: v.optional(v.string()) })),
  tls: v.array(v.looseObject({ cert: v.string(), key: v.optional(v.string()) })),
});

const CertAuthoritySchema: v.GenericSchema<unknown, CertAuthority> = v.looseObject({
  kind: v.literal('cert_authority'),
  sub_kind: named<CertAuthorityType>(),
  version: v.literal('v2'),
  metadata: v.looseObject({ name: v.string() }),
  spec: v.looseObject({
    cluster_name: v.string(),
    type: named<CertAuthorityType>(),
    active_keys: CaKeySetSchema,
    additional_trusted_keys: CaKeySetSchema,
    rotation: RotationSchema,
  }),
});

export const CertAuthoritiesResponse = v.looseObject({ items: v.array(CertAuthoritySchema) });

export const DatabaseCertsSchema: v.GenericSchema<unknown, DatabaseCerts> = v.looseObject({
  cert: v.string(),
  caCerts: strings,
  clientCaCerts: strings,
});

export const UserCertsSchema: v.GenericSchema<unknown, UserCerts> = v.looseObject({
  sshCert: v.string(),
  tlsCert: v.string(),
  tlsCaCerts: strings,
  sshCaKeys: strings,
});

export const AuthenticateUserResponse: v.GenericSchema<unknown, UserCerts & { username: string }> = v.intersect([
  UserCertsSchema,
  v.looseObject({ username: v.string() }),
]);

export const OpenSshUserCertSchema: v.GenericSchema<unknown, OpenSshUserCert> = v.looseObject({ sshCert: v.string() });

export const OpenSshHostCertSchema: v.GenericSchema<unknown, OpenSshHostCert> = v.looseObject({ sshCert: v.string(), sshCaKeys: strings });

export const HostCertsSchema: v.GenericSchema<unknown, HostCerts> = v.looseObject({
  tlsCert: v.string(),
  sshCert: v.string(),
  tlsCaCerts: strings,
  sshCaKeys: strings,
});

const AuditEventSchema = v.pipe(
  v.looseObject({ uid: v.string(), event: v.string(), code: v.string(), time: v.string() }),
  // Further fields are any JSON (the event's own); JSON.parse made them, so they are.
  v.transform((event) => event as AuditEvent),
);

export const SearchEventsResponse: v.GenericSchema<unknown, SearchEventsResult> = v.looseObject({
  events: v.array(AuditEventSchema),
  nextKey: v.optional(v.string()),
});

const DatabaseSchema: v.GenericSchema<unknown, Database> = v.looseObject({
  kind: v.literal('db'),
  version: v.literal('v3'),
  metadata: v.looseObject({ name: v.string(), description: v.optional(v.string()), labels: v.record(v.string(), v.string()) }),
  spec: v.looseObject({ protocol: named<DatabaseProtocol>(), uri: v.string() }),
});

export const DatabaseServerSchema: v.GenericSchema<unknown, DatabaseServer> = v.looseObject({
  kind: v.literal('db_server'),
  version: v.literal('v3'),
  metadata: v.looseObject({ name: v.string(), expires: v.optional(v.string()) }),
  spec: v.looseObject({ host_id: v.string(), hostname: v.string(), version: v.string(), database: DatabaseSchema, proxy_ids: v.optional(strings) }),
});

export const DatabaseServersResponse = v.looseObject({ items: v.array(DatabaseServerSchema) });

const isString = (x: unknown): x is string => typeof x === 'string';

function isDatabase(x: unknown): boolean {
  if (!isRecord(x) || x['kind'] !== 'db' || x['version'] !== 'v3' || !isRecord(x['metadata']) || !isRecord(x['spec'])) return false;
  const { name, description, labels } = x['metadata'];
  if (!isString(name) || (description !== undefined && !isString(description)) || !isStringRecord(labels)) return false;
  return isString(x['spec']['protocol']) && isString(x['spec']['uri']);
}

function isDatabaseServer(x: unknown): boolean {
  if (!isRecord(x) || x['kind'] !== 'db_server' || x['version'] !== 'v3' || !isRecord(x['metadata']) || !isRecord(x['spec'])) return false;
  const { name, expires } = x['metadata'];
  if (!isString(name) || (expires !== undefined && !isString(expires))) return false;
  const { host_id: hostId, hostname, version, database, proxy_ids: proxyIds } = x['spec'];
  if (!isString(hostId) || !isString(hostname) || !isString(version) || !isDatabase(database)) return false;
  return proxyIds === undefined || (Array.isArray(proxyIds) && proxyIds.every(isString));
}

/**
 * `GET /dbservers` (`tsh db ls`, the proxy's routing), checked against {@link DatabaseServersResponse}. The same
 * checks run first in plain code, which at 5,000 servers takes a few milliseconds where the schema took ~50
 * (`pnpm bench listing`); the schema runs only when they fail, for its one-line message naming the field.
 */
export function parseDatabaseServers(raw: unknown, subject: string): DatabaseServer[] {
  if (isRecord(raw) && Array.isArray(raw['items']) && raw['items'].every(isDatabaseServer)) return raw['items'] as DatabaseServer[];
  return parseWith(DatabaseServersResponse, raw, subject).items;
}

export const ProxyServerSchema: v.GenericSchema<unknown, ProxyServer> = v.looseObject({
  kind: v.literal('proxy'),
  version: v.literal('v2'),
  metadata: v.looseObject({ name: v.string(), expires: v.optional(v.string()) }),
  spec: v.looseObject({ hostname: v.string(), public_addr: v.string(), peer_addr: v.optional(v.string()), version: v.string() }),
});

export const ProxyServersResponse = v.looseObject({ items: v.array(ProxyServerSchema) });

const InstanceRotationSchema = v.optional(v.looseObject({ current_id: v.optional(v.string()), phase: v.string() }));

export const InstanceSchema: v.GenericSchema<unknown, Instance> = v.looseObject({
  kind: v.literal('instance'),
  version: v.literal('v1'),
  metadata: v.looseObject({ name: v.string(), expires: v.optional(v.string()) }),
  spec: v.looseObject({ host_id: v.string(), hostname: v.string(), role: v.string(), last_seen: v.string(), host: InstanceRotationSchema, user: InstanceRotationSchema }),
});

export const InstancesResponse = v.looseObject({ items: v.array(InstanceSchema) });

export const TunnelStrategySchema: v.GenericSchema<unknown, TunnelStrategy> = v.looseObject({
  type: v.picklist(['agent_mesh', 'proxy_peering']),
  agent_connection_count: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
});

/** The parts of the proxy's `GET /webapi/ping` answer tsh reads (Teleport's snake_case field names). */
export const WebPingResponse = v.looseObject({
  auth: v.optional(v.looseObject({ type: v.optional(v.string()), second_factor: v.optional(v.string()) })),
  proxy: v.optional(v.looseObject({ tls_routing_enabled: v.optional(v.boolean()) })),
  cluster_name: v.optional(v.string()),
});

export type WebPing = v.InferOutput<typeof WebPingResponse>;

/** The proxy's `POST /v1/webapi/ssh/certs` answer: the login's certificates and the cluster's host CAs. */
export const WebSshCertsResponse = v.looseObject({
  username: v.optional(v.string()),
  cert: v.string(),
  tls_cert: v.string(),
  host_signers: v.optional(
    v.array(v.looseObject({ domain_name: v.optional(v.string()), checking_keys: v.optional(strings), tls_certs: v.optional(strings) })),
  ),
});

export type WebSshCerts = v.InferOutput<typeof WebSshCertsResponse>;

/** `GET /accessrequests/search`: resource ids with their labels. */
export const RequestableResourcesResponse = v.looseObject({
  items: v.array(v.looseObject({ id: v.string(), kind: v.string(), name: v.string(), labels: v.record(v.string(), v.string()) })),
});

export const AccessCapabilitiesSchema: v.GenericSchema<unknown, AccessCapabilities> = v.looseObject({
  requestableRoles: strings,
  requireReason: v.boolean(),
  autoRequest: v.boolean(),
  requestPrompt: v.optional(v.string()),
});

/** One line of `GET /accessrequests/watch` (the request is parsed by the caller with `parseAccessRequest`). */
export const AccessRequestWatchLine = v.variant('type', [
  v.looseObject({ type: v.literal('init') }),
  v.looseObject({ type: v.literal('ping') }),
  v.looseObject({ type: v.literal('put'), request: v.unknown() }),
  v.looseObject({ type: v.literal('delete'), id: v.pipe(v.string(), v.minLength(1)) }),
]);

/** One backend item on the wire (`GET /v1/backend/items`, `GET /v1/backend/watch`): the value in base64. */
export const BackendItemWire = v.looseObject({
  key: v.pipe(v.string(), v.minLength(1), v.maxLength(4096)),
  value: v.string(),
  expires: v.optional(v.string()),
  revision: v.string(),
});

export const BackendItemsResponse = v.looseObject({ items: v.array(BackendItemWire) });

/** A line of the backend watch stream. */
export const BackendWatchLine = v.variant('type', [
  v.looseObject({ type: v.literal('init') }),
  v.looseObject({ type: v.literal('ping') }),
  v.looseObject({ type: v.literal('put'), item: BackendItemWire }),
  v.looseObject({ type: v.literal('delete'), key: v.pipe(v.string(), v.minLength(1), v.maxLength(4096)) }),
]);
