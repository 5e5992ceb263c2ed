/**
 * Databases as tsh sees them, and the decisions tsh makes about them before asking the cluster: which database users
 * and names a user's roles allow on a given database (Teleport's `EnumerateDatabaseUsers`/`Names`), which one to pick
 * when exactly one is allowed, and the command lines tsh prints and runs.
 */

import { parseIdentity } from '@teleport-ts/core/ca/tlsca';
import { AccessDeniedError, BadParameterError } from '@teleport-ts/core/errors';
import { newAccessChecker, requiresDatabaseNameMatch, type AccessChecker, type ResourceLabels } from '@teleport-ts/core/rbac';
import type { Role, Traits } from '@teleport-ts/core/types';

/** Where a database certificate routes to (core's `RouteToDatabase`, with `''` for what it does not name). */
export interface DatabaseRoute {
  /** The database's name in Teleport. */
  serviceName: string;
  /** `postgres`, `cockroachdb`... */
  protocol: string;
  /** The database account, `''` when the certificate does not name one. */
  username: string;
  /** The database name, `''` when the certificate does not name one. */
  database: string;
}

/** What tsh needs from a db certificate. */
export interface DatabaseCertificate {
  route: DatabaseRoute;
  /** The Teleport user (CN). */
  user: string;
  expires: Date;
}

/**
 * Reads a db certificate (PEM) with core's light identity parser.
 *
 * @example
 * ```ts
 * readDatabaseCertificate(pem).route; // { serviceName: 'roach', protocol: 'cockroachdb', username: 'alice', database: '' }
 * ```
 */
export function readDatabaseCertificate(pem: string): DatabaseCertificate {
  let identity;
  try {
    identity = parseIdentity(pem);
  } catch {
    throw new BadParameterError('malformed database certificate');
  }
  const route = identity.routeToDatabase;
  if (route === undefined) throw new BadParameterError('the certificate is not a database certificate');
  return {
    route: { serviceName: route.serviceName, protocol: route.protocol, username: route.username ?? '', database: route.database ?? '' },
    user: identity.username,
    expires: identity.expires,
  };
}

/** A registered database, from the db servers' heartbeats. */
export interface DatabaseInfo {
  name: string;
  description: string;
  protocol: string;
  uri: string;
  labels: ResourceLabels;
}

const WILDCARD = '*';

/** What a user's roles allow on one database: names and whether `*` is among them. */
export interface AllowedValues {
  /** Non-wildcard values, sorted. */
  allowed: string[];
  wildcard: boolean;
}

/** The roles and traits of the logged-in user, when the cluster lets tsh read the roles. */
export interface UserAccess {
  roles: readonly Role[];
  traits: Traits;
}

/** Which of the roles' lists (database users or names) an answer is about. */
type AllowedList = 'allowedDbUsers' | 'allowedDbNames';

/** One user's checkers (all roles, then each role alone) and answers by label set, built once per {@link UserAccess}. */
interface AccessMemo {
  full: AccessChecker;
  each: AccessChecker[];
  answers: Map<string, AllowedValues>;
}

const memos = new WeakMap<UserAccess, AccessMemo>();

/**
 * What the roles allow on a database with these labels: `tsh db ls` asks for every database, and at 5,000 of them
 * building the checkers anew each time was ~60 ms (`pnpm bench listing`). Databases with the same labels get the
 * same answer, so it is computed once per label set; the checkers once per user.
 */
function allowedOn(access: UserAccess, labels: ResourceLabels, pick: AllowedList): AllowedValues {
  let memo = memos.get(access);
  if (memo === undefined) {
    memo = {
      full: newAccessChecker({ roles: access.roles, traits: access.traits }),
      each: access.roles.map((role) => newAccessChecker({ roles: [role], traits: access.traits })),
      answers: new Map(),
    };
    memos.set(access, memo);
  }
  const key = JSON.stringify([pick, Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))]);
  let answer = memo.answers.get(key);
  if (answer === undefined) {
    answer = computeAllowed(memo, labels, pick);
    memo.answers.set(key, answer);
  }
  return { allowed: [...answer.allowed], wildcard: answer.wildcard };
}

