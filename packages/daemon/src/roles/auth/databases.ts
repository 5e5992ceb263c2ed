/**
 * Database access on the auth server: the `db_server` heartbeats db agents send (stored with an expiry, so a dead
 * agent's databases disappear by themselves), their listing (filtered by `db_labels` for users), and the audit
 * events db agents and proxies record about database sessions.
 */

import { compareDatabaseServers, type Database, type DatabaseServer } from '@teleport-ts/core/api';
import { lookupAuditEventCode, type AuditEvent } from '@teleport-ts/core/audit';
import { key } from '@teleport-ts/core/backend';
import { DATABASE_PROTOCOLS, type DatabaseProtocol } from '@teleport-ts/core/config';
import { AccessDeniedError, BadParameterError } from '@teleport-ts/core/errors';
import { decodedPerItem, decodeJson, encodeJson, getAllWithPrefix } from '@teleport-ts/core/services';
import type { JsonText } from '../../http/router.js';
import { itemsJson, listingOrder } from './listing.js';
import { authorize, hostIdOf, requireAuthenticated, requireSystemRole, type Caller } from './authz.js';
import type { AuthContext } from './context.js';
import { EmitAuditEventsBody, UpsertDatabaseServerBody, parseBody } from './requests.js';

/** Backend prefix of database servers: `/db_servers/<host-uuid>/<database>`. */
const DB_SERVERS_PREFIX = '/db_servers/';

/** A heartbeat keeps a database server listed this long unless the agent asks otherwise. */
const DEFAULT_DB_SERVER_TTL_MS = 60_000;

/** Largest single event accepted from a service, as JSON. */
const MAX_EVENT_BYTES = 64 * 1024;

const LABEL_KEY = /^[A-Za-z0-9/._:*-]{1,63}$/;
const MAX_LABELS = 64;

function parseLabels(raw: unknown): Record<string, string> {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new BadParameterError('database.labels must be a mapping of strings');
  const entries = Object.entries(raw as Record<string, unknown>);
  if (entries.length > MAX_LABELS) throw new BadParameterError(`a database may have at most ${MAX_LABELS} labels`);
  const labels: Record<string, string> = {};
  for (const [k, v] of entries) {
    if (!LABEL_KEY.test(k)) throw new BadParameterError(`invalid label key ${JSON.stringify(k.slice(0, 64))}`);
    if (typeof v !== 'string' || v.length > 256) throw new BadParameterError(`label ${k} must be a string of at most 256 characters`);
    labels[k] = v;
  }
  return labels;
}


function dbServerKey(hostId: string, name: string): string {
  return key('db_servers', hostId, name);
}

/**
 * A db agent's heartbeat for one of its databases: the Db system role, for its own host id only. The server is
 * stored until now + `ttl` (auth's clock); each heartbeat moves that on.
 */
export async function upsertDatabaseServer(ctx: AuthContext, caller: Caller, hostIdParam: string, nameParam: string, rawBody: unknown): Promise<DatabaseServer> {
  const agent = requireSystemRole(caller, 'Db');
  authorize(caller, 'db_server', 'create', 'update');
  const body = parseBody(UpsertDatabaseServerBody, rawBody);
  const hostId = body.hostId;
  if (hostId !== hostIdParam) throw new BadParameterError('the host id in the body does not match the path');
  if (hostId !== hostIdOf(agent.username, ctx.clusterName)) {
    throw new AccessDeniedError('access denied: a db agent may only heartbeat its own databases (host id differs from its certificate)');
  }
  const db = body.database;
  const name = db.name;
  if (name !== nameParam) throw new BadParameterError('the database name in the body does not match the path');
  const protocol = db.protocol;
  if (!(DATABASE_PROTOCOLS as readonly string[]).includes(protocol)) {
    throw new BadParameterError(`unsupported database protocol ${JSON.stringify(protocol.slice(0, 64))}`, { hint: `use one of ${DATABASE_PROTOCOLS.join(', ')}` });
  }
  const { uri, description } = db;
  const ttl = body.ttl ?? DEFAULT_DB_SERVER_TTL_MS;
  const hostname = body.hostname;
  const version = body.version ?? '';
  const expires = new Date(ctx.clock.now().getTime() + ttl);
  const database: Database = {
    kind: 'db',
    version: 'v3',
    metadata: { name, ...(description !== undefined ? { description } : {}), labels: parseLabels(db.labels) },
    spec: { protocol: protocol as DatabaseProtocol, uri },
  };
  const server: DatabaseServer = {
    kind: 'db_server',
    version: 'v3',
    metadata: { name, expires: expires.toISOString() },
    spec: { host_id: hostId, hostname, version: version.slice(0, 64), database, ...(body.proxyIds !== undefined ? { proxy_ids: body.proxyIds } : {}) },
  };
  await ctx.heartbeats.put({ key: dbServerKey(hostId, name), value: encodeJson(server), expires });
  return server;
}

