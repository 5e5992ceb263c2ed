/**
 * Helpers for the database access tests: auth + proxy + db agent in process, a real PostgreSQL with TLS and
 * `hostssl ... cert` configured from certificates issued through the auth client (as `tctl auth sign --format=db`
 * does), user certificates with a database route, and a tiny local forward that speaks the proxy's wire contract
 * (TLS with ALPN `teleport-postgres` and the user's certificate) so pg clients and psql can connect to a local port.
 */

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect as connectTls } from 'node:tls';
import type { RouteToDatabase } from '@teleport-ts/core/ca';
import { BALANCED_V1, generateKeyPair } from '@teleport-ts/core/ca';
import type { AuditEvent } from '@teleport-ts/core/audit';
import type { FakeClock } from '@teleport-ts/core/clock';
import type { DatabaseFileConfig } from '@teleport-ts/core/config';
import { startPostgres, type PostgresServer } from '@teleport-ts/testkit';
import type { Logger } from '../src/logger.js';
import { startDatabaseService, type DatabaseService, type DatabaseServiceOptions } from '../src/roles/db/index.js';
import { startProxyRole, type ProxyRoleOptions, type ProxyService } from '../src/roles/proxy/index.js';
import { startTestAuth, type StartTestAuthOptions, type TestAuth } from './auth-helpers.js';
import { nopLoggerForTests } from './proxy-helpers.js';

/** A clock that runs in real time and can be moved ahead (or back) by an offset. */
function liveClock(): FakeClock {
  let offset = 0;
  return {
    now: () => new Date(Date.now() + offset),
    advance: (ms) => {
      offset += ms;
    },
    set: (date) => {
      offset = date.getTime() - Date.now();
    },
  };
}

/** A logger that records lines (for debugging failing tests: set DEBUG_DB_TESTS=1 to print them). */
export function testLogger(component = 'test'): Logger {
  const print = process.env['DEBUG_DB_TESTS'] === '1';
  const logger: Logger = {
    debug: (m, f) => print && console.error(`[${component}] DEBUG ${m}`, f ?? {}),
    info: (m, f) => print && console.error(`[${component}] INFO ${m}`, f ?? {}),
    warn: (m, f) => print && console.error(`[${component}] WARN ${m}`, f ?? {}),
    error: (m, f) => print && console.error(`[${component}] ERROR ${m}`, f ?? {}),
    with: (c) => testLogger(c),
    close: async () => {},
  };
  return print ? logger : nopLoggerForTests;
}

/** PostgreSQL serving a certificate from the cluster's `db` CA and trusting the `db_client` CA (`cert` auth only). */
export async function startClusterPostgres(t: TestAuth, dir: string): Promise<{ server: PostgresServer; dbCaFile: string }> {
  await mkdir(dir, { recursive: true });
  const keys = await generateKeyPair('rsa-2048');
  const issued = await t.admin.generateDatabaseCert({ publicKey: keys.publicKeyPem, hosts: ['localhost', '127.0.0.1'], ttl: 24 * 3_600_000 });
  const files = { certFile: path.join(dir, 'server.crt'), keyFile: path.join(dir, 'server.key'), caFile: path.join(dir, 'server.cas') };
  await writeFile(files.certFile, issued.cert);
  await writeFile(files.keyFile, keys.privateKeyPem, { mode: 0o600 });
  await writeFile(files.caFile, issued.clientCaCerts.join('\n'));
  const dbCaFile = path.join(dir, 'db-ca.pem');
  await writeFile(dbCaFile, issued.caCerts.join('\n'));
  const server = await startPostgres({
    tls: files,
    hba: ['local all all trust', 'hostssl all all 127.0.0.1/32 cert', 'hostssl all all ::1/128 cert'],
  });
  return { server, dbCaFile };
}

/** A user certificate with a database route, issued through the auth client (what `tsh db login` gets). */
export async function databaseUserCert(t: TestAuth, user: string, route: RouteToDatabase | undefined, ttlMs = 3_600_000): Promise<{ cert: string; key: string }> {
  const [tls, ssh] = await Promise.all([generateKeyPair(BALANCED_V1['tls-user']), generateKeyPair(BALANCED_V1['ssh-user'])]);
  const certs = await t.admin.generateUserCerts({
    user,
    tlsPublicKey: tls.publicKeyPem,
    sshPublicKey: ssh.sshPublicKey,
    ttl: ttlMs,
    ...(route !== undefined ? { routeToDatabase: route } : {}),
  });
  return { cert: certs.tlsCert, key: tls.privateKeyPem };
}

export interface LocalForward {
  port: number;
  close(): Promise<void>;
}