function computeAllowed(memo: AccessMemo, labels: ResourceLabels, pick: AllowedList): AllowedValues {
  if (!memo.full.isDatabaseVisible(labels)) return { allowed: [], wildcard: false };
  // Values some role whose db_labels match allows, and that no role denies.
  const permitted = new Set(memo.full[pick]());
  const values = new Set<string>();
  for (const one of memo.each) {
    if (!one.isDatabaseVisible(labels)) continue;
    for (const v of one[pick]()) if (permitted.has(v)) values.add(v);
  }
  return { allowed: [...values].filter((v) => v !== WILDCARD).sort(), wildcard: values.has(WILDCARD) };
}

/** Database users the roles allow on `db`. */
export function allowedDatabaseUsers(access: UserAccess, db: DatabaseInfo): AllowedValues {
  return allowedOn(access, db.labels, 'allowedDbUsers');
}

/** Database names the roles allow on `db`. */
export function allowedDatabaseNames(access: UserAccess, db: DatabaseInfo): AllowedValues {
  return allowedOn(access, db.labels, 'allowedDbNames');
}

/** Without the roles, the `internal.db_users`/`db_names` traits stand in (what the preset `access` role grants). */
export function allowedFromTraits(traits: Traits, trait: 'db_users' | 'db_names'): AllowedValues {
  const values = traits[trait] ?? [];
  return { allowed: values.filter((v) => v !== WILDCARD).sort(), wildcard: values.includes(WILDCARD) };
}

/** Go's `fmt.Sprintf("%v", []string{...})`: `[* alice bob]`, `*` first; `(none)` when empty. */
export function formatAllowed(values: AllowedValues | undefined): string {
  if (values === undefined) return '(unknown)';
  const list = values.wildcard ? [WILDCARD, ...values.allowed] : values.allowed;
  return list.length === 0 ? '(none)' : `[${list.join(' ')}]`;
}

/** Every protocol needs a database user, as in Teleport. */
export function isDatabaseUserRequired(_protocol: string): boolean {
  return true;
}

/** A database name is needed where the roles' `db_names` are enforced (postgres: yes; cockroachdb: no). */
export function isDatabaseNameRequired(protocol: string): boolean {
  return requiresDatabaseNameMatch(protocol);
}

/** Teleport's `getDefaultDBUser`: the one allowed user, else an error naming the flag and the allowed users. */
export function defaultDatabaseUser(db: DatabaseInfo, values: AllowedValues): string {
  if (values.allowed.length === 1) return values.allowed[0]!;
  if (values.allowed.length === 0 && !values.wildcard) {
    throw new AccessDeniedError(
      `you are not allowed access to any database user for ${db.name}, ask a cluster administrator to ensure your Teleport user has appropriate db_users set`,
    );
  }
  throw new BadParameterError(`please provide the database user using the --db-user flag, allowed database users for ${db.name}: ${formatAllowed(values)}`);
}

/** Teleport's `getDefaultDBName`. */
export function defaultDatabaseName(db: DatabaseInfo, values: AllowedValues): string {
  if (values.allowed.length === 1) return values.allowed[0]!;
  if (values.allowed.length === 0 && !values.wildcard) {
    throw new AccessDeniedError(
      `you are not allowed access to any database name for ${db.name}, ask a cluster administrator to ensure your Teleport user has appropriate db_names set`,
    );
  }
  throw new BadParameterError(`please provide the database name using the --db-name flag, allowed database names for ${db.name}: ${formatAllowed(values)}`);
}

/** Teleport's `defaults.ReadableDatabaseProtocol`. */
export function readableProtocol(protocol: string): string {
  switch (protocol) {
    case 'postgres':
      return 'PostgreSQL';
    case 'cockroachdb':
      return 'CockroachDB';
    case 'mysql':
      return 'MySQL';
    default:
      return protocol;
  }
}