/** A stored `db_server` (decoded and serialised once per heartbeat), with the item's expiry: backends keep their own, reads honour the item's. */
const storedDatabaseServer = decodedPerItem((item) => {
  const server = decodeJson(item) as DatabaseServer;
  if (item.expires) server.metadata.expires = item.expires.toISOString();
  return { key: item.key, server, json: JSON.stringify(server) };
});

const databaseServerOrder = listingOrder<ReturnType<typeof storedDatabaseServer>>((a, b) => compareDatabaseServers(a.server, b.server));

/**
 * Live database servers, sorted by database name then host id. Callers allowed to list and read `db_server`
 * (Admin, Proxy, Db) see all of them; users see the ones their roles' `db_labels` make visible, as Teleport's
 * resource listing does.
 */
export async function getDatabaseServers(ctx: AuthContext, caller: Caller): Promise<JsonText> {
  const authed = requireAuthenticated(caller);
  if (authed.kind === 'builtin') authorize(caller, 'db_server', 'list', 'read');
  const servers = databaseServerOrder((await getAllWithPrefix(ctx.cache, DB_SERVERS_PREFIX)).map(storedDatabaseServer));
  return itemsJson(authed.kind === 'user' ? servers.filter((s) => authed.checker.isDatabaseVisible(s.server.spec.database.metadata.labels)) : servers);
}

const UID = /^[A-Za-z0-9-]{8,64}$/;

/** SSH events the Node (and the Proxy, for agentless nodes) records. */
const SSH_SERVICE_EVENTS: readonly string[] = [
  'session.start', 'session.end', 'resize', 'session.rejected', 'auth', 'exec', 'port', 'scp', 'sftp', 'sftp_summary', 'subsystem',
];

/** Whether a system role may record an event of this name. */
function mayRecord(role: string, event: string): boolean {
  const db = event.startsWith('db.');
  if (role === 'Db') return db;
  if (role === 'Proxy') return db || SSH_SERVICE_EVENTS.includes(event);
  return role === 'Node' && SSH_SERVICE_EVENTS.includes(event);
}

/** Checks one event a service sent: a catalogued event its role may record, with a usable uid and time. */
function checkServiceEvent(raw: unknown, index: number, role: string): AuditEvent {
  const where = `events[${index}]`;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new BadParameterError(`${where} must be an object`);
  const ev = raw as Record<string, unknown>;
  const code = typeof ev['code'] === 'string' ? ev['code'] : '';
  const def = lookupAuditEventCode(code);
  if (def === undefined || def.event !== ev['event']) throw new BadParameterError(`${where}: unknown event code ${JSON.stringify(code.slice(0, 16))}`);
  if (!mayRecord(role, def.event)) {
    throw new AccessDeniedError(`access denied: the ${role} service may not record ${def.event} events`);
  }
  if (typeof ev['uid'] !== 'string' || !UID.test(ev['uid'])) throw new BadParameterError(`${where}.uid must be a UUID`);
  if (typeof ev['time'] !== 'string' || !Number.isFinite(Date.parse(ev['time']))) throw new BadParameterError(`${where}.time must be an ISO 8601 time`);
  if (JSON.stringify(ev).length > MAX_EVENT_BYTES) throw new BadParameterError(`${where} is larger than ${MAX_EVENT_BYTES} bytes`);
  return ev as AuditEvent;
}

/**
 * Stores audit events recorded by a service: the Db agent (session start, queries, end), the Node (SSH sessions, exec,
 * port forwarding, scp/sftp) and the Proxy (sessions it refused before any agent saw them, agentless nodes' sessions).
 * Only catalogued events the role may record; the cluster name and the caller's host id
 * (`server_id`) are set here, whatever the service sent, except the node a Proxy names in its SSH events (an
 * agentless node's sessions). Idempotent by `uid`, so a service may retry a batch.
 */
export async function emitAuditEvents(ctx: AuthContext, caller: Caller, rawBody: unknown): Promise<Record<string, never>> {
  const service = requireSystemRole(caller, 'Db', 'Proxy', 'Node');
  authorize(caller, 'event', 'create');
  const { events } = parseBody(EmitAuditEventsBody, rawBody);
  const checked = events.map((ev, i) => checkServiceEvent(ev, i, service.systemRole));
  const serverId = hostIdOf(service.username, ctx.clusterName);
  // The Proxy serves agentless nodes' sessions: their SSH events name the node they happened on.
  const ownServerId = (ev: AuditEvent): string =>
    service.systemRole === 'Proxy' && typeof ev['server_id'] === 'string' && !String(ev['event']).startsWith('db.') ? ev['server_id'] : serverId;
  await ctx.audit.emitMany(checked.map((ev) => ({ ...ev, cluster_name: ctx.clusterName, server_id: ownServerId(ev) })));
  return {};
}
