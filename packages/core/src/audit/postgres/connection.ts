import { readFile } from 'node:fs/promises';
import type { ConnectionOptions } from 'node:tls';
import type { PoolConfig } from 'pg';
import { BadParameterError, redact } from '../../errors/index.js';

/** Which SQL database speaks the postgres wire protocol at the other end. */
export type PostgresDialect = 'postgres' | 'cockroachdb';

/** libpq's `sslmode` values, with libpq's meaning. */
export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

/** A parsed `postgres://`, `postgresql://` or `cockroachdb://` URI. */
export interface PostgresUri {
  dialect: PostgresDialect;
  /** Host name, IP address, or a unix socket directory (`?host=/var/run/postgresql`). */
  host: string;
  port: number;
  user: string | undefined;
  password: string | undefined;
  /** Absent means libpq's default: the user name. */
  database: string | undefined;
  /** Absent in the URI means `prefer`, libpq's default. */
  sslmode: SslMode;
  sslrootcert: string | undefined;
  sslcert: string | undefined;
  sslkey: string | undefined;
  sslpassword: string | undefined;
  applicationName: string | undefined;
  /** From `connect_timeout` (seconds). */
  connectTimeoutMs: number | undefined;
  /** The URI without its password: the only form that may appear in a message. */
  redacted: string;
}

const DEFAULT_PORT: Record<PostgresDialect, number> = { postgres: 5432, cockroachdb: 26257 };

/** URI query parameters understood here; the rest are refused so that a typo is not silently ignored. */
const KNOWN_PARAMS = new Set([
  'sslmode',
  'sslrootcert',
  'sslcert',
  'sslkey',
  'sslpassword',
  'application_name',
  'connect_timeout',
  'host',
  'port',
  'user',
  'password',
  'dbname',
]);

/** The URI for messages: no password, whatever its form. */
export function redactUri(uri: string): string {
  try {
    const u = new URL(uri);
    if (u.password) u.password = '***';
    if (u.searchParams.has('password')) u.searchParams.set('password', '***');
    if (u.searchParams.has('sslpassword')) u.searchParams.set('sslpassword', '***');
    return redact(u.toString());
  } catch {
    return redact(uri);
  }
}

/**
 * Parses a postgres connection URI as libpq does (the subset teleport-ts honours): user, password,
 * host, port, database, and the query parameters `sslmode`, `sslrootcert`, `sslcert`, `sslkey`,
 * `sslpassword`, `application_name`, `connect_timeout`, `host`, `port`, `user`, `password`, `dbname`.
 * `cockroachdb://` is read as `postgresql://` with CockroachDB's default port 26257.
 *
 * Pure: certificate files are read later by {@link toPoolConfigs}. Errors never carry the password.
 *
 * @example
 * ```ts
 * const u = parsePostgresUri('postgres://teleport@db.example.com/teleport_audit?sslmode=verify-full&sslrootcert=/etc/ca.pem');
 * ```
 */
export function parsePostgresUri(uri: string): PostgresUri {
  const redacted = redactUri(uri);
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new BadParameterError(`invalid postgres connection URI ${JSON.stringify(redacted)}`);
  }
  let dialect: PostgresDialect;
  switch (url.protocol) {
    case 'postgres:':
    case 'postgresql:':
      dialect = 'postgres';
      break;
    case 'cockroachdb:':
      dialect = 'cockroachdb';
      break;
    default:
      throw new BadParameterError(`unsupported scheme in ${JSON.stringify(redacted)}`, {
        hint: 'use postgres://, postgresql:// or cockroachdb://',
      });
  }
  const q = url.searchParams;
  for (const key of q.keys()) {
    if (!KNOWN_PARAMS.has(key)) {
      throw new BadParameterError(`unsupported parameter ${JSON.stringify(key)} in ${JSON.stringify(redacted)}`, {
        hint: `supported parameters: ${[...KNOWN_PARAMS].join(', ')}`,
      });
    }
  }
  const decode = (s: string): string => {
    try {
      return decodeURIComponent(s);
    } catch {
      throw new BadParameterError(`invalid percent-encoding in ${JSON.stringify(redacted)}`);
    }
  };
  const nonEmpty = (s: string | null | undefined): string | undefined => (s === null || s === undefined || s === '' ? undefined : s);

  let host = q.get('host') ?? decode(url.hostname);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (host === '') host = 'localhost';
  const portText = q.get('port') ?? url.port;
  const port = portText === '' ? DEFAULT_PORT[dialect] : Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new BadParameterError(`invalid port in ${JSON.stringify(redacted)}`);

  const sslmodeText = q.get('sslmode') ?? 'prefer';
  if (!(SSL_MODES as readonly string[]).includes(sslmodeText)) {
    throw new BadParameterError(`invalid sslmode ${JSON.stringify(sslmodeText)} in ${JSON.stringify(redacted)}`, {
      hint: `use one of: ${SSL_MODES.join(', ')}`,
    });
  }
  const timeoutText = q.get('connect_timeout');
  let connectTimeoutMs: number | undefined;
  if (timeoutText !== null) {
    const seconds = Number(timeoutText);
    if (!Number.isFinite(seconds) || seconds < 0) throw new BadParameterError(`invalid connect_timeout in ${JSON.stringify(redacted)}`);
    // libpq: 0 means wait forever; pg: 0 means no timeout.
    connectTimeoutMs = Math.round(seconds * 1000);
  }
  const path = url.pathname.replace(/^\//, '');
  return {
    dialect,
    host,
    port,
    user: nonEmpty(q.get('user') ?? decode(url.username)),
    password: nonEmpty(q.get('password') ?? decode(url.password)),
    database: nonEmpty(q.get('dbname') ?? decode(path)),
    sslmode: sslmodeText as SslMode,
    sslrootcert: nonEmpty(q.get('sslrootcert')),
    sslcert: nonEmpty(q.get('sslcert')),
    sslkey: nonEmpty(q.get('sslkey')),
    sslpassword: nonEmpty(q.get('sslpassword')),
    applicationName: nonEmpty(q.get('application_name')),
    connectTimeoutMs,
    redacted,
  };
}

