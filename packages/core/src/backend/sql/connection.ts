import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import type { PoolConfig } from 'pg';
import { BadParameterError } from '../../errors/index.js';

/** libpq's `sslmode` values. `allow` and `prefer` are treated alike: TLS without verification, plain if refused. */
type SslMode = 'disable' | 'allow' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';

const SSL_MODES: readonly SslMode[] = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'];

/** Default pool size when the connection string has no `pool_max_conns`. */
export const DEFAULT_POOL_MAX_CONNS = 20;

/** A parsed connection string: what `pg` needs, plus what we decide ourselves. */
export interface ConnectionSettings {
  host: string | undefined;
  port: number | undefined;
  user: string | undefined;
  password: string | undefined;
  database: string | undefined;
  sslMode: SslMode;
  /** Paths of the TLS files, from the URL or the `PGSSL*` environment variables. */
  sslRootCert: string | undefined;
  sslCert: string | undefined;
  sslKey: string | undefined;
  poolMaxConns: number;
  connectTimeoutMs: number | undefined;
  applicationName: string | undefined;
  /** Runtime parameters sent at startup (`-c name=value ...`). */
  options: string | undefined;
}

/** Environment consulted for settings missing from the URL (libpq's names). */
export type ConnectionEnv = Record<string, string | undefined>;

/** The parts of a connection string before they are checked: the URL authority, then its parameters. */
interface RawConnection {
  authority: { host?: string; port?: string; user?: string; password?: string; database?: string };
  params: Map<string, string>;
}

/** The URL form (`postgres://user:pass@host:5432/db?k=v`) or the keyword form (`host=... k=v`), split into parts. */
function readConnectionString(connString: string): RawConnection {
  const trimmed = connString.trim();
  if (!/^postgres(ql)?:\/\//i.test(trimmed)) return { authority: {}, params: new Map(parseKeywordValue(trimmed)) };
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    throw new BadParameterError('storage.conn_string is not a valid postgres URL', {
      hint: 'use postgres://user@host:5432/database?sslmode=verify-full&sslrootcert=...',
    });
  }
  const path = url.pathname.replace(/^\//, '');
  const authority: RawConnection['authority'] = {};
  if (url.hostname) authority.host = decodeURIComponent(url.hostname.replace(/^\[(.*)\]$/, '$1'));
  if (url.port) authority.port = url.port;
  if (url.username) authority.user = decodeURIComponent(url.username);
  if (url.password) authority.password = decodeURIComponent(url.password);
  if (path) authority.database = decodeURIComponent(path);
  return { authority, params: new Map(url.searchParams) };
}

function checkSslMode(raw: string): SslMode {
  if (!(SSL_MODES as readonly string[]).includes(raw)) {
    throw new BadParameterError(`unsupported sslmode ${JSON.stringify(raw)}`, { hint: `use one of: ${SSL_MODES.join(', ')}` });
  }
  return raw as SslMode;
}

function checkPoolMaxConns(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_POOL_MAX_CONNS;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new BadParameterError(`pool_max_conns must be a positive integer, got ${JSON.stringify(raw)}`);
  return n;
}

function checkPort(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new BadParameterError(`invalid port ${JSON.stringify(raw)} in storage.conn_string`);
  return n;
}

/** `connect_timeout` in seconds as milliseconds; `0` (libpq's "wait forever") reads as unset. */
function checkConnectTimeout(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds < 0) throw new BadParameterError(`connect_timeout must be a number of seconds, got ${JSON.stringify(raw)}`);
  return seconds > 0 ? seconds * 1000 : undefined;
}

/**
 * Parses a libpq connection string: the URL form (`postgres://user:pass@host:5432/db?sslmode=verify-full&...`)
 * or the keyword form (`host=... dbname=... sslmode=...`). Besides libpq's parameters it understands pgx's
 * `pool_max_conns`. `sslrootcert`, `sslcert`, `sslkey` and `sslmode` fall back to `PGSSLROOTCERT`, `PGSSLCERT`,
 * `PGSSLKEY` and `PGSSLMODE`. Throws `bad-parameter` without ever quoting a password.
 *
 * @example
 * ```ts
 * parseConnectionString('postgres://teleport@db:5432/teleport?sslmode=verify-full').sslMode; // 'verify-full'
 * ```
 */
export function parseConnectionString(connString: string, env: ConnectionEnv = process.env): ConnectionSettings {
  const { authority, params } = readConnectionString(connString);
  // Query/keyword parameters override the URL authority, as in libpq.
  const sslMode = checkSslMode(params.get('sslmode') ?? env['PGSSLMODE'] ?? 'prefer');
  const poolMaxConns = checkPoolMaxConns(params.get('pool_max_conns'));
  return {
    host: params.get('host') ?? authority.host,
    port: checkPort(params.get('port') ?? authority.port),
    user: params.get('user') ?? authority.user,
    password: params.get('password') ?? authority.password,
    database: params.get('dbname') ?? params.get('database') ?? authority.database,
    sslMode,
    sslRootCert: params.get('sslrootcert') ?? env['PGSSLROOTCERT'],
    sslCert: params.get('sslcert') ?? env['PGSSLCERT'],
    sslKey: params.get('sslkey') ?? env['PGSSLKEY'],
    poolMaxConns,
    connectTimeoutMs: checkConnectTimeout(params.get('connect_timeout')),
    applicationName: params.get('application_name'),
    options: params.get('options'),
  };
}

