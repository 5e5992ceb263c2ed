/**
 * `tsh db ls|login|logout|env|config|connect` and `tsh proxy db`, in Teleport's shapes. The cluster is reached through
 * the proxy (auth API over `teleport-auth`, database traffic over `teleport-postgres`) with the user's TLS key; database
 * certificates are kept per database in the profile (`keys/<proxy>/<user>-db/<cluster>/<db>-x509.pem`).
 *
 * The proxy speaks PostgreSQL only behind TLS routing (ALPN), so native clients always go through tsh's local proxy:
 * `tsh db env` and `tsh db config` say so, as Teleport does for protocols that need one.
 */

import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import type { Database } from '@teleport-ts/core/api';
import { BadParameterError, NotFoundError } from '@teleport-ts/core/errors';
import { openDatabaseCluster, type DatabaseCluster } from '../db/cluster.js';
import {
  allowedDatabaseNames,
  allowedDatabaseUsers,
  allowedFromTraits,
  clientCommand,
  defaultDatabaseName,
  defaultDatabaseUser,
  formatActiveDatabase,
  formatAllowed,
  formatConnectCommand,
  formatProxyCommand,
  isDatabaseNameRequired,
  isDatabaseUserRequired,
  readDatabaseCertificate,
  type AllowedValues,
  type ClientCommand,
  type DatabaseInfo,
  type DatabaseRoute,
  type UserAccess,
} from '../db/databases.js';
import { startLocalProxy, type LocalProxy } from '../db/localproxy.js';
import { loadStatuses, type ProfileStatus } from '../profile/status.js';
import {
  currentProfileName,
  databaseCertPath,
  profileName,
  readDatabaseCerts,
  readProfile,
  readTlsCredentials,
  removeDatabaseCert,
  saveDatabaseCert,
  teleportHome,
  type Profile,
  type TlsCredentials,
} from '@teleport-ts/core/profile';
import { parseProxyAddr } from '../webclient.js';

/** Global flags the db commands read. */
export interface DbGlobals {
  proxy?: string;
  insecure?: boolean;
}

export interface DbDeps {
  env: NodeJS.ProcessEnv;
  /** Opens the cluster connection; tests pass a fake. */
  openCluster?: (proxyAddr: string, user: string, creds: TlsCredentials, insecure: boolean) => DatabaseCluster;
  now?: () => Date;
  /** Where notes to the user go (what was kept from a login); stderr by default, as they are not the output. */
  notice?: (line: string) => void;
}

/** A certificate this close to expiry is renewed before use. */
const RENEW_BEFORE_MS = 60_000;

/** The logged-in profile and its credentials, with the cluster connection opened on first use. */
export interface DbSession {
  home: string;
  profile: Profile;
  status: ProfileStatus;
  creds: TlsCredentials;
  /** `--insecure` of this command: not remembered (as Teleport's tsh), so suggested commands repeat it. */
  insecure: boolean;
  cluster(): DatabaseCluster;
  /** Tells the user something on stderr: the output stays what the command prints. */
  notice(line: string): void;
  /** Database certificates in the profile: route, PEM and expiry, by database name. */
  activeRoutes(): Promise<ActiveDatabase[]>;
  close(): Promise<void>;
  now(): Date;
}

export interface ActiveDatabase {
  route: DatabaseRoute;
  cert: string;
  expires: Date;
}