/**
 * The wire contract in 20 lines: every local TCP connection becomes a TLS connection to the proxy with ALPN
 * `teleport-postgres` and the user's certificate; bytes pass unchanged both ways.
 */
export async function startLocalForward(proxyPort: () => number, creds: { cert?: string; key?: string } | undefined): Promise<LocalForward> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((local) => {
    const remote = connectTls({
      host: '127.0.0.1',
      port: proxyPort(),
      ALPNProtocols: ['teleport-postgres'],
      ...(creds?.cert ? { cert: creds.cert, key: creds.key } : {}),
      // The proxy serves its (self-signed) web certificate, as to `tsh login --insecure`.
      rejectUnauthorized: false,
    });
    sockets.add(local);
    sockets.add(remote);
    const close = () => {
      local.destroy();
      remote.destroy();
    };
    local.on('error', close);
    remote.on('error', close);
    local.once('close', () => {
      sockets.delete(local);
      remote.end();
    });
    remote.once('close', () => {
      sockets.delete(remote);
      local.end();
    });
    local.pipe(remote);
    remote.pipe(local);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export async function waitFor<T>(probe: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface DbTestCluster {
  t: TestAuth;
  authClock: FakeClock;
  /** The proxy's own clock, moved on to test expired certificates. */
  proxyClock: FakeClock;
  proxy: ProxyService;
  proxyPort: number;
  dataDir: string;
  /** Restarts the proxy on the same port (a proxy restart). */
  restartProxy(): Promise<void>;
  /** A join token for the Db role. */
  dbToken(): Promise<string>;
  caPins(): Promise<string[]>;
  /** Starts a db agent joining through the proxy's address; its data dir is `<dataDir>/<name>`. */
  startAgent(name: string, databases: readonly DatabaseFileConfig[], options?: Partial<DatabaseServiceOptions>): Promise<DatabaseService>;
  /** Audit events of `type` matching `predicate`, waiting until one exists. */
  waitForEvent(type: string, predicate: (e: AuditEvent) => boolean): Promise<AuditEvent>;
  close(): Promise<void>;
}

/** Auth and a co-located proxy (in-process Proxy identity) on 127.0.0.1 ports. */
export async function startDbTestCluster(options: { proxyLimits?: ProxyRoleOptions['limits']; auth?: StartTestAuthOptions } = {}): Promise<DbTestCluster> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'tp-db-'));
  const authClock = liveClock();
  const proxyClock = liveClock();
  const t = await startTestAuth({ clock: authClock, dataDir: path.join(dataDir, 'auth'), authentication: { second_factor: 'off' }, ...options.auth });
  const agents: DatabaseService[] = [];
  let proxyPort = 0;
  const startProxy = () =>
    startProxyRole({
      dataDir: path.join(dataDir, 'proxy'),
      nodename: 'proxy-test',
      proxy: { listenAddr: `127.0.0.1:${proxyPort}`, publicAddrs: [] },
      auth: t.auth,
      join: { caPins: [] },
      clock: proxyClock,
      logger: testLogger('proxy'),
      ...(options.proxyLimits ? { limits: options.proxyLimits } : {}),
    });
  let proxy = await startProxy();
  proxyPort = Number(proxy.addr.split(':').pop());
  const cluster: DbTestCluster = {
    t,
    authClock,
    proxyClock,
    get proxy() {
      return proxy;
    },
    proxyPort,
    dataDir,
    async restartProxy() {
      await proxy.close();
      proxy = await startProxy();
    },
    async dbToken() {
      return (await t.admin.createToken({ roles: ['Db'], ttl: 3_600_000 })).metadata.name;
    },
    caPins: () => t.auth.caPins(),
    async startAgent(name, databases, options = {}) {
      const agent = await startDatabaseService({
        dataDir: path.join(dataDir, name),
        nodename: name,
        databases,
        join: { token: await cluster.dbToken(), authServer: `127.0.0.1:${proxyPort}`, caPins: await cluster.caPins() },
        clock: authClock,
        logger: testLogger(name),
        tunnel: { backoff: { baseMs: 50, maxMs: 400 } },
        roleCacheTtlMs: 0,
        ...options,
      });
      agents.push(agent);
      await agent.ready;
      return agent;
    },
    async waitForEvent(type, predicate) {
      return waitFor(async () => {
        const now = Date.now();
        const { events } = await t.admin.searchEvents({ from: new Date(now - 3_600_000), to: new Date(now + 3_600_000), eventTypes: [type], limit: 1000 });
        return events.find(predicate);
      }, `a ${type} audit event`);
    },
    async close() {
      await Promise.allSettled(agents.map((a) => a.close()));
      await proxy.close();
      await t.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  return cluster;
}
