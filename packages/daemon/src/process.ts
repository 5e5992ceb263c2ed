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

/** What the start steps share: the configuration, the clock, the logger, and the closers of what already runs. */
interface StartContext {
  readonly config: ProcessConfig;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly closers: (() => Promise<void>)[];
}

/** The auth service with its audit store, when the roles ask for it. */
async function startAuthStep(ctx: StartContext, backend: Backend): Promise<AuthServer | undefined> {
  const { config, clock, logger } = ctx;
  if (!config.roles.includes('auth')) return undefined;
  const audit: AuditEventStore = await openAuditStore({ uris: config.storage.audit_events_uri, dataDir: config.dataDir, clock });
  ctx.closers.push(() => audit.close());
  const auth = await startAuthServer({
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
  ctx.closers.push(() => auth.close());
  return auth;
}

/** The proxy, next to this process's auth service or joined to a remote one. */
async function startProxyStep(ctx: StartContext, auth: AuthServer | undefined): Promise<ProxyService | undefined> {
  const { config } = ctx;
  if (!config.roles.includes('proxy')) return undefined;
  const proxy = await startProxyRole({
    dataDir: config.dataDir,
    nodename: config.nodename,
    proxy: config.proxy ?? { publicAddrs: [config.proxyPublicAddr] },
    ...(auth ? { auth } : {}),
    join: config.join,
    clock: ctx.clock,
    logger: ctx.logger.with('proxy'),
  });
  ctx.closers.push(() => proxy.close());
  return proxy;
}

/** The db agent: its tunnel goes to this process's proxy, or to the proxy it joined through. */
async function startDbStep(ctx: StartContext, auth: AuthServer | undefined, proxy: ProxyService | undefined): Promise<DatabaseService | undefined> {
  const { config } = ctx;
  if (!config.roles.includes('db')) return undefined;
  // Next to a proxy, the tunnel goes to it directly (its listen address may be a wildcard); joined through a proxy
  // (`proxy_server`), to that proxy.
  const proxyAddr = proxy ? proxy.addr.replace(/^(0\.0\.0\.0|\[::\]):/, '127.0.0.1:') : config.join.proxyServer;
  const db = await startDatabaseService({
    dataDir: config.dataDir,
    nodename: config.nodename,
    databases: config.db?.databases ?? [],
    join: config.join,
    ...(auth ? { auth } : {}),
    ...(proxyAddr ? { proxyAddr } : {}),
    clock: ctx.clock,
    logger: ctx.logger.with('db'),
  });
  ctx.closers.push(() => db.close());
  return db;
}

/** Closes what started, in reverse order, logging (not throwing) what fails to close. */
async function closeAll(ctx: StartContext): Promise<void> {
  for (const close of ctx.closers.splice(0).reverse()) {
    try {
      await close();
    } catch (err) {
      ctx.logger.warn('error while shutting down', { error: redact((err as Error).message) });
    }
  }
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
  const ctx: StartContext = { config, clock: options.clock ?? systemClock, logger: options.logger, closers: [] };
  const logger = options.logger;
  let ready = false;
  try {
    await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
    let diag: DiagServer | undefined;
    if (config.diagAddr) {
      const server = await startDiagServer({ addr: config.diagAddr, notReadyReason: () => (ready ? undefined : 'starting') });
      ctx.closers.push(() => server.close());
      logger.info('diagnostic endpoint is up', { addr: server.addr });
      diag = server;
    }
    const backend = await openBackend({ storage: config.storage, dataDir: config.dataDir, clock: ctx.clock });
    ctx.closers.push(() => backend.close());
    logger.info('storage backend is up', { type: backend.kind });
    const auth = await startAuthStep(ctx, backend);
    const proxy = await startProxyStep(ctx, auth);
    const db = await startDbStep(ctx, auth, proxy);
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
        await closeAll(ctx);
      },
    };
  } catch (err) {
    await closeAll(ctx);
    throw err;
  }
}
