import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { chmod, chown, copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { findExecutable, reportMissingDependency } from './tools.js';

/** The Debian package that provides the server binaries; named in every "not found" message. */
export const POSTGRES_DEBIAN_PACKAGE = 'postgresql';

const POSTGRES_NOT_FOUND = `PostgreSQL server binaries not found; install them with: apt-get install -y ${POSTGRES_DEBIAN_PACKAGE}`;
const DEBIAN_POSTGRES_ROOT = '/usr/lib/postgresql';
const SUPERUSER = 'postgres';
const HOST = '127.0.0.1';
const DEFAULT_START_TIMEOUT_MS = 30_000;
const FAST_SHUTDOWN_TIMEOUT_MS = 30_000;
const IMMEDIATE_SHUTDOWN_TIMEOUT_MS = 5_000;
const PORT_ATTEMPTS = 5;
const READY_POLL_MS = 50;
const LOG_TAIL_LINES = 30;
/** postgres' SQLSTATE for "the database system is starting up". */
const CANNOT_CONNECT_NOW = '57P03';

/** Where the PostgreSQL server programs live. */
export interface PostgresBinaries {
  binDir: string;
  /** Major version, e.g. 15. */
  version: number;
}

let cachedBinaries: PostgresBinaries | null | undefined;

function hasServerPrograms(dir: string): boolean {
  return ['initdb', 'postgres', 'pg_ctl'].every((p) => findExecutable(join(dir, p)) !== undefined);
}

/**
 * Finds `initdb`, `postgres` and `pg_ctl`: first on `PATH`, then in Debian's `/usr/lib/postgresql/<major>/bin`
 * (highest major first). `undefined` when there is no server installed. The answer is cached per process.
 *
 * @example
 * ```ts
 * findPostgresBinaries(); // { binDir: '/usr/lib/postgresql/15/bin', version: 15 }
 * ```
 */
export function findPostgresBinaries(): PostgresBinaries | undefined {
  if (cachedBinaries !== undefined) return cachedBinaries ?? undefined;
  cachedBinaries = searchPostgresBinaries() ?? null;
  return cachedBinaries ?? undefined;
}

function searchPostgresBinaries(): PostgresBinaries | undefined {
  const onPath = findExecutable('postgres');
  if (onPath !== undefined) {
    const binDir = onPath.slice(0, onPath.lastIndexOf('/'));
    if (hasServerPrograms(binDir)) {
      const version = readServerVersion(onPath);
      if (version !== undefined) return { binDir, version };
    }
  }
  let majors: number[];
  try {
    majors = readdirSync(DEBIAN_POSTGRES_ROOT)
      .filter((name) => /^\d+$/.test(name))
      .map(Number)
      .sort((a, b) => b - a);
  } catch {
    return undefined;
  }
  for (const version of majors) {
    const binDir = join(DEBIAN_POSTGRES_ROOT, String(version), 'bin');
    if (hasServerPrograms(binDir)) return { binDir, version };
  }
  return undefined;
}

function readServerVersion(postgresPath: string): number | undefined {
  try {
    // "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
    const out = execFileSync(postgresPath, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const match = /\(PostgreSQL\)\s+(\d+)/.exec(out);
    return match?.[1] === undefined ? undefined : Number(match[1]);
  } catch {
    return undefined;
  }
}

/**
 * Applies the suite-wide policy to the PostgreSQL server binaries: returns them when installed; otherwise throws
 * when `CI=true` and else prints the skip notice once and returns `undefined`.
 *
 * @example
 * ```ts
 * describe.skipIf(requirePostgres() === undefined)('backend on postgres', () => { ... });
 * ```
 */
export function requirePostgres(): PostgresBinaries | undefined {
  const binaries = findPostgresBinaries();
  if (binaries === undefined) reportMissingDependency('PostgreSQL tests', POSTGRES_NOT_FOUND);
  return binaries;
}

/** PEM files for the server's TLS; they are copied into the data directory. */
export interface PostgresTlsOptions {
  certFile: string;
  keyFile: string;
  /** CA that client certificates must chain to; needed for `cert` authentication. */
  caFile?: string;
}

/** Options of {@link startPostgres}. */
export interface StartPostgresOptions {
  /** Extra `postgresql.conf` settings, e.g. `{ wal_level: 'logical' }`; they override the harness defaults. */
  settings?: Record<string, string | number | boolean>;
  /** Turns on `ssl` with these files. */
  tls?: PostgresTlsOptions;
  /**
   * Replaces `pg_hba.conf` entirely, one line per entry. Keep a `local ... trust` line for the superuser so that
   * {@link PostgresServer.query} keeps working. Default: trust for `local`, `127.0.0.1/32` and `::1/128`.
   */
  hba?: string[];
  /** TCP port; default a free random one (retried on a collision). */
  port?: number;
  /** Where the temporary directory is created; default `os.tmpdir()`. Must be reachable by the server's user. */
  baseDir?: string;
  /** How long to wait for the server to accept connections. Default 30 s. */
  startTimeoutMs?: number;
}

/** A running (or stopped) throwaway PostgreSQL cluster. */
export interface PostgresServer {
  /** Always `127.0.0.1`. */
  readonly host: string;
  readonly port: number;
  /** The superuser, `postgres`. */
  readonly user: string;
  readonly dataDir: string;
  /** Directory of the unix socket (`.s.PGSQL.<port>`). */
  readonly socketDir: string;
  /** Postmaster pid while running. */
  readonly pid: number | undefined;
  /** A `postgres://` URL for the superuser over TCP, e.g. `url('app', { sslmode: 'disable' })`. */
  url(database?: string, params?: Record<string, string>): string;
  /** `CREATE DATABASE` with the name quoted as an identifier. */
  createDatabase(name: string): Promise<void>;
  /** Runs one statement as the superuser over the unix socket (trust auth there, whatever TCP requires). */
  query<R extends pg.QueryResultRow = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>;
  /** Fast shutdown; keeps the data directory. No-op when already stopped. */
  stop(): Promise<void>;
  /** Starts again on the same port and data directory. No-op when running. */
  start(): Promise<void>;
  /** Stops the server and removes its temporary directory. Idempotent. */
  destroy(): Promise<void>;
  /** The last `lines` lines of the server log. */
  logTail(lines?: number): string;
}

/** The unprivileged account the server runs as when we are root (PostgreSQL refuses to run as root). */
interface ServerAccount {
  name: string;
  uid: number;
  gid: number;
}

function resolveServerAccount(): ServerAccount | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const name of ['postgres', 'nobody']) {
    try {
      const id = (flag: string) => Number(execFileSync('id', [flag, name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
      return { name, uid: id('-u'), gid: id('-g') };
    } catch {
      // try the next account
    }
  }
  throw new Error('running as root but found neither a "postgres" nor a "nobody" account to run PostgreSQL as');
}

// ---- teardown safety: every started server is registered until destroyed --------------------------------

interface LiveServer {
  tmpDir: string;
  pid(): number | undefined;
}

const live = new Set<LiveServer>();
let handlersInstalled = false;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // An exited child stays a zombie until Node reaps it, and an exit handler never gets to reap.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Synchronous, for `exit` and signal handlers: immediate shutdown (SIGQUIT), then SIGKILL, then remove dirs. */
function killAllSync(): void {
  const servers = [...live];
  live.clear();
  const pids = servers.map((s) => s.pid()).filter((pid): pid is number => pid !== undefined && isAlive(pid));
  for (const pid of pids) signal(pid, 'SIGQUIT');
  const deadline = Date.now() + IMMEDIATE_SHUTDOWN_TIMEOUT_MS;
  while (pids.some(isAlive) && Date.now() < deadline) sleepSync(20);
  for (const pid of pids) if (isAlive(pid)) signal(pid, 'SIGKILL');
  for (const server of servers) rmSync(server.tmpDir, { recursive: true, force: true });
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

function onSignal(sig: NodeJS.Signals): void {
  killAllSync();
  process.removeListener('SIGINT', onSignal);
  process.removeListener('SIGTERM', onSignal);
  // Keep the default meaning of the signal (terminate) unless someone else handles it.
  if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
}

function register(server: LiveServer): void {
  live.add(server);
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', killAllSync);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

// ---- the server --------------------------------------------------------------------------------------------

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function confValue(value: string | number | boolean): string {
  if (typeof value === 'number') return String(value);
  if (typeof value === 'boolean') return value ? 'on' : 'off';
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

const DEFAULT_HBA = ['local all all trust', `host all all ${HOST}/32 trust`, 'host all all ::1/128 trust'];

/** Raised internally when the chosen port was taken between picking and binding. */
class PortInUseError extends Error {}

/**
 * Creates a throwaway cluster (`initdb` into a fresh temporary directory, superuser `postgres`, UTF8, C locale,
 * durability off for speed) and starts `postgres` on `127.0.0.1` and a unix socket in that directory. When the
 * process runs as root, the server runs as the `postgres` account (or `nobody`). The server is killed and its
 * directory removed on process exit or SIGINT/SIGTERM if the caller never calls {@link PostgresServer.destroy}.
 *
 * @example
 * ```ts
 * const server = await startPostgres({ settings: { wal_level: 'logical' } });
 * const client = new pg.Client({ connectionString: server.url() });
 * // ...
 * await server.destroy();
 * ```
 */
export async function startPostgres(options: StartPostgresOptions = {}): Promise<PostgresServer> {
  const binaries = findPostgresBinaries();
  if (binaries === undefined) throw new Error(POSTGRES_NOT_FOUND);
  const account = resolveServerAccount();
  const tmpDir = await mkdtemp(join(options.baseDir ?? tmpdir(), 'teleport-ts-pg-'));
  const c: Cluster = {
    binDir: binaries.binDir,
    account,
    options,
    startTimeoutMs: options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS,
    tmpDir,
    dataDir: join(tmpDir, 'data'),
    socketDir: join(tmpDir, 'socket'),
    logFile: join(tmpDir, 'postgres.log'),
    spawnOptions: {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' },
      ...(account === undefined ? {} : { uid: account.uid, gid: account.gid }),
    },
    child: undefined,
    exited: Promise.resolve(),
    port: options.port ?? 0,
    destroyed: undefined,
    liveEntry: { tmpDir, pid: () => c.child?.pid },
  };
  register(c.liveEntry);
  const server = serverHandle(c);
  try {
    await initCluster(c);
    if (options.port === undefined) {
      await launchOnFreePort(c);
    } else {
      c.port = options.port;
      await writeHarnessConf(c);
      await launch(c);
    }
  } catch (err) {
    await server.destroy();
    throw err instanceof PortInUseError ? new Error(`port ${c.port} is in use:\n${err.message}`) : err;
  }
  return server;
}

/** One throwaway cluster: where it lives, how it runs, and its postmaster while running. */
interface Cluster {
  readonly binDir: string;
  /** The account the server runs as when we are root. */
  readonly account: ServerAccount | undefined;
  readonly options: StartPostgresOptions;
  readonly startTimeoutMs: number;
  readonly tmpDir: string;
  readonly dataDir: string;
  readonly socketDir: string;
  readonly logFile: string;
  readonly spawnOptions: { env: NodeJS.ProcessEnv; uid?: number; gid?: number };
  child: ChildProcess | undefined;
  /** Settles when the current (or last) postmaster exited. */
  exited: Promise<void>;
  port: number;
  destroyed: Promise<void> | undefined;
  /** Its entry in the teardown registry. */
  readonly liveEntry: LiveServer;
}

/** The {@link PostgresServer} handed to the caller, over the cluster's state. */
function serverHandle(c: Cluster): PostgresServer {
  const server: PostgresServer = {
    host: HOST,
    get port() {
      return c.port;
    },
    user: SUPERUSER,
    dataDir: c.dataDir,
    socketDir: c.socketDir,
    get pid() {
      return c.child?.pid;
    },
    url(database = 'postgres', params) {
      const query = params === undefined ? '' : `?${new URLSearchParams(params).toString()}`;
      return `postgres://${SUPERUSER}@${HOST}:${c.port}/${encodeURIComponent(database)}${query}`;
    },
    async createDatabase(name) {
      await server.query(`CREATE DATABASE ${quoteIdent(name)}`);
    },
    query: (sql, params) => superuserQuery(c, sql, params),
    stop: () => shutdown(c),
    start: () => restart(c),
    destroy: () => destroyCluster(c),
    logTail: (lines) => logTail(c, lines),
  };
  return server;
}

function logTail(c: Cluster, lines = LOG_TAIL_LINES): string {
  try {
    return readFileSync(c.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

function superuserClient(c: Cluster): pg.Client {
  return new pg.Client({ host: c.socketDir, port: c.port, user: SUPERUSER, database: 'postgres' });
}

async function superuserQuery<R extends pg.QueryResultRow>(c: Cluster, sql: string, params?: unknown[]): Promise<R[]> {
  const client = superuserClient(c);
  client.on('error', () => {});
  try {
    await client.connect();
    return (await client.query<R>(sql, params)).rows;
  } finally {
    await client.end().catch(() => {});
  }
}

// ---- creating the cluster ----------------------------------------------------------------------------------

async function writeOwned(c: Cluster, path: string, content: string, mode = 0o600): Promise<void> {
  await writeFile(path, content, { mode });
  if (c.account !== undefined) await chown(path, c.account.uid, c.account.gid);
}

async function copyOwned(c: Cluster, from: string, to: string, mode: number): Promise<void> {
  await copyFile(from, to);
  await chmod(to, mode);
  if (c.account !== undefined) await chown(to, c.account.uid, c.account.gid);
}

/** Creates the directories, runs `initdb`, and installs the harness config, `pg_hba.conf` and TLS files. */
async function initCluster(c: Cluster): Promise<void> {
  const { account, tmpDir, dataDir, socketDir, options } = c;
  await chmod(tmpDir, 0o700);
  await mkdir(dataDir, { mode: 0o700 });
  await mkdir(socketDir, { mode: 0o700 });
  if (account !== undefined) {
    for (const dir of [tmpDir, dataDir, socketDir]) await chown(dir, account.uid, account.gid);
  }
  await runInitdb(c);
  const conf = join(dataDir, 'postgresql.conf');
  await writeFile(conf, `${readFileSync(conf, 'utf8')}\ninclude 'teleport-ts.conf'\n`);
  await writeOwned(c, join(dataDir, 'pg_hba.conf'), `${(options.hba ?? DEFAULT_HBA).join('\n')}\n`);
  if (options.tls !== undefined) {
    await copyOwned(c, options.tls.certFile, join(dataDir, 'server.crt'), 0o644);
    await copyOwned(c, options.tls.keyFile, join(dataDir, 'server.key'), 0o600);
    if (options.tls.caFile !== undefined) await copyOwned(c, options.tls.caFile, join(dataDir, 'root.crt'), 0o644);
  }
}

function runInitdb(c: Cluster): Promise<void> {
  const args = ['-D', c.dataDir, `--username=${SUPERUSER}`, '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync'];
  return new Promise<void>((resolve, reject) => {
    execFile(join(c.binDir, 'initdb'), args, { ...c.spawnOptions, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err === null) return resolve();
      const who = c.account === undefined ? '' : ` (running as ${c.account.name}; ${c.tmpDir} must be reachable by that user, see options.baseDir)`;
      reject(new Error(`initdb failed${who}: ${err.message}\n${stdout}${stderr}`.trimEnd()));
    });
  });
}

/** Writes `teleport-ts.conf`: the harness defaults (port, socket, durability off, TLS), then the caller's settings. */
async function writeHarnessConf(c: Cluster): Promise<void> {
  const { options } = c;
  const settings: Record<string, string | number | boolean> = {
    listen_addresses: HOST,
    port: c.port,
    unix_socket_directories: c.socketDir,
    fsync: false,
    synchronous_commit: false,
    full_page_writes: false,
    max_connections: 200,
    ...(options.tls === undefined
      ? {}
      : {
          ssl: true,
          ssl_cert_file: 'server.crt',
          ssl_key_file: 'server.key',
          ...(options.tls.caFile === undefined ? {} : { ssl_ca_file: 'root.crt' }),
        }),
    ...options.settings,
  };
  const lines = Object.entries(settings).map(([k, v]) => `${k} = ${confValue(v)}`);
  await writeOwned(c, join(c.dataDir, 'teleport-ts.conf'), `${lines.join('\n')}\n`);
}

// ---- running it --------------------------------------------------------------------------------------------

async function launchOnFreePort(c: Cluster): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    c.port = await freePort();
    await writeHarnessConf(c);
    try {
      return await launch(c);
    } catch (err) {
      if (!(err instanceof PortInUseError) || attempt >= PORT_ATTEMPTS) throw err;
    }
  }
}

/** Spawns the postmaster and waits until it accepts connections. */
async function launch(c: Cluster): Promise<void> {
  const logFd = openSync(c.logFile, 'a');
  let proc: ChildProcess;
  try {
    proc = spawn(join(c.binDir, 'postgres'), ['-D', c.dataDir], { ...c.spawnOptions, stdio: ['ignore', logFd, logFd] });
  } finally {
    closeSync(logFd);
  }
  c.child = proc;
  let exitCode: string | undefined;
  c.exited = new Promise<void>((resolve) => {
    proc.once('exit', (code, sig) => {
      exitCode = sig ?? String(code);
      if (c.child === proc) c.child = undefined;
      resolve();
    });
    proc.once('error', (err) => {
      exitCode = err.message;
      if (c.child === proc) c.child = undefined;
      resolve();
    });
  });
  await waitUntilReady(c, () => exitCode);
}

async function waitUntilReady(c: Cluster, exitCode: () => string | undefined): Promise<void> {
  const deadline = Date.now() + c.startTimeoutMs;
  for (;;) {
    const code = exitCode();
    if (code !== undefined) {
      const tail = logTail(c);
      if (/could not create any TCP\/IP sockets|Address already in use/.test(tail)) throw new PortInUseError(tail);
      throw new Error(`postgres exited during startup (${code}); last lines of ${c.logFile}:\n${tail}`);
    }
    if (await acceptsConnections(c)) return;
    if (Date.now() > deadline) {
      await shutdown(c);
      throw new Error(`postgres did not accept connections within ${c.startTimeoutMs} ms; last lines of ${c.logFile}:\n${logTail(c)}`);
    }
    await new Promise((r) => setTimeout(r, READY_POLL_MS));
  }
}

async function acceptsConnections(c: Cluster): Promise<boolean> {
  if (!existsSync(join(c.socketDir, `.s.PGSQL.${c.port}`))) return false;
  const client = superuserClient(c);
  client.on('error', () => {});
  try {
    await client.connect();
    return true;
  } catch (err) {
    // Any answer from the server other than "starting up" (say, no hba entry for the socket) means it is up.
    return err instanceof pg.DatabaseError && err.code !== CANNOT_CONNECT_NOW;
  } finally {
    await client.end().catch(() => {});
  }
}

/** Fast shutdown, escalating to immediate and then SIGKILL when the postmaster does not exit in time. */
async function shutdown(c: Cluster): Promise<void> {
  const proc = c.child;
  if (proc === undefined) return;
  const steps: Array<[NodeJS.Signals, number]> = [
    ['SIGINT', FAST_SHUTDOWN_TIMEOUT_MS],
    ['SIGQUIT', IMMEDIATE_SHUTDOWN_TIMEOUT_MS],
    ['SIGKILL', IMMEDIATE_SHUTDOWN_TIMEOUT_MS],
  ];
  for (const [sig, timeoutMs] of steps) {
    proc.kill(sig);
    let timer: NodeJS.Timeout | undefined;
    const done = await Promise.race([
      c.exited.then(() => true),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (done) return;
  }
}

async function restart(c: Cluster): Promise<void> {
  if (c.destroyed !== undefined) throw new Error('this PostgreSQL server was destroyed');
  if (c.child !== undefined) return;
  await launch(c).catch((err: unknown) => {
    throw err instanceof PortInUseError ? new Error(`port ${c.port} is taken, cannot restart postgres on it:\n${err.message}`) : err;
  });
}

function destroyCluster(c: Cluster): Promise<void> {
  c.destroyed ??= (async () => {
    try {
      await shutdown(c);
    } finally {
      live.delete(c.liveEntry);
      await rm(c.tmpDir, { recursive: true, force: true });
    }
  })();
  return c.destroyed;
}