/** Opens the current (or `--proxy`) profile; `ERROR: Not logged in.` without one. */
export async function openDbSession(globals: DbGlobals, deps: DbDeps): Promise<DbSession> {
  const home = teleportHome(deps.env);
  const now = deps.now ?? (() => new Date());
  const proxyText = globals.proxy ?? (deps.env['TELEPORT_PROXY'] || undefined);
  const name = proxyText !== undefined ? profileName(parseProxyAddr(proxyText).addr) : await currentProfileName(home);
  const profile = name === undefined ? undefined : await readProfile(home, name);
  const creds = profile === undefined ? undefined : await readTlsCredentials(home, profile);
  const status = profile === undefined ? undefined : (await loadStatuses(home)).find((s) => s.webProxyAddr === profile.web_proxy_addr);
  if (profile === undefined || creds === undefined || status === undefined) throw new NotFoundError('Not logged in.');
  if (status.validUntil !== undefined && status.validUntil.getTime() <= now().getTime()) {
    throw new BadParameterError('Your Teleport certificate has expired, please re-login with tsh login.');
  }
  let cluster: DatabaseCluster | undefined;
  const open = deps.openCluster ?? openDatabaseCluster;
  return {
    home,
    profile,
    status,
    creds,
    insecure: globals.insecure === true,
    now,
    cluster: () => (cluster ??= open(profile.web_proxy_addr, profile.user, creds, globals.insecure === true)),
    notice: deps.notice ?? ((line) => void process.stderr.write(`${line}\n`)),
    async activeRoutes() {
      const out: ActiveDatabase[] = [];
      for (const [, pem] of await readDatabaseCerts(home, profile)) {
        try {
          const parsed = readDatabaseCertificate(pem);
          out.push({ route: parsed.route, cert: pem, expires: parsed.expires });
        } catch {
          // A damaged certificate is not a login.
        }
      }
      return out;
    },
    close: async () => {
      await cluster?.close();
    },
  };
}

// ---- tsh db ls ---------------------------------------------------------------------------------------------

export interface DbListOptions {
  /** `k=v,k2=v2` */
  labels?: string;
  verbose: boolean;
}

export interface DbListRow {
  db: DatabaseInfo;
  resource: Database;
  allowedUsers: string;
  active: DatabaseRoute | undefined;
  /** The `tsh db connect` command for an active login, else `''`. */
  connectCommand: string;
}

