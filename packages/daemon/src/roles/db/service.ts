/**
 * The db agent (`teleport-ts start --roles=db`, `teleport-ts db start`): it joins the cluster once with a token
 * (checking the CA pin) and keeps its `Db` host identity in `<data_dir>/db/`, heartbeats a `db_server` per database
 * it serves, keeps reverse tunnels to the proxies up (one to each proxy, or N with proxy peering, all dialed through
 * the one proxy address it was given, which may be a load balancer; it listens on nothing), and serves every database connection
 * the proxy forwards through it with the engine of the database's protocol (`./engines/`).
 *
 * `--auth-server` may name the auth server or a proxy: the agent reaches the auth API through the proxy's
 * `teleport-auth` ALPN passthrough either way, and dials the tunnel to that proxy (or, given an auth server, to the
 * proxy the cluster advertises).
 */

import path from 'node:path';
import { AUTH_VIA_PROXY_ALPN, loadIdentity, newAuthClient, type AuthClient, type Identity } from '@teleport-ts/core/api';
import { systemClock, type Clock } from '@teleport-ts/core/clock';
import type { DatabaseFileConfig } from '@teleport-ts/core/config';
import { BadParameterError, redact } from '@teleport-ts/core/errors';
import type { TunnelPool } from '@teleport-ts/core/tunnel';
import type { Logger } from '../../logger.js';
import { issueLocalHostIdentity, loadOrCreateHostUuid, type AuthServer } from '../auth/index.js';
import { clusterAndHostId } from '../agent.js';
import { startAgentTunnels, type AgentTunnelsOptions } from '../agent-tunnels.js';
import { loadOrJoinIdentity } from '../join.js';
import { renewingAuthClient, startAgentRenewal } from '../renewal.js';
import { startLockWatcher } from '../lockwatcher.js';
import type { BackendCache } from '@teleport-ts/core/cache';
import { AGENT_CACHE_PREFIXES, AGENT_CACHE_SETTINGS, openRemoteCache, withCachedReads, type RemoteCache } from '../remote-cache.js';
import { newServiceAuditEmitter } from './audit.js';
import { DEFAULT_ROLE_CACHE_TTL_MS, newDatabaseAuthorizer } from './authorize.js';
import { newCertAuthorityCache } from './cas.js';
import { loadDatabaseSpecs, type DatabaseSpec } from './config.js';
import type { EngineContext } from './engines/engine.js';
import { newEngineRegistry } from './engines/registry.js';
import { DEFAULT_DB_HEARTBEAT, startDatabaseHeartbeats } from './heartbeat.js';
import { newDatabaseStreams, type DatabaseStreams } from './streams.js';
import { newClientCertCache } from './upstream.js';
import { databaseWorkerIndex, forkDatabaseWorkers, listenToPrimary, resolveWorkerCount } from './workers.js';


/** Where a db agent that joined keeps its identity. */
const DB_IDENTITY_DIR = 'db';

export interface DatabaseServiceOptions {
  dataDir: string;
  nodename: string;
  /** Validated entries (`db_service.databases`, or one from the `--db-*` flags); at least one. */
  databases: readonly DatabaseFileConfig[];
  /**
   * How an agent without a local auth service joins. `token` (a secret) is needed only for the first start; later
   * starts read `<data_dir>/db/`. `authServer` may be the auth server or a proxy (`host:port`).
   */
  join: { token?: string; authServer?: string; caPins: readonly string[] };
  /** The auth service of this process, when it runs one: the identity is then issued in process. */
  auth?: AuthServer;
  /** The reverse tunnel's address; default the `authServer` when it is a proxy, else the cluster's proxy. */
  proxyAddr?: string;
  clock?: Clock;
  logger: Logger;
  /** `db_server` announcements: TTL and interval, ms. */
  heartbeat?: { ttlMs?: number; intervalMs?: number };
  /** Reconnect, keepalive and discovery settings of the reverse tunnels. */
  tunnel?: AgentTunnelsOptions['tunnel'];
  /** How long role definitions are cached; default 5 s. */
  roleCacheTtlMs?: number;
  /** How often locks are fetched from the auth server (default 2 s). */
  lockRefreshMs?: number;
  /**
   * Processes serving sessions (`db_service.workers`; `auto`: one per CPU core; default 1). More than one needs an
   * agent that joined (not one next to the auth service): see `./workers.ts`.
   */
  workers?: number | 'auto';
}