/** libpq keyword/value form: `host=localhost dbname='my db' sslmode=require`. */
function parseKeywordValue(text: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    while (i < n && /\s/.test(text[i]!)) i++;
    if (i >= n) break;
    const eq = text.indexOf('=', i);
    if (eq < 0) throw new BadParameterError('storage.conn_string is neither a postgres URL nor key=value pairs');
    const name = text.slice(i, eq).trim();
    i = eq + 1;
    while (i < n && text[i] === ' ') i++;
    let value = '';
    if (text[i] === "'") {
      i++;
      while (i < n && text[i] !== "'") {
        if (text[i] === '\\' && i + 1 < n) i++;
        value += text[i];
        i++;
      }
      i++;
    } else {
      while (i < n && !/\s/.test(text[i]!)) {
        if (text[i] === '\\' && i + 1 < n) i++;
        value += text[i];
        i++;
      }
    }
    out.push([name, value]);
  }
  return out;
}

/** Reads a file named by a TLS parameter, with an error that names the parameter, not the content. */
function readTlsFile(param: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new BadParameterError(`cannot read ${param} file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, {
      cause: err,
    });
  }
}

/**
 * TLS options for `pg` from the settings, reading the certificate files ourselves (pg's own handling of
 * these URL parameters is partial). `verify-ca` checks the chain but not the host name; `require` with a
 * root certificate behaves like `verify-ca`, as in libpq. Returns `false` for `disable`.
 */
export function tlsOptionsFor(settings: ConnectionSettings): ConnectionOptions | false {
  if (settings.sslMode === 'disable') return false;
  const tls: ConnectionOptions = {};
  if (settings.sslCert !== undefined || settings.sslKey !== undefined) {
    if (settings.sslCert === undefined || settings.sslKey === undefined) {
      throw new BadParameterError('sslcert and sslkey must be set together');
    }
    tls.cert = readTlsFile('sslcert', settings.sslCert);
    tls.key = readTlsFile('sslkey', settings.sslKey);
  }
  const hasRoot = settings.sslRootCert !== undefined && settings.sslRootCert !== '';
  const useSystemRoots = settings.sslRootCert === 'system';
  const effective =
    settings.sslMode === 'require' && hasRoot && !useSystemRoots ? 'verify-ca' : settings.sslMode;
  switch (effective) {
    case 'allow':
    case 'prefer':
    case 'require':
      tls.rejectUnauthorized = false;
      break;
    case 'verify-ca':
    case 'verify-full':
      if (hasRoot && !useSystemRoots) tls.ca = readTlsFile('sslrootcert', settings.sslRootCert!);
      tls.rejectUnauthorized = true;
      if (effective === 'verify-ca') tls.checkServerIdentity = () => undefined;
      break;
  }
  return tls;
}

/** `pg.Pool` configuration for the settings; `ssl` decides TLS (see {@link tlsOptionsFor}). */
export function poolConfigFor(
  settings: ConnectionSettings,
  overrides: {
    database?: string | undefined;
    ssl?: ConnectionOptions | false;
    max?: number;
    options?: string;
    application_name?: string;
  } = {},
): PoolConfig {
  const ssl = overrides.ssl ?? tlsOptionsFor(settings);
  const options = [settings.options, overrides.options].filter((o) => o !== undefined && o !== '').join(' ');
  return {
    ...(settings.host !== undefined ? { host: settings.host } : {}),
    ...(settings.port !== undefined ? { port: settings.port } : {}),
    ...(settings.user !== undefined ? { user: settings.user } : {}),
    ...(settings.password !== undefined ? { password: settings.password } : {}),
    database: overrides.database ?? settings.database,
    ssl,
    max: overrides.max ?? settings.poolMaxConns,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    idleTimeoutMillis: 60_000,
    connectionTimeoutMillis: settings.connectTimeoutMs ?? 15_000,
    application_name: overrides.application_name ?? settings.applicationName ?? 'teleport-ts',
    ...(options ? { options } : {}),
  };
}

/** Quotes an SQL identifier (`"my ""db"""`). */
export function quoteIdentifier(name: string): string {
  return '"' + name.replace(/"/g, '""') + '"';
}

/** Quotes an SQL string literal (`'it''s'`). */
export function quoteLiteral(text: string): string {
  return "'" + text.replace(/'/g, "''") + "'";
}