function parseLabelFilter(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (text === undefined || text.trim() === '') return out;
  for (const part of text.split(',')) {
    const i = part.indexOf('=');
    if (i <= 0) throw new BadParameterError(`invalid label spec ${JSON.stringify(part)}, should be key=value`);
    out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

/** The databases the user may see (filtered by the auth server with the user's roles), with the columns of `tsh db ls`. */
export async function dbList(session: DbSession, options: DbListOptions): Promise<DbListRow[]> {
  const filter = parseLabelFilter(options.labels);
  const [databases, roles, active] = await Promise.all([session.cluster().listDatabases(), session.cluster().userRoles(session.status.roles), session.activeRoutes()]);
  const access: UserAccess | undefined = roles === undefined ? undefined : { roles, traits: session.status.traits };
  return [...databases]
    .sort((a, b) => (a.info.name < b.info.name ? -1 : a.info.name > b.info.name ? 1 : 0))
    .filter(({ info }) => Object.entries(filter).every(([k, v]) => info.labels[k] === v))
    .map(({ info, resource }) => {
      const route = active.find((a) => a.route.serviceName === info.name)?.route;
      return {
        db: info,
        resource,
        allowedUsers: formatAllowed(access === undefined ? undefined : allowedDatabaseUsers(access, info)),
        active: route,
        connectCommand: route ? formatConnectCommand(route, { insecure: session.insecure }) : '',
      };
    });
}

// ---- choosing a database and a route -----------------------------------------------------------------------

export interface RouteFlags {
  db: string;
  dbUser?: string;
  dbName?: string;
}

async function findDatabase(session: DbSession, name: string, active: ActiveDatabase | undefined): Promise<DatabaseInfo> {
  const found = (await session.cluster().listDatabases()).find((d) => d.info.name === name);
  if (found !== undefined) return found.info;
  if (active !== undefined) {
    throw new NotFoundError(
      `database ${JSON.stringify(name)} not found among registered databases in cluster ${session.profile.site_name}: you are logged into a database that no longer exists in the cluster (remove it with 'tsh db logout ${name}')`,
    );
  }
  throw new NotFoundError(`database ${JSON.stringify(name)} not found, use 'tsh db ls' to see registered databases`);
}

async function userAccess(session: DbSession): Promise<UserAccess | undefined> {
  const roles = await session.cluster().userRoles(session.status.roles);
  return roles === undefined ? undefined : { roles, traits: session.status.traits };
}

/**
 * What a partial `--db-user`/`--db-name` kept from the active login, as flags: `--db-name=postgres`. Teleport keeps
 * the login's value for a flag not given (`getDatabaseInfo`) without a word; this tsh says so, since the other flag
 * was given and the user may expect a fresh route.
 */
function keptFromLogin(flags: RouteFlags, active: ActiveDatabase | undefined): string[] {
  if (active === undefined || (flags.dbUser === undefined && flags.dbName === undefined)) return [];
  const kept: string[] = [];
  if (flags.dbUser === undefined && active.route.username !== '') kept.push(`--db-user=${active.route.username}`);
  if (flags.dbName === undefined && active.route.database !== '') kept.push(`--db-name=${active.route.database}`);
  return kept;
}

function noteKept(session: DbSession, flags: RouteFlags, active: ActiveDatabase | undefined): void {
  const kept = keptFromLogin(flags, active);
  if (kept.length === 0) return;
  const names = kept.map((k) => k.slice(0, k.indexOf('='))).join(' or ');
  session.notice(`Keeping ${kept.join(' ')} from your login to database "${flags.db}" (pass ${names} to choose another).`);
}

/**
 * The route for a database: flags first, then the active login's, then the only user / name the roles allow
 * (Teleport's `databaseInfo.checkAndSetDefaults`). Also says whether the stored certificate can be used as is.
 */
export async function resolveRoute(session: DbSession, flags: RouteFlags): Promise<{ route: DatabaseRoute; db: DatabaseInfo; active: ActiveDatabase | undefined }> {
  const active = (await session.activeRoutes()).find((a) => a.route.serviceName === flags.db);
  const db = await findDatabase(session, flags.db, active);
  const route: DatabaseRoute = {
    serviceName: db.name,
    protocol: db.protocol,
    username: flags.dbUser ?? active?.route.username ?? '',
    database: flags.dbName ?? active?.route.database ?? '',
  };
  noteKept(session, flags, active);
  const needUser = route.username === '' && isDatabaseUserRequired(route.protocol);
  const needName = route.database === '' && isDatabaseNameRequired(route.protocol);
  if (needUser || needName) {
    const access = await userAccess(session);
    const allowed = (which: 'users' | 'names'): AllowedValues =>
      access === undefined
        ? allowedFromTraits(session.status.traits, which === 'users' ? 'db_users' : 'db_names')
        : which === 'users'
          ? allowedDatabaseUsers(access, db)
          : allowedDatabaseNames(access, db);
    if (needUser) route.username = defaultDatabaseUser(db, allowed('users'));
    if (needName) route.database = defaultDatabaseName(db, allowed('names'));
  }
  return { route, db, active };
}

function sameRoute(a: DatabaseRoute, b: DatabaseRoute): boolean {
  return a.serviceName === b.serviceName && a.protocol === b.protocol && a.username === b.username && a.database === b.database;
}

/** Issues and stores a database certificate for `route`; returns the PEM. */
async function loginToDatabase(session: DbSession, route: DatabaseRoute): Promise<string> {
  const cert = await session.cluster().issueDatabaseCert(route);
  await saveDatabaseCert(session.home, session.profile, route.serviceName, cert);
  return cert;
}

/** A database certificate for a session, and whether it is the stored login (renewals are stored too) or kept in memory. */
interface SessionCertificate {
  cert: string;
  stored: boolean;
}

/**
 * The stored certificate when it matches the route and is not about to expire; a new stored login when there is
 * none; and when the route differs from the stored login (another `--db-user`), a certificate for this session
 * only, in memory, as Teleport's tunnels do: the login stays what `tsh db login` made it, and the user is told.
 */
async function certificateFor(session: DbSession, route: DatabaseRoute, active: ActiveDatabase | undefined): Promise<SessionCertificate> {
  if (active === undefined) return { cert: await loginToDatabase(session, route), stored: true };
  if (!sameRoute(active.route, route)) {
    session.notice(`Using a certificate for ${formatActiveDatabase(route).slice(2)} for this session only; your login ${formatActiveDatabase(active.route).slice(2)} is unchanged.`);
    return { cert: await session.cluster().issueDatabaseCert(route), stored: false };
  }
  if (active.expires.getTime() - session.now().getTime() > RENEW_BEFORE_MS) return { cert: active.cert, stored: true };
  return { cert: await loginToDatabase(session, route), stored: true };
}

// ---- tsh db login / logout ---------------------------------------------------------------------------------

export interface DbLoginResult {
  route: DatabaseRoute;
  /** How to use the credentials: `tsh db connect ...` and `tsh proxy db --tunnel ...`. */
  connectCommand: string;
  proxyCommand: string;
}

/** `tsh db login`: issues and stores the database certificate for the route the flags and roles give. */
export async function dbLogin(session: DbSession, flags: RouteFlags): Promise<DbLoginResult> {
  const { route } = await resolveRoute(session, flags);
  await loginToDatabase(session, route);
  const suggest = { insecure: session.insecure };
  return { route, connectCommand: formatConnectCommand(route, suggest), proxyCommand: formatProxyCommand(route, suggest) };
}

/** `tsh db logout [db]`: removes the database certificates; returns the names of the databases logged out of. */
export async function dbLogout(session: DbSession, db: string | undefined): Promise<string[]> {
  const active = await session.activeRoutes();
  const names = db === undefined ? active.map((a) => a.route.serviceName) : [db];
  if (db !== undefined && !active.some((a) => a.route.serviceName === db)) throw new NotFoundError(`Not logged into database ${JSON.stringify(db)}`);
  if (names.length === 0) throw new NotFoundError('Not logged into any databases');
  for (const name of names) await removeDatabaseCert(session.home, session.profile, name);
  return names;
}

// ---- tsh db env / config ----------------------------------------------------------------------------------

async function pickActiveDatabase(session: DbSession, db: string | undefined): Promise<DatabaseRoute> {
  const active = await session.activeRoutes();
  if (db === undefined) {
    if (active.length === 1) return active[0]!.route;
    if (active.length === 0) throw new NotFoundError("please login using 'tsh db login' first (use 'tsh db ls' to see registered databases)");
    throw new BadParameterError(`multiple databases are available (${active.map((a) => a.route.serviceName).join(', ')}), please specify one by name, --labels, or --query`);
  }
  const found = active.find((a) => a.route.serviceName === db);
  if (found === undefined) throw new NotFoundError(`not logged into database ${JSON.stringify(db)}`);
  return found.route;
}

/** Teleport's answer when a command needs a direct connection the proxy does not offer (TLS routing only). */
function localProxyRequired(command: string, session: DbSession, route: DatabaseRoute): BadParameterError {
  return new BadParameterError(
    [
      `"${command}" is not supported when:`,
      `  - cluster ${session.profile.site_name} proxy is using TLS routing.`,
      '',
      'Please use one of the following commands to connect to the database:',
      `    ${formatConnectCommand(route, { insecure: session.insecure })}`,
      `    ${formatProxyCommand(route, { insecure: session.insecure })}`,
    ].join('\n'),
  );
}

/**
 * `tsh db env` / `tsh db config`: native clients cannot reach the proxy's database routing without tsh's local
 * proxy, so both point at `tsh db connect` and `tsh proxy db --tunnel`, as Teleport does when a local proxy is
 * required. They still check the login first.
 */
export async function dbNativeClientInfo(session: DbSession, command: 'tsh db env' | 'tsh db config', db: string | undefined): Promise<never> {
  const route = await pickActiveDatabase(session, db);
  throw localProxyRequired(command, session, route);
}

// ---- tsh db connect / tsh proxy db --------------------------------------------------------------------------

function onPath(file: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env['PATH'] ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const candidate = path.join(dir, file);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Starts a local proxy for a route, renewing the database certificate when it nears expiry (stored only if it was). */
async function startTunnel(session: DbSession, route: DatabaseRoute, initial: SessionCertificate, port?: number): Promise<LocalProxy> {
  let current = { cert: initial.cert, expires: readDatabaseCertificate(initial.cert).expires };
  const renew = (): Promise<string> => (initial.stored ? loginToDatabase(session, route) : session.cluster().issueDatabaseCert(route));
  const target = parseProxyAddr(session.profile.web_proxy_addr);
  return startLocalProxy({
    proxy: { host: target.host, port: target.port },
    ca: session.creds.caCerts,
    insecure: session.insecure,
    ...(port !== undefined ? { port } : {}),
    credentials: async () => {
      if (current.expires.getTime() - session.now().getTime() <= RENEW_BEFORE_MS) {
        const renewed = await renew();
        current = { cert: renewed, expires: readDatabaseCertificate(renewed).expires };
      }
      return { cert: current.cert, key: session.creds.key };
    },
  });
}

/** `tsh db connect`: logs in to the database if needed, runs the client through a local proxy, returns its exit code. */
export async function dbConnect(session: DbSession, flags: RouteFlags, env: NodeJS.ProcessEnv): Promise<number> {
  const { route, active } = await resolveRoute(session, flags);
  const cert = await certificateFor(session, route, active);
  const tunnel = await startTunnel(session, route, cert);
  const cmd = clientCommand(route, tunnel.host, tunnel.port, onPath('cockroach', env) !== undefined);
  try {
    return await runClient(cmd, env);
  } finally {
    await tunnel.close();
  }
}

/** Runs the database client on this terminal. Ctrl-C belongs to the client (psql turns it into a CancelRequest). */
function runClient(cmd: ClientCommand, env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const ignore = (): void => {};
    process.on('SIGINT', ignore);
    const child = spawn(cmd.file, cmd.args, { stdio: 'inherit', env });
    child.once('error', (err: NodeJS.ErrnoException) => {
      process.off('SIGINT', ignore);
      if (err.code === 'ENOENT') {
        reject(
          new NotFoundError(`"${cmd.file}" executable not found in $PATH`, {
            hint: cmd.file === 'psql' ? 'install the PostgreSQL client (e.g. apt-get install postgresql-client), or use tsh proxy db --tunnel with another client' : undefined,
          }),
        );
      } else reject(err);
    });
    child.once('exit', (code, signal) => {
      process.off('SIGINT', ignore);
      resolve(code ?? (signal ? 128 + (signalNumber(signal) ?? 1) : 1));
    });
  });
}

function signalNumber(signal: NodeJS.Signals): number | undefined {
  return ({ SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 } as Partial<Record<NodeJS.Signals, number>>)[signal];
}

export interface ProxyDbOptions extends RouteFlags {
  port?: number;
  tunnel: boolean;
}

export interface RunningDbProxy {
  route: DatabaseRoute;
  /** The cluster the database is in. */
  cluster: string;
  /** The client command that connects through the proxy. */
  command: ClientCommand;
  /** Whether `--port` chose the port (else the system picked one). */
  portChosen: boolean;
  proxy: LocalProxy;
}

/** `tsh proxy db`: starts the local proxy (see the command's help for `--tunnel`); the caller closes it. */
export async function proxyDb(session: DbSession, options: ProxyDbOptions, env: NodeJS.ProcessEnv): Promise<RunningDbProxy> {
  const { route, active } = await resolveRoute(session, options);
  const cert = await certificateFor(session, route, active);
  const proxy = await startTunnel(session, route, cert, options.port);
  const command = clientCommand(route, proxy.host, proxy.port, onPath('cockroach', env) !== undefined);
  return { route, cluster: session.profile.site_name, command, portChosen: options.port !== undefined, proxy };
}

/** Where a database certificate of the session lives (for messages and tests). */
export function databaseCertFile(session: DbSession, db: string): string {
  return databaseCertPath(session.home, session.profile, db);
}