/** Labels as Teleport's `sortedLabels`: `k=v` pairs sorted, those with a `/` in the key after the others. */
export function formatLabels(labels: ResourceLabels): string {
  const plain: string[] = [];
  const namespaced: string[] = [];
  const teleport: string[] = [];
  for (const [k, v] of Object.entries(labels)) {
    const pair = `${k}=${v}`;
    if (k.startsWith('teleport.dev/')) teleport.push(k);
    else if (k.includes('/')) namespaced.push(pair);
    else plain.push(pair);
  }
  return [...plain.sort(), ...namespaced.sort(), ...teleport.sort()].join(',');
}

/**
 * How a suggested command is written: `insecure` when this command ran with `--insecure`, which tsh does not
 * remember (as Teleport's), so that the suggestion works when copied, as Teleport adds `--cluster` when given.
 */
export interface SuggestOptions {
  insecure?: boolean;
}

/** `tsh db connect [--insecure] [--db-user=<user>] [--db-name=<name>] <db>`, the db flags only where the route lacks them. */
export function formatConnectCommand(route: DatabaseRoute, options: SuggestOptions = {}): string {
  return ['tsh', 'db', 'connect', ...connectArgs(route, options)].join(' ');
}

/** `tsh proxy db --tunnel ... <db>` */
export function formatProxyCommand(route: DatabaseRoute, options: SuggestOptions = {}): string {
  return ['tsh', 'proxy', 'db', '--tunnel', ...connectArgs(route, options)].join(' ');
}

function connectArgs(route: DatabaseRoute, options: SuggestOptions): string[] {
  const args: string[] = options.insecure === true ? ['--insecure'] : [];
  if (route.username === '' && isDatabaseUserRequired(route.protocol)) args.push('--db-user=<user>');
  if (route.database === '' && isDatabaseNameRequired(route.protocol)) args.push('--db-name=<name>');
  args.push(route.serviceName);
  return args;
}

/** `> roach (user: alice, db: app)`: how `tsh db ls` marks a database the user is logged in to. */
export function formatActiveDatabase(route: DatabaseRoute): string {
  if (route.username !== '' && route.database !== '') return `> ${route.serviceName} (user: ${route.username}, db: ${route.database})`;
  if (route.username !== '') return `> ${route.serviceName} (user: ${route.username})`;
  if (route.database !== '') return `> ${route.serviceName} (db: ${route.database})`;
  return `> ${route.serviceName}`;
}

/** A database client invocation. */
export interface ClientCommand {
  file: string;
  args: string[];
}

/** `postgres://user@127.0.0.1:port/db`, with `?sslmode=disable` for cockroach (which would otherwise insist on TLS). */
function localConnectionUrl(route: DatabaseRoute, host: string, port: number, options: { sslmodeDisable?: boolean } = {}): string {
  const user = route.username === '' ? '' : `${encodeURIComponent(route.username)}@`;
  const db = route.database === '' ? '' : `/${encodeURIComponent(route.database)}`;
  const hostPart = host.includes(':') ? `[${host}]` : host;
  return `postgres://${user}${hostPart}:${port}${db}${options.sslmodeDisable ? `${db === '' ? '/' : ''}?sslmode=disable` : ''}`;
}

/**
 * The client tsh runs (and prints) for a route through a local tunnel: `cockroach sql --url ...` for CockroachDB
 * when `cockroach` is installed, else `psql "<url>"`.
 */
export function clientCommand(route: DatabaseRoute, host: string, port: number, hasCockroach: boolean): ClientCommand {
  if (route.protocol === 'cockroachdb' && hasCockroach) {
    return { file: 'cockroach', args: ['sql', '--url', localConnectionUrl(route, host, port, { sslmodeDisable: true })] };
  }
  return { file: 'psql', args: [localConnectionUrl(route, host, port)] };
}

/** A command as a shell line: arguments quoted when they need it (Teleport quotes the psql URL). */
export function formatCommand(cmd: ClientCommand): string {
  return [cmd.file, ...cmd.args.map((a) => (/^[A-Za-z0-9_./:=@-]+$/.test(a) && !a.includes('://') ? a : JSON.stringify(a)))].join(' ');
}
