/**
 * The teleport-ts process: opens the backend and audit store, starts the roles the configuration asks
 * for, serves the diagnostic endpoint, and shuts everything down in reverse order. Returns data; the
 * `start` command prints.
 */

import type { SessionRecordingMode } from '@teleport-ts/core/api';
import { openAuditStore, type AuditEventStore } from '@teleport-ts/core/audit';
import { openBackend, type Backend, type StorageConfig } from '@teleport-ts/core/backend';
import { systemClock, type Clock } from '@teleport-ts/core/clock';
import { DEFAULT_AUTH_PORT, DEFAULT_PROXY_WEB_LISTEN_ADDR, DEFAULT_PROXY_WEB_PORT, parseHostPort, type AuthenticationConfig, type CommandLabelConfig, type DatabaseFileConfig, type StaticToken, type TunnelStrategyConfig } from '@teleport-ts/core/config';
import { redact } from '@teleport-ts/core/errors';
import { startDiagServer, type DiagServer } from './diag.js';
import { newProcessMetrics, type ProcessMetrics } from './metrics.js';
import { makeDirs } from './dirs.js';
import { checkPortsFree } from './http/listen.js';
import type { Logger } from './logger.js';
import { startAuthServer, type AuthServer } from './roles/auth/index.js';
import { databaseWorkerIndex } from './roles/db/workers.js';
import { startDatabaseService, type DatabaseService } from './roles/db/index.js';
import { startNodeService, type NodeService } from './roles/ssh/index.js';
import { startProxyRole, type ProxyRoleOptions, type ProxyService } from './roles/proxy/index.js';

/** Roles `--roles` accepts. */
export const KNOWN_ROLES = ['auth', 'proxy', 'db', 'node'] as const;
export type RoleName = (typeof KNOWN_ROLES)[number];
/** Roles this release runs; the others are refused with a "not implemented yet" notice. */
const IMPLEMENTED_ROLES: readonly RoleName[] = ['auth', 'proxy', 'db', 'node'];

