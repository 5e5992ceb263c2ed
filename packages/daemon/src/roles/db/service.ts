/**
 * The db agent (`teleport-ts start --roles=db`, `teleport-ts db start`): it joins the cluster once with a token
 * (checking the CA pin) and keeps its `Db` host identity in `<data_dir>/db/`, heartbeats a `db_server` per database
 * it serves, keeps a reverse tunnel to the proxy up (it listens on nothing), and serves every database connection
 * the proxy forwards through it with the PostgreSQL engine (`./postgres.ts`).
 *
 * `--auth-server` may name the auth server or a proxy: the agent reaches the auth API through the proxy's
 * `teleport-auth` ALPN passthrough either way, and dials the tunnel to that proxy (or, given an auth server, to the
 * proxy the cluster advertises).
 */

import os from 'node:os';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import {
  AUTH_VIA_PROXY_ALPN,
  newAuthClient,
  type AuthClient,
  type Identity,
} from '@teleport-ts/core/api';
import { parseIdentity } from '@teleport-ts/core/ca';
import { systemClock, type Clock } from '@teleport-ts/core/clock';
import type { DatabaseFileConfig } from '@teleport-ts/core/config';
import { BadParameterError, NotFoundError, redact } from '@teleport-ts/core/errors';
import { newCancelKeyRegistry } from '@teleport-ts/core/protocol/postgres';
import { startTunnelAgent, type TunnelAgent, type TunnelAgentOptions, type TunnelStreamMeta } from '@teleport-ts/core/tunnel';
import { VERSION } from '@teleport-ts/core/version';
import type { Logger } from '../../logger.js';
import { issueLocalHostIdentity, loadOrCreateHostUuid, type AuthServer } from '../auth/index.js';
import { loadOrJoinIdentity } from '../join.js';
import { newServiceAuditEmitter } from './audit.js';
import { DEFAULT_ROLE_CACHE_TTL_MS, newDatabaseAuthorizer } from './authorize.js';
import { newCertAuthorityCache } from './cas.js';
import { loadDatabaseSpecs, type DatabaseSpec } from './config.js';
import { reverseTunnelDialer } from './dial.js';
import { startLockWatcher } from '../lockwatcher.js';
import { servePostgresStream, type CancelTarget, type PostgresEngineContext } from './postgres.js';
import { newClientCertCache } from './upstream.js';
import { parseDatabaseStreamMeta } from './wire.js';

/** Where a db agent that joined keeps its identity. */
export const DB_IDENTITY_DIR = 'db';

/** Defaults of the `db_server` heartbeat: announced for 60 s, renewed every 20 s (two may be missed). */
export const DEFAULT_DB_HEARTBEAT = Object.freeze({ ttlMs: 60_000, intervalMs: 20_000 });
/** Delay before retrying a heartbeat the auth server did not take. */
const HEARTBEAT_RETRY_MS = 5_000;

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
  /** Reconnect and keepalive settings of the reverse tunnel. */
  tunnel?: Pick<TunnelAgentOptions, 'backoff' | 'keepAliveIntervalMs' | 'keepAliveTimeoutMs'>;
  /** How long role definitions are cached; default 5 s. */
  roleCacheTtlMs?: number;
  /** How often locks are fetched from the auth server (default 2 s). */
  lockRefreshMs?: number;
}

export interface DatabaseService {
  /** The agent's host UUID: its `db_server`s' `host_id` and its reverse tunnel's id. */
  readonly hostId: string;
  readonly clusterName: string;
  readonly databases: readonly DatabaseSpec[];
  /** Resolves once the reverse tunnel is up and every database was announced once. */
  readonly ready: Promise<void>;
  /** `connecting`, `connected`, `backoff` or `closed`. */
  readonly tunnelState: TunnelAgent['state'];
  /** Sessions being served now. */
  readonly activeSessions: number;
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
  const logger = options.logger;
  if (options.databases.length === 0) {
    throw new BadParameterError('the database service has no database to serve', {
      hint: 'pass --db-name, --db-protocol and --db-uri, or list db_service.databases in teleport.yaml',
    });
  }
  const databases = await loadDatabaseSpecs(options.databases);
  const byName = new Map(databases.map((d) => [d.name, d]));
  const hostUuid = await loadOrCreateHostUuid(options.dataDir);

  let identity: Identity;
  let authAddr: string;
  if (options.auth) {
    authAddr = options.auth.dialAddr;
    identity = await issueLocalHostIdentity(options.auth.context, 'Db', authAddr);
  } else {
    identity = await joinedIdentity(options, hostUuid);
    const addr = options.join.authServer ?? identity.authServers?.[0];
    if (addr === undefined) throw new BadParameterError('the database service needs --auth-server', { hint: 'the auth server or proxy address, host:port' });
    authAddr = addr;
  }
  const certIdentity = parseIdentity(identity.cert);
  const clusterName = certIdentity.teleportCluster ?? identity.clusterName ?? '';
  const hostId = certIdentity.username.endsWith(`.${clusterName}`) ? certIdentity.username.slice(0, -clusterName.length - 1) : hostUuid;