export interface DatabaseService {
  /** The agent's host UUID: its `db_server`s' `host_id` and its reverse tunnel's id. */
  readonly hostId: string;
  readonly clusterName: string;
  readonly databases: readonly DatabaseSpec[];
  /** Resolves once the reverse tunnel is up and every database was announced once. */
  readonly ready: Promise<void>;
  /** `connected` while at least one tunnel is up, else `connecting`; `closed` after close. */
  readonly tunnelState: TunnelPool['state'];
  /** Host ids of the proxies the agent holds a tunnel to. */
  connectedProxies(): string[];
  /** Sessions being served now. */
  readonly activeSessions: number;
  /** Audit events queued for the auth server. */
  auditQueueDepth(): number;
  /** The cache fed by the auth server's watch (an agent alone). */
  readonly cache?: BackendCache;
  /** Stops announcing, drops the tunnel and every session, flushes the audit queue. */
  close(): Promise<void>;
}

function joinedIdentity(options: DatabaseServiceOptions, hostUuid: string): Promise<Identity> {
  return loadOrJoinIdentity({
    dir: path.join(options.dataDir, DB_IDENTITY_DIR),
    join: options.join,
    missingFlags: {
      message: 'the database service needs --token, --auth-server and --ca-pin to join the cluster',
      hint: 'on the auth server: tctl tokens add --type=db, and tctl status for the CA pin',
    },
    register: { role: 'Db', hostUuid, nodename: options.nodename, alpnProtocols: AUTH_VIA_PROXY_ALPN },
    logger: options.logger,
    joinedMessage: 'database service joined the cluster',
  });
}

/** The agent's identity and the address of the auth API (the auth server, or a proxy in front of it). */
async function obtainIdentity(options: DatabaseServiceOptions, hostUuid: string): Promise<{ identity: Identity; authAddr: string }> {
  if (options.auth) {
    const authAddr = options.auth.dialAddr;
    return { identity: await issueLocalHostIdentity(options.auth.context, 'Db', authAddr), authAddr };
  }
  const identity = await joinedIdentity(options, hostUuid);
  const authAddr = options.join.authServer ?? identity.authServers?.[0];
  if (authAddr === undefined) throw new BadParameterError('the database service needs --auth-server', { hint: 'the auth server or proxy address, host:port' });
  return { identity, authAddr };
}

/** The services every engine shares: verification and RBAC, client certificates, CAs, audit, locks. */
function newEngineContext(
  options: DatabaseServiceOptions,
  agent: { auth: AuthClient; clusterName: string; hostId: string; clock: Clock; identity: Identity; cache: RemoteCache | undefined },
): EngineContext {
  const { clusterName, clock, identity, cache } = agent;
  const { logger } = options;
  // With a cache, CAs, roles and locks are memory reads kept current by the watch: no TTL in front of them.
  const auth = cache ? withCachedReads(agent.auth, cache.reads) : agent.auth;
  const cas = newCertAuthorityCache({ auth, clusterName, clock, initial: { host: identity.caCerts }, ...(cache ? { maxAgeMs: CACHED_READ_MAX_AGE_MS } : {}) });
  const roleCacheTtlMs = options.roleCacheTtlMs ?? (cache ? 0 : DEFAULT_ROLE_CACHE_TTL_MS);
  const lockRefreshMs = options.lockRefreshMs ?? (cache ? CACHED_READ_MAX_AGE_MS : undefined);
  return {
    authorizer: newDatabaseAuthorizer({ cas, auth, clusterName, roleCacheTtlMs }),
    certs: newClientCertCache({ auth, clock }),
    cas,
    audit: newServiceAuditEmitter({ auth, clock, logger, spoolFile: path.join(options.dataDir, 'log', 'audit-spool', spoolName()) }),
    logger,
    locks: startLockWatcher({
      auth,
      clock,
      ...(lockRefreshMs !== undefined ? { refreshMs: lockRefreshMs } : {}),
      onError: (err) => logger.warn('could not fetch locks, keeping the last known ones', { error: redact((err as Error).message) }),
    }),
    hostId: agent.hostId,
  };
}

