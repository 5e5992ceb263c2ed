/**
 * The teleport-ts process: opens the backend and audit store, starts the roles the configuration asks
 * for, serves the diagnostic endpoint, and shuts everything down in reverse order. Returns data; the
 * `start` command prints.
 */

import { mkdir } from 'node:fs/promises';
import { openAuditStore, type AuditEventStore } from '@teleport-ts/core/audit';
import { openBackend, type Backend, type StorageConfig } from '@teleport-ts/core/backend';
import { systemClock, type Clock } from '@teleport-ts/core/clock';
import type { AuthenticationConfig, DatabaseFileConfig, StaticToken } from '@teleport-ts/core/config';
import { redact } from '@teleport-ts/core/errors';
import { startDiagServer, type DiagServer } from './diag.js';
import type { Logger } from './logger.js';
import { startAuthServer, type AuthServer } from './roles/auth/index.js';
import { startDatabaseService, type DatabaseService } from './roles/db/index.js';
import { startProxyRole, type ProxyRoleOptions, type ProxyService } from './roles/proxy/index.js';

/** Roles `--roles` accepts. */
export const KNOWN_ROLES = ['auth', 'proxy', 'db', 'node'] as const;
export type RoleName = (typeof KNOWN_ROLES)[number];
/** Roles this release runs; the others are refused with a "not implemented yet" notice. */
export const IMPLEMENTED_ROLES: readonly RoleName[] = ['auth', 'proxy', 'db'];

/** The process configuration: teleport.yaml with the command-line flags applied, defaults filled. */
export interface ProcessConfig {
  roles: readonly RoleName[];
  dataDir: string;
  nodename: string;
  storage: StorageConfig;
  diagAddr?: string;
  auth: {
    listenAddr: string;
    clusterName?: string;
    publicAddrs: readonly string[];
    staticTokens: readonly StaticToken[];
    authentication?: AuthenticationConfig;
  };
  /** Where invite links point. */
  proxyPublicAddr: string;
  /** `proxy_service` (listen address, public addresses, key pairs); defaults when absent. */
  proxy?: ProxyRoleOptions['proxy'];
  /**
   * How agents join. `token` is a secret. `authServer` is where the auth API is dialled (the auth server, or the
   * proxy when joining through it); `proxyServer` is set when joining through a proxy (`--proxy-server`).
   */
  join: { token?: string; authServer?: string; proxyServer?: string; caPins: readonly string[]; labels: Readonly<Record<string, string>> };
  /** `db_service`: the databases the db role serves (from the file and the `--db-*` flags). */
  db?: { databases: readonly DatabaseFileConfig[] };
}

/** A running process. */
export interface RunningProcess {
  backend: Backend;
  auth?: AuthServer;
  proxy?: ProxyService;
  db?: DatabaseService;
  diag?: DiagServer;
  /** Roles asked for that this release does not run. */
  pendingRoles: RoleName[];
  /** Closes listeners (letting in-flight requests finish), then the audit store and the backend. */
  close(): Promise<void>;
}

export interface StartProcessOptions {
  clock?: Clock;
  logger: Logger;
}

/**
 * Starts the process. Failures after something started close what did start before rethrowing.
 *
 * @example
 * ```ts
 * const proc = await startProcess(config, { logger });
 * process.once('SIGTERM', () => void proc.close());
 * ```
 */
export async function startProcess(config: ProcessConfig, options: StartProcessOptions): Promise<RunningProcess> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger;
  const closers: (() => Promise<void>)[] = [];
  const closeAll = async (): Promise<void> => {
    for (const close of closers.splice(0).reverse()) {
      try {
        await close();
      } catch (err) {
        logger.warn('error while shutting down', { error: redact((err as Error).message) });
      }
    }
  };
  let ready = false;
  try {
    await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
    let diag: DiagServer | undefined;
    if (config.diagAddr) {
      diag = await startDiagServer({ addr: config.diagAddr, notReadyReason: () => (ready ? undefined : 'starting') });
      closers.push(() => diag!.close());
      logger.info('diagnostic endpoint is up', { addr: diag.addr });
    }
    const backend = await openBackend({ storage: config.storage, dataDir: config.dataDir, clock });
    closers.push(() => backend.close());
    logger.info('storage backend is up', { type: backend.kind });

    let auth: AuthServer | undefined;
    if (config.roles.includes('auth')) {
      const audit: AuditEventStore = await openAuditStore({ uris: config.storage.audit_events_uri, dataDir: config.dataDir, clock });
      closers.push(() => audit.close());
      auth = await startAuthServer({
        backend,
        audit,
        dataDir: config.dataDir,
        nodename: config.nodename,
        listenAddr: config.auth.listenAddr,
        publicAddrs: config.auth.publicAddrs,
        proxyPublicAddr: config.proxyPublicAddr,
        staticTokens: config.auth.staticTokens,
        clock,
        logger: logger.with('auth'),
        ...(config.auth.clusterName !== undefined ? { clusterName: config.auth.clusterName } : {}),
        ...(config.auth.authentication !== undefined ? { authentication: config.auth.authentication } : {}),
      });
      const server = auth;
      closers.push(() => server.close());
    }
    let proxy: ProxyService | undefined;
    if (config.roles.includes('proxy')) {
      proxy = await startProxyRole({
        dataDir: config.dataDir,
        nodename: config.nodename,
        proxy: config.proxy ?? { publicAddrs: [config.proxyPublicAddr] },
        ...(auth ? { auth } : {}),
        join: config.join,
        clock,
        logger: logger.with('proxy'),
      });
      const server = proxy;
      closers.push(() => server.close());
    }
    let db: DatabaseService | undefined;
    if (config.roles.includes('db')) {
      // Next to a proxy, the tunnel goes to it directly (its listen address may be a wildcard).
      // Joined through a proxy (`proxy_server`), the tunnel goes to that proxy.
      const proxyAddr = proxy ? proxy.addr.replace(/^(0\.0\.0\.0|\[::\]):/, '127.0.0.1:') : config.join.proxyServer;
      db = await startDatabaseService({
        dataDir: config.dataDir,
        nodename: config.nodename,
        databases: config.db?.databases ?? [],
        join: config.join,
        ...(auth ? { auth } : {}),
        ...(proxyAddr ? { proxyAddr } : {}),
        clock,
        logger: logger.with('db'),
      });
      const service = db;
      closers.push(() => service.close());
    }
    ready = true;
    return {
      backend,
      ...(auth ? { auth } : {}),
      ...(proxy ? { proxy } : {}),
      ...(db ? { db } : {}),
      ...(diag ? { diag } : {}),
      pendingRoles: config.roles.filter((r) => !IMPLEMENTED_ROLES.includes(r)),
      close: async () => {
        ready = false;
        await closeAll();
      },
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