/** The process configuration: teleport.yaml with the command-line flags applied, defaults filled. */
export interface ProcessConfig {
  roles: readonly RoleName[];
  dataDir: string;
  nodename: string;
  storage: StorageConfig;
  diagAddr?: string;
  /** `teleport.connection_limits`: per-address rate of the unauthenticated endpoints of auth and proxy. */
  rateLimit?: { average: number; burst: number };
  /** `teleport.connection_limits.max_pending_per_address`: connections per source address not yet identified (auth and proxy). */
  maxPendingPerAddress?: number;
  auth: {
    listenAddr: string;
    clusterName?: string;
    publicAddrs: readonly string[];
    staticTokens: readonly StaticToken[];
    authentication?: AuthenticationConfig;
    accessRequestWebhook?: { url: string; caFile?: string };
    /** `auth_service.session_recording`; default `node`. */
    sessionRecording?: SessionRecordingMode;
    tunnelStrategy?: TunnelStrategyConfig;
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
  db?: { databases: readonly DatabaseFileConfig[]; workers?: number | 'auto' };
  /** `ssh_service`: the node's labels (file and `--labels`), dynamic labels and optional direct listener. */
  ssh?: { labels: Readonly<Record<string, string>>; commands: readonly CommandLabelConfig[]; listenAddr?: string };
}

/** A running process. */
export interface RunningProcess {
  backend: Backend;
  auth?: AuthServer;
  proxy?: ProxyService;
  db?: DatabaseService;
  node?: NodeService;
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

/** What starting the process builds up: what to close (in reverse order) and whether it is ready. */
interface ProcessState {
  config: ProcessConfig;
  clock: Clock;
  logger: Logger;
  closers: (() => Promise<void>)[];
  ready: boolean;
  metrics: ProcessMetrics;
  /** Why a service of the process should not get traffic now (auth: the backend; db, node: their tunnels), besides starting. */
  problems: { service: string; problem: () => string | undefined }[];
}

/**
 * `/readyz`: starting, or the first problem a started service reports. `/readyz?service=proxy` asks about one
 * service only: a proxy serving from its cache stays ready while the backend (an auth problem) is down.
 */
function notReadyReason(state: ProcessState, service?: string): string | undefined {
  if (!state.ready) return 'starting';
  if (service !== undefined && !state.config.roles.includes(service as never)) return `this process runs no ${service} service`;
  for (const { service: of, problem } of state.problems) {
    if (service !== undefined && of !== service) continue;
    const reason = problem();
    if (reason !== undefined) return reason;
  }
  return undefined;
}

/** Closes what started, last first; a failure is logged and does not stop the others. */
async function closeAll(state: ProcessState): Promise<void> {
  for (const close of state.closers.splice(0).reverse()) {
    try {
      await close();
    } catch (err) {
      state.logger.warn('error while shutting down', { error: redact((err as Error).message) });
    }
  }
}

/** Registers what to close at shutdown and returns it. */
function started<T extends { close(): Promise<void> }>(state: ProcessState, service: T): T {
  state.closers.push(() => service.close());
  return service;
}

async function startDiag(state: ProcessState): Promise<DiagServer | undefined> {
  if (!state.config.diagAddr) return undefined;
  const diag = started(
    state,
    await startDiagServer({
      addr: state.config.diagAddr,
      notReadyReason: (service) => notReadyReason(state, service),
      metrics: { contentType: state.metrics.registry.contentType, text: () => state.metrics.registry.metrics() },
    }),
  );
  state.logger.info('diagnostic endpoint is up', { addr: diag.addr });
  return diag;
}

async function openStorage(state: ProcessState): Promise<Backend> {
  const { config, clock } = state;
  const backend = started(state, state.metrics.instrumentBackend(await openBackend({ storage: config.storage, dataDir: config.dataDir, clock })));
  state.logger.info('storage backend is up', { type: backend.kind });
  if (config.roles.includes('auth')) {
    const probe = state.metrics.probeBackend(backend);
    state.closers.push(() => Promise.resolve(probe.close()));
    state.problems.push({ service: 'auth', problem: () => probe.problem() });
  }
  return backend;
}

async function startAuthRole(state: ProcessState, backend: Backend): Promise<AuthServer> {
  const { config, clock } = state;
  const audit: AuditEventStore = started(state, await openAuditStore({ uris: config.storage.audit_events_uri, dataDir: config.dataDir, clock }));
  const auth = await startAuthServer({
    backend,
    audit: state.metrics.observeAudit(audit),
    dataDir: config.dataDir,
    nodename: config.nodename,
    listenAddr: config.auth.listenAddr,
    publicAddrs: config.auth.publicAddrs,
    proxyPublicAddr: config.proxyPublicAddr,
    staticTokens: config.auth.staticTokens,
    clock,
    logger: state.logger.with('auth'),
    ...(config.auth.clusterName !== undefined ? { clusterName: config.auth.clusterName } : {}),
    ...(config.auth.authentication !== undefined ? { authentication: config.auth.authentication } : {}),
    ...(config.auth.accessRequestWebhook !== undefined ? { accessRequestWebhook: config.auth.accessRequestWebhook } : {}),
    ...(config.auth.sessionRecording !== undefined ? { sessionRecording: config.auth.sessionRecording } : {}),
    ...(config.storage.audit_sessions_uri !== undefined ? { auditSessionsUri: config.storage.audit_sessions_uri } : {}),
    ...(config.auth.tunnelStrategy !== undefined ? { tunnelStrategy: config.auth.tunnelStrategy } : {}),
    ...(config.rateLimit !== undefined ? { rateLimit: config.rateLimit } : {}),
    ...(config.maxPendingPerAddress !== undefined ? { maxPendingPerAddress: config.maxPendingPerAddress } : {}),
  });
  return started(state, auth);
}

async function startProxy(state: ProcessState, auth: AuthServer | undefined): Promise<ProxyService> {
  const { config } = state;
  const proxy = await startProxyRole({
    dataDir: config.dataDir,
    nodename: config.nodename,
    proxy: config.proxy ?? { publicAddrs: [config.proxyPublicAddr] },
    ...(auth ? { auth } : {}),
    join: config.join,
    clock: state.clock,
    logger: state.logger.with('proxy'),
    limits: {
      ...(config.rateLimit !== undefined ? { rateLimit: config.rateLimit } : {}),
      ...(config.maxPendingPerAddress !== undefined ? { maxPendingPerAddress: config.maxPendingPerAddress } : {}),
    },
  });
  return started(state, proxy);
}

async function startDb(state: ProcessState, auth: AuthServer | undefined, proxy: ProxyService | undefined): Promise<DatabaseService> {
  const { config } = state;
  // Next to a proxy, the tunnel goes to it directly (its listen address may be a wildcard); joined through a proxy
  // (`proxy_server`), to that proxy.
  const proxyAddr = proxy ? proxy.addr.replace(/^(0\.0\.0\.0|\[::\]):/, '127.0.0.1:') : config.join.proxyServer;
  const db = await startDatabaseService({
    dataDir: config.dataDir,
    nodename: config.nodename,
    databases: config.db?.databases ?? [],
    // Workers are db agents of their own, each dialing the proxy: not for a db service next to a proxy or auth service.
    ...(config.db?.workers !== undefined && !proxy && !auth ? { workers: config.db.workers } : {}),
    join: config.join,
    ...(auth ? { auth } : {}),
    ...(proxyAddr ? { proxyAddr } : {}),
    clock: state.clock,
    logger: state.logger.with('db'),
  });
  return started(state, db);
}

async function startNode(state: ProcessState, auth: AuthServer | undefined, proxy: ProxyService | undefined): Promise<NodeService> {
  const { config } = state;
  const proxyAddr = proxy ? proxy.addr.replace(/^(0\.0\.0\.0|\[::\]):/, '127.0.0.1:') : config.join.proxyServer;
  const ssh = config.ssh ?? { labels: config.join.labels, commands: [] };
  const node = await startNodeService({
    dataDir: config.dataDir,
    nodename: config.nodename,
    join: config.join,
    ...(auth ? { auth } : {}),
    ...(proxyAddr ? { proxyAddr } : {}),
    labels: ssh.labels,
    commands: ssh.commands,
    ...(ssh.listenAddr !== undefined ? { listenAddr: ssh.listenAddr } : {}),
    clock: state.clock,
    logger: state.logger.with('node'),
  });
  // Not ready without a tunnel: the node would be listed but unreachable.
  state.problems.push({ service: 'node', problem: () => (node.tunnelState === 'connected' ? undefined : 'the node has no reverse tunnel to a proxy') });
  return started(state, node);
}

/**
 * A worker process of a db agent (`db_service.workers`, forked by the primary): the db service alone, no listener,
 * no diagnostics, no local storage.
 */
export async function startDatabaseWorker(config: ProcessConfig, options: StartProcessOptions): Promise<{ close(): Promise<void> }> {
  const db = await startDatabaseService({
    dataDir: config.dataDir,
    nodename: config.nodename,
    databases: config.db?.databases ?? [],
    join: config.join,
    ...(config.join.proxyServer ? { proxyAddr: config.join.proxyServer } : {}),
    clock: options.clock ?? systemClock,
    logger: options.logger.with('db', { worker: String(databaseWorkerIndex() ?? 0) }),
  });
  return db;
}

/** Tunnels, caches, sessions and audit queues in the metrics, and a db agent without any tunnel is not ready. */
function watchServices(state: ProcessState, services: { auth: AuthServer | undefined; proxy: ProxyService | undefined; db: DatabaseService | undefined }): void {
  const { auth, proxy, db } = services;
  const caches = [
    ...(auth?.cache ? [{ name: 'auth', cache: auth.cache }] : []),
    ...(proxy?.cache ? [{ name: 'proxy', cache: proxy.cache }] : []),
    ...(db?.cache ? [{ name: 'db', cache: db.cache }] : []),
  ];
  state.metrics.watch({
    ...(db ? { agentProxies: () => db.connectedProxies() } : {}),
    ...(proxy?.connectedAgents ? { proxyAgents: proxy.connectedAgents } : {}),
    caches: () => caches,
    ...(db ? { activeSessions: () => ({ postgres: db.activeSessions }) } : {}),
    auditQueues: () => ({ ...(db ? { db: db.auditQueueDepth() } : {}), ...(proxy?.auditQueueDepth ? { proxy: proxy.auditQueueDepth() } : {}) }),
  });
  if (db) state.problems.push({ service: 'db', problem: () => (db.tunnelState === 'connected' ? undefined : 'no reverse tunnel to a proxy') });
}

/** The ports this process will listen on, with the setting that names each. */
function portsToCheck(config: ProcessConfig): { host: string; port: number; setting: string }[] {
  const ports: { host: string; port: number; setting: string }[] = [];
  if (config.diagAddr) ports.push({ ...parseHostPort(config.diagAddr, 3000), setting: 'teleport.diag_addr (--diag-addr)' });
  if (config.roles.includes('auth')) ports.push({ ...parseHostPort(config.auth.listenAddr, DEFAULT_AUTH_PORT), setting: 'auth_service.listen_addr' });
  if (config.roles.includes('node') && config.ssh?.listenAddr !== undefined) {
    ports.push({ ...parseHostPort(config.ssh.listenAddr, 3022), setting: 'ssh_service.listen_addr' });
  }
  if (config.roles.includes('proxy')) {
    ports.push({ ...parseHostPort(config.proxy?.listenAddr ?? DEFAULT_PROXY_WEB_LISTEN_ADDR, DEFAULT_PROXY_WEB_PORT), setting: 'proxy_service.web_listen_addr' });
  }
  return ports;
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
  const state: ProcessState = { config, clock: options.clock ?? systemClock, logger: options.logger, closers: [], ready: false, metrics: newProcessMetrics(), problems: [] };
  try {
    // What can fail is checked before anything is written: the ports, then the data dir (no CA without both).
    await checkPortsFree(portsToCheck(config));
    await makeDirs(config.dataDir, 0o700, 'data dir');
    const diag = await startDiag(state);
    const backend = await openStorage(state);
    const auth = config.roles.includes('auth') ? await startAuthRole(state, backend) : undefined;
    const proxy = config.roles.includes('proxy') ? await startProxy(state, auth) : undefined;
    const db = config.roles.includes('db') ? await startDb(state, auth, proxy) : undefined;
    const node = config.roles.includes('node') ? await startNode(state, auth, proxy) : undefined;
    watchServices(state, { auth, proxy, db });
    state.ready = true;
    return {
      backend,
      ...(auth ? { auth } : {}),
      ...(proxy ? { proxy } : {}),
      ...(db ? { db } : {}),
      ...(node ? { node } : {}),
      ...(diag ? { diag } : {}),
      pendingRoles: config.roles.filter((r) => !IMPLEMENTED_ROLES.includes(r)),
      close: async () => {
        state.ready = false;
        await closeAll(state);
      },
    };
  } catch (err) {
    await closeAll(state);
    throw err;
  }
}