/** Each process of the agent keeps its own audit spool. */
function spoolName(): string {
  const worker = databaseWorkerIndex();
  return worker === undefined ? 'db.jsonl' : `db-worker-${worker}.jsonl`;
}

/** The running agent's parts, closed in order by {@link closeDatabaseService}. */
interface RunningAgent {
  control: AgentControl;
  engine: EngineContext;
  tunnel: TunnelPool;
  streams: DatabaseStreams;
  auth: AuthClient;
  cache: RemoteCache | undefined;
  logger: Logger;
}

/** How often an agent with a cache re-reads locks and CAs from it (memory reads). */
const CACHED_READ_MAX_AGE_MS = 250;

async function closeDatabaseService(agent: RunningAgent): Promise<void> {
  await agent.control.close();
  agent.engine.locks.close();
  await agent.tunnel.close();
  agent.streams.destroyAll();
  await agent.engine.audit.close();
  await agent.cache?.close();
  await agent.auth.close();
  agent.logger.info('database service stopped');
}

/** What runs next to the serving: heartbeats and renewal (the primary), or following the primary (a worker). */
interface AgentControl {
  readonly firstAnnounced: Promise<void>;
  close(): Promise<void>;
}

interface ControlledAgent {
  auth: ReturnType<typeof renewingAuthClient>;
  identity: Identity;
  clusterName: string;
  hostId: string;
  clock: Clock;
  tunnel: TunnelPool;
  engine: EngineContext;
  databases: readonly DatabaseSpec[];
}

/** The primary: heartbeats, identity renewal, and the worker processes when `workers` asks for more than one. */
function startPrimaryControl(options: DatabaseServiceOptions, a: ControlledAgent, proxiesChanged: { notify: (ids: readonly string[]) => void }): AgentControl {
  const { logger } = options;
  let proxyIds: readonly string[] = [];
  const heartbeat = { ...DEFAULT_DB_HEARTBEAT, ...options.heartbeat };
  const heartbeats = startDatabaseHeartbeats({ auth: a.auth.client, hostId: a.hostId, nodename: options.nodename, databases: a.databases, heartbeat, logger, proxyIds: () => proxyIds });
  proxiesChanged.notify = (ids) => {
    proxyIds = ids;
    heartbeats.refresh();
  };
  const count = resolveWorkerCount(options.workers);
  if (count > 1 && options.auth) logger.warn('db_service.workers is ignored next to the auth service: one process serves', { workers: count });
  const workers = count > 1 && !options.auth ? forkDatabaseWorkers(count, logger) : undefined;
  const local = options.auth;
  const renewal = startAgentRenewal({
    identity: a.identity,
    role: 'Db',
    nodename: options.nodename,
    clusterName: a.clusterName,
    auth: a.auth,
    ...(local ? { local: () => issueLocalHostIdentity(local.context, 'Db', local.dialAddr) } : { dir: path.join(options.dataDir, DB_IDENTITY_DIR) }),
    onNewCert: () => {
      a.tunnel.renew();
      workers?.broadcast({ type: 'identity-renewed' });
    },
    onCasChanged: () => {
      a.engine.cas.invalidate();
      workers?.broadcast({ type: 'cas-changed' });
    },
    clock: a.clock,
    logger,
  });
  return {
    firstAnnounced: heartbeats.firstAnnounced,
    async close() {
      await workers?.close();
      await renewal.close();
      heartbeats.close();
    },
  };
}

/** A worker: the primary announces and renews; a renewed identity is read from the data dir, as the primary wrote it. */
function startWorkerControl(options: DatabaseServiceOptions, a: ControlledAgent): AgentControl {
  const dir = path.join(options.dataDir, DB_IDENTITY_DIR);
  const stop = listenToPrimary(
    (message) => {
      if (message.type === 'cas-changed') a.engine.cas.invalidate();
      // Either way the identity on disk is the primary's newest (its certificate, or the CAs it trusts now).
      loadIdentity(dir).then(
        (renewed) => {
          Object.assign(a.identity, renewed);
          a.auth.renew();
          if (message.type === 'identity-renewed') a.tunnel.renew();
        },
        (err: unknown) => options.logger.warn('could not read the renewed identity', { error: redact((err as Error).message) }),
      );
    },
    // The primary is gone (killed): nothing announces this agent any more, and nothing would stop this process.
    () => process.kill(process.pid, 'SIGTERM'),
  );
  return { firstAnnounced: Promise.resolve(), close: async () => stop() };
}

