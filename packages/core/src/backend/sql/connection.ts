import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import type { PoolConfig } from 'pg';
import { BadParameterError } from '../../errors/index.js';

/** libpq's `sslmode` values. `allow` and `prefer` are treated alike: TLS without verification, plain if refused. */
export type SslMode = 'disable' | 'allow' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';

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

/**
 * Parses a libpq connection string: the URL form (`postgres://user:pass@host:5432/db?sslmode=verify-full&...`)
 * or the keyword form (`host=... dbname=... sslmode=...`). Besides libpq's parameters it understands pgx's
 * `pool_max_conns`. `sslrootcert`, `sslcert`, `sslkey` and `sslmode` fall back to `PGSSLROOTCERT`, `PGSSLCERT`,
 * `PGSSLKEY` and `PGSSLMODE`. Throws `bad-parameter` without ever quoting a password.
 */
export function parseConnectionString(connString: string, env: ConnectionEnv = process.env): ConnectionSettings {
  const params = new Map<string, string>();
  let host: string | undefined;
  let port: string | undefined;
  let user: string | undefined;
  let password: string | undefined;
  let database: string | undefined;

  const trimmed = connString.trim();
  if (/^postgres(ql)?:\/\//i.test(trimmed)) {
    let url: URL;
    try {
      url = new URL(trimmed);
    } catch {
      throw new BadParameterError('storage.conn_string is not a valid postgres URL', {
        hint: 'use postgres://user@host:5432/database?sslmode=verify-full&sslrootcert=...',
      });
    }
    host = url.hostname ? decodeURIComponent(url.hostname.replace(/^\[(.*)\]$/, '$1')) : undefined;
    port = url.port || undefined;
    user = url.username ? decodeURIComponent(url.username) : undefined;
    password = url.password ? decodeURIComponent(url.password) : undefined;
    const path = url.pathname.replace(/^\//, '');
    database = path ? decodeURIComponent(path) : undefined;
    for (const [k, v] of url.searchParams) params.set(k, v);
  } else {
    for (const [k, v] of parseKeywordValue(trimmed)) params.set(k, v);
  }

  // Query/keyword parameters override the URL authority, as in libpq.
  host = params.get('host') ?? host;
  port = params.get('port') ?? port;
  user = params.get('user') ?? user;
  password = params.get('password') ?? password;
  database = params.get('dbname') ?? params.get('database') ?? database;

  const sslModeRaw = params.get('sslmode') ?? env['PGSSLMODE'] ?? 'prefer';
  if (!(SSL_MODES as readonly string[]).includes(sslModeRaw)) {
    throw new BadParameterError(`unsupported sslmode ${JSON.stringify(sslModeRaw)}`, {
      hint: `use one of: ${SSL_MODES.join(', ')}`,
    });
  }

  let poolMaxConns = DEFAULT_POOL_MAX_CONNS;
  const poolRaw = params.get('pool_max_conns');
  if (poolRaw !== undefined) {
    poolMaxConns = Number(poolRaw);
    if (!Number.isInteger(poolMaxConns) || poolMaxConns < 1) {
      throw new BadParameterError(`pool_max_conns must be a positive integer, got ${JSON.stringify(poolRaw)}`);
    }
  }

  let portNumber: number | undefined;
  if (port !== undefined) {
    portNumber = Number(port);
    if (!Number.isInteger(portNumber) || portNumber < 1 || portNumber > 65535) {
      throw new BadParameterError(`invalid port ${JSON.stringify(port)} in storage.conn_string`);
    }
  }

  let connectTimeoutMs: number | undefined;
  const timeoutRaw = params.get('connect_timeout');
  if (timeoutRaw !== undefined) {
    const seconds = Number(timeoutRaw);
    if (!Number.isFinite(seconds) || seconds < 0) {
      throw new BadParameterError(`connect_timeout must be a number of seconds, got ${JSON.stringify(timeoutRaw)}`);
    }
    connectTimeoutMs = seconds > 0 ? seconds * 1000 : undefined;
  }

  return {
    host,
    port: portNumber,
    user,
    password,
    database,
    sslMode: sslModeRaw as SslMode,
    sslRootCert: params.get('sslrootcert') ?? env['PGSSLROOTCERT'],
    sslCert: params.get('sslcert') ?? env['PGSSLCERT'],
    sslKey: params.get('sslkey') ?? env['PGSSLKEY'],
    poolMaxConns,
    connectTimeoutMs,
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