  const auth: AuthClient = newAuthClient({ addr: authAddr, identity, alpnProtocols: AUTH_VIA_PROXY_ALPN });
  const cas = newCertAuthorityCache({ auth, clusterName, clock, initial: { host: identity.caCerts } });
  const audit = newServiceAuditEmitter({ auth, clock, logger });
  const engine: PostgresEngineContext = {
    authorizer: newDatabaseAuthorizer({ cas, auth, clusterName, roleCacheTtlMs: options.roleCacheTtlMs ?? DEFAULT_ROLE_CACHE_TTL_MS }),
    certs: newClientCertCache({ auth, clock }),
    cas,
    cancelKeys: newCancelKeyRegistry<CancelTarget>(),
    audit,
    logger,
    locks: startLockWatcher({
      auth,
      clock,
      ...(options.lockRefreshMs !== undefined ? { refreshMs: options.lockRefreshMs } : {}),
      onError: (err) => logger.warn('could not fetch locks, keeping the last known ones', { error: redact((err as Error).message) }),
    }),
    hostId,
  };

  // ---- heartbeats ----
  const heartbeat = { ...DEFAULT_DB_HEARTBEAT, ...options.heartbeat };
  let closed = false;
  const timers = new Set<NodeJS.Timeout>();
  const announce = async (database: DatabaseSpec): Promise<void> => {
    await auth.upsertDatabaseServer({
      hostId,
      hostname: options.nodename,
      version: VERSION,
      database: {
        name: database.name,
        ...(database.description !== '' ? { description: database.description } : {}),
        protocol: database.protocol,
        uri: database.uri,
        labels: database.labels,
      },
      ttl: heartbeat.ttlMs,
    });
  };
  const firstAnnouncements = databases.map(
    (database) =>
      new Promise<void>((resolveFirst) => {
        let announced = false;
        const beat = async (): Promise<void> => {
          let delay = heartbeat.intervalMs;
          try {
            await announce(database);
            if (!announced) {
              announced = true;
              resolveFirst();
              logger.info('database announced', { db_service: database.name, protocol: database.protocol });
            }
          } catch (err) {
            delay = Math.min(HEARTBEAT_RETRY_MS, heartbeat.intervalMs);
            if (!closed) logger.warn('database heartbeat failed, retrying', { db_service: database.name, error: redact((err as Error).message) });
          }
          if (closed) return;
          const timer = setTimeout(() => {
            timers.delete(timer);
            void beat();
          }, delay);
          timers.add(timer);
        };
        void beat();
      }),
  );

  // ---- reverse tunnel ----
  let proxyCandidates: Promise<readonly string[]> | undefined;
  const candidates = (): Promise<readonly string[]> => {
    if (options.proxyAddr !== undefined) return Promise.resolve([options.proxyAddr]);
    proxyCandidates ??= auth
      .ping()
      .then((ping) => [authAddr, ...(ping.proxyPublicAddr ? [ping.proxyPublicAddr] : [])])
      .catch(() => {
        proxyCandidates = undefined;
        return [authAddr];
      });
    return proxyCandidates;
  };
  const sessions = new Set<Duplex>();
  const onStream = (rawMeta: TunnelStreamMeta, stream: Duplex): void => {
    const meta = parseDatabaseStreamMeta(rawMeta);
    const database = byName.get(meta.service);
    if (database === undefined) {
      throw new NotFoundError(`database ${JSON.stringify(meta.service)} is not served by this database service`, { hint: 'tctl db ls lists which service serves it' });
    }
    sessions.add(stream);
    void servePostgresStream(engine, database, meta, stream)
      .catch((err: unknown) => {
        logger.error('database session failed', { db_service: database.name, error: redact((err as Error).message) });
        stream.destroy();
      })
      .finally(() => sessions.delete(stream));
  };
  let loggedAddr: string | undefined;
  const tunnel = startTunnelAgent({
    connect: reverseTunnelDialer({
      candidates,
      identity,
      cas,
      clusterName,
      onConnected: (addr) => {
        if (addr !== loggedAddr) logger.info('reverse tunnel to the proxy is up', { proxy: addr });
        loggedAddr = addr;
      },
    }),
    onStream,
    clock,
    ...options.tunnel,
  });

  const ready = Promise.all([tunnel.ready, ...firstAnnouncements]).then(() => undefined);
  ready.catch(() => undefined);
  logger.info('database service is up', { host_id: hostId, databases: databases.map((d) => d.name), auth_server: authAddr });

  return {
    hostId,
    clusterName,
    databases,
    ready,
    get tunnelState() {
      return tunnel.state;
    },
    get activeSessions() {
      return sessions.size;
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      engine.locks.close();
      await tunnel.close();
      for (const stream of sessions) stream.destroy();
      await audit.close();
      await auth.close();
      logger.info('database service stopped');
    },
  };
}

/** This host's name, the default node name. */
export function defaultNodename(): string {
  return os.hostname();
}