/**
 * Starts the db agent. Resolves once it has its identity and an auth client (the tunnel and the first heartbeats
 * follow: await `ready`).
 *
 * @example
 * ```ts
 * const db = await startDatabaseService({
 *   dataDir, nodename: 'db-1', logger,
 *   databases: [{ name: 'orders', protocol: 'postgres', uri: 'localhost:5432' }],
 *   join: { token, authServer: 'proxy.example.com:3080', caPins: ['sha256:...'] },
 * });
 * await db.ready;
 * ```
 */
export async function startDatabaseService(options: DatabaseServiceOptions): Promise<DatabaseService> {
  const clock = options.clock ?? systemClock;
  const { logger } = options;
  if (options.databases.length === 0) {
    throw new BadParameterError('the database service has no database to serve', {
      hint: 'pass --db-name, --db-protocol and --db-uri, or list db_service.databases in teleport.yaml',
    });
  }
  const databases = await loadDatabaseSpecs(options.databases);
  const hostUuid = await loadOrCreateHostUuid(options.dataDir);
  const { identity, authAddr } = await obtainIdentity(options, hostUuid);
  const { clusterName, hostId } = clusterAndHostId(identity, hostUuid);
  const renewing = renewingAuthClient(() => newAuthClient({ addr: authAddr, identity, alpnProtocols: AUTH_VIA_PROXY_ALPN }));
  const auth: AuthClient = renewing.client;
  // An agent alone follows the auth server's watch (CAs, roles, locks): sessions of valid certificates are checked
  // while the auth server is unreachable. Next to an auth server, the local API answers from that server's cache.
  const cache = options.auth ? undefined : openRemoteCache({ auth, prefixes: AGENT_CACHE_PREFIXES, name: 'db', clock, logger, settings: AGENT_CACHE_SETTINGS });
  const engine = newEngineContext(options, { auth, clusterName, hostId, clock, identity, cache });
  const engines = newEngineRegistry(engine);
  const streams = newDatabaseStreams({ databases, engines, logger });
  const proxiesChanged = { notify: (_ids: readonly string[]): void => undefined };
  const tunnel = startAgentTunnels({
    ...(options.proxyAddr !== undefined ? { proxyAddr: options.proxyAddr } : {}),
    authAddr,
    auth,
    identity,
    cas: engine.cas,
    clusterName,
    clock,
    logger,
    ...(cache ? { cache } : {}),
    onStream: streams.onStream,
    onProxiesChanged: (ids) => proxiesChanged.notify(ids),
    ...(options.tunnel ? { tunnel: options.tunnel } : {}),
  });
  const agent = { auth: renewing, identity, clusterName, hostId, clock, tunnel, engine, databases };
  const control = databaseWorkerIndex() === undefined ? startPrimaryControl(options, agent, proxiesChanged) : startWorkerControl(options, agent);
  const ready = Promise.all([tunnel.ready, control.firstAnnounced]).then(() => undefined);
  ready.catch(() => undefined);
  logger.info('database service is up', { host_id: hostId, databases: databases.map((d) => d.name), auth_server: authAddr });
  let closing: Promise<void> | undefined;
  return {
    hostId,
    clusterName,
    databases,
    ready,
    get tunnelState() {
      return tunnel.state;
    },
    connectedProxies: () => tunnel.connectedProxies(),
    get activeSessions() {
      return streams.active.size;
    },
    auditQueueDepth: () => engine.audit.depth(),
    ...(cache ? { cache: cache.cache } : {}),
    async close() {
      if (closing !== undefined) return;
      closing = closeDatabaseService({ control, engine, tunnel, streams, auth, cache, logger });
      await closing;
    },
  };
}