/** How one connection attempt treats TLS: `false` for plaintext, else the options for `tls.connect`. */
export type TlsPlan = false | ConnectionOptions;

/**
 * The TLS plans to try, in order, for a URI (libpq semantics):
 * - `disable`: plaintext;
 * - `allow`: plaintext, then TLS without verification when the server refuses plaintext;
 * - `prefer` (the default): TLS without verification, then plaintext when the server has no TLS;
 * - `require`: TLS without verification, or `verify-ca` when `sslrootcert` is given;
 * - `verify-ca`: TLS, chain verified against `sslrootcert` (or the system roots), host name not checked;
 * - `verify-full`: TLS, chain and host name verified.
 * `sslrootcert=system` means the system roots. Client certificates come from `sslcert`/`sslkey`.
 * Unix sockets never use TLS.
 */
export async function tlsPlans(u: PostgresUri): Promise<TlsPlan[]> {
  if (u.host.startsWith('/') || u.sslmode === 'disable') return [false];
  const base: ConnectionOptions = {};
  const read = async (file: string, what: string): Promise<string> => {
    try {
      return await readFile(file, 'utf8');
    } catch (err) {
      throw new BadParameterError(`cannot read ${what} ${file} given in ${JSON.stringify(u.redacted)}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, {
        cause: err,
      });
    }
  };
  if (u.sslcert !== undefined || u.sslkey !== undefined) {
    if (u.sslcert === undefined || u.sslkey === undefined) {
      throw new BadParameterError(`sslcert and sslkey must be given together in ${JSON.stringify(u.redacted)}`);
    }
    base.cert = await read(u.sslcert, 'sslcert');
    base.key = await read(u.sslkey, 'sslkey');
    if (u.sslpassword !== undefined) base.passphrase = u.sslpassword;
  }
  const rootFile = u.sslrootcert !== undefined && u.sslrootcert !== 'system' ? u.sslrootcert : undefined;
  const ca = rootFile === undefined ? undefined : await read(rootFile, 'sslrootcert');
  const unverified: ConnectionOptions = { ...base, rejectUnauthorized: false };
  const verifyCa: ConnectionOptions = { ...base, ...(ca ? { ca } : {}), rejectUnauthorized: true, checkServerIdentity: () => undefined };
  const verifyFull: ConnectionOptions = { ...base, ...(ca ? { ca } : {}), rejectUnauthorized: true };
  switch (u.sslmode) {
    case 'allow':
      return [false, unverified];
    case 'prefer':
      return [unverified, false];
    case 'require':
      return [u.sslrootcert !== undefined ? verifyCa : unverified];
    case 'verify-ca':
      return [verifyCa];
    case 'verify-full':
      return [verifyFull];
  }
}

/** The pg pool configuration for a URI and one TLS plan; `database` overrides the URI's. */
export function toPoolConfig(u: PostgresUri, tls: TlsPlan, overrides: { database?: string; max?: number } = {}): PoolConfig {
  const config: PoolConfig = {
    host: u.host,
    port: u.port,
    ssl: tls,
    max: overrides.max ?? 10,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: u.connectTimeoutMs ?? 15_000,
    application_name: u.applicationName ?? 'teleport-ts-audit',
  };
  if (u.user !== undefined) config.user = u.user;
  if (u.password !== undefined) config.password = u.password;
  const database = overrides.database ?? u.database;
  if (database !== undefined) config.database = database;
  return config;
}
