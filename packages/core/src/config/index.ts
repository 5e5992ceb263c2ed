import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { parse as parseYaml } from 'yaml';
import { BadParameterError, NotFoundError } from '../errors/index.js';
import type { StorageConfig } from '../backend/types.js';
import {
  JOIN_TOKEN_ROLES,
  SECOND_FACTORS,
  parseSystemRoles,
  type JoinTokenRole,
  type SecondFactor,
} from '../types/index.js';

/** Storage types teleport.yaml accepts. */
export const STORAGE_TYPES = ['memory', 'sqlite', 'dir', 'postgres', 'postgresql', 'cockroachdb'] as const;

/** Log severities, lowest first (`teleport.log.severity`, case-insensitive; `WARNING` reads as `warn`). */
export const LOG_SEVERITIES = ['debug', 'info', 'warn', 'error'] as const;
export type LogSeverity = (typeof LOG_SEVERITIES)[number];

/** Log line formats (`teleport.log.format.output`). */
export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** `teleport.log`, defaults filled: stderr, info, text. */
export interface LogConfig {
  /** `stderr`, `stdout`, or a file path. */
  output: string;
  severity: LogSeverity;
  format: LogFormat;
}

/** The default `teleport.log`. */
export const DEFAULT_LOG_CONFIG: Readonly<LogConfig> = Object.freeze({ output: 'stderr', severity: 'info', format: 'text' });

/** The auth API's default listen address (Teleport's). */
export const DEFAULT_AUTH_LISTEN_ADDR = '0.0.0.0:3025';
export const DEFAULT_AUTH_PORT = 3025;
/** The proxy's default web listen address (Teleport's). */
export const DEFAULT_PROXY_WEB_LISTEN_ADDR = '0.0.0.0:3080';
export const DEFAULT_PROXY_WEB_PORT = 3080;

/**
 * A static join token from `auth_service.tokens` (`"node,db:<secret>"`). The secret never appears in a
 * message about it.
 */
export interface StaticToken {
  readonly roles: readonly JoinTokenRole[];
  readonly token: string;
}

/** `auth_service.authentication`. */
export interface AuthenticationConfig {
  type?: string;
  second_factor?: SecondFactor;
}

/** Database protocols the db service serves (`db_service.databases[].protocol`, `--db-protocol`). */
export const DATABASE_PROTOCOLS = ['postgres', 'cockroachdb'] as const;
export type DatabaseProtocol = (typeof DATABASE_PROTOCOLS)[number];

/** How the db service verifies a database's server certificate (`db_service.databases[].tls.mode`). */
export const DATABASE_TLS_MODES = ['verify-full', 'verify-ca', 'insecure'] as const;
export type DatabaseTlsMode = (typeof DATABASE_TLS_MODES)[number];

/** One `db_service.databases` entry (Teleport's keys). */
export interface DatabaseFileConfig {
  name: string;
  description?: string;
  protocol: DatabaseProtocol;
  /** `host:port` of the database. */
  uri: string;
  static_labels?: Record<string, string>;
  tls?: {
    /** Default `verify-full`: the chain and the host name (or `server_name`). */
    mode?: DatabaseTlsMode;
    /** CA certificate(s) to verify the database with instead of the cluster's `db` CA. */
    ca_cert_file?: string;
    /** Name to verify the server certificate against instead of the host of `uri`. */
    server_name?: string;
  };
}

/** One `proxy_service.https_keypairs` entry: the web listener's certificate chain and key, PEM files. */
export interface HttpsKeyPair {
  key_file: string;
  cert_file: string;
}

/** `proxy_service`. */
export interface ProxyServiceConfig {
  enabled?: boolean;
  /** `host:port` the web listener binds. */
  web_listen_addr?: string;
  /** `host[:port]` addresses users reach the proxy at; the first is where invite links point. */
  public_addr?: string[];
  /** Certificates to serve instead of a self-signed one (the first is served). */
  https_keypairs?: HttpsKeyPair[];
}

/** The subset of teleport.yaml (v3) this release reads, validated and with defaults filled. */
export interface FileConfig {
  version: string;
  teleport: {
    nodename?: string;
    data_dir?: string;
    /** Join token of an agent (or a path to a file holding it, as in Teleport). A secret. */
    auth_token?: string;
    /** `host:port` of the auth server (or proxy) an agent joins. */
    auth_server?: string;
    /** CA pins (`sha256:<hex>`) an agent checks the auth server's CA against. */
    ca_pin?: string[];
    storage?: StorageConfig;
    log?: LogConfig;
    /** `host:port` of the diagnostic HTTP endpoint (`/healthz`, `/readyz`). */
    diag_addr?: string;
  };
  auth_service?: {
    enabled?: boolean;
    listen_addr?: string;
    public_addr?: string[];
    cluster_name?: string;
    tokens?: StaticToken[];
    authentication?: AuthenticationConfig;
  };
  proxy_service?: ProxyServiceConfig;
  db_service?: { enabled?: boolean; databases?: DatabaseFileConfig[] };
  ssh_service?: { enabled?: boolean };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optString(obj: Record<string, unknown>, key: string, where: string): string | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new BadParameterError(`${where}.${key} must be a string`);
  return v;
}

/** A string or a list of strings (Teleport accepts both for addresses and pins). */
function optStringList(obj: Record<string, unknown>, key: string, where: string): string[] | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || !list.every((x) => typeof x === 'string')) {
    throw new BadParameterError(`${where}.${key} must be a string or a list of strings`);
  }
  return list.filter((s) => s !== '');
}

const TRUE_WORDS = ['yes', 'true', 'on', '1'];
const FALSE_WORDS = ['no', 'false', 'off', '0'];

/** `enabled: yes` as Teleport writes it (a string), or a YAML boolean. */
function optEnabled(obj: Record<string, unknown>, where: string): boolean | undefined {
  const v = obj['enabled'];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') {
    const w = v.trim().toLowerCase();
    if (TRUE_WORDS.includes(w)) return true;
    if (FALSE_WORDS.includes(w)) return false;
  }
  throw new BadParameterError(`${where}.enabled must be "yes" or "no"`);
}

/** A `host:port` address; throws naming the field unless it parses. */
function optAddr(obj: Record<string, unknown>, key: string, where: string): string | undefined {
  const v = optString(obj, key, where);
  if (v === undefined || v === '') return undefined;
  try {
    parseHostPort(v, 1);
  } catch (err) {
    throw new BadParameterError(`${where}.${key}: ${(err as Error).message}`);
  }
  return v;
}

/**
 * Splits `host:port` (`[::1]:3025`, `0.0.0.0:3025`, `example.com`) into host and port, using
 * `defaultPort` when none is given. Throws {@link BadParameterError} for a malformed address.
 *
 * @example
 * ```ts
 * parseHostPort('[::]:3025', 3025); // { host: '::', port: 3025 }
 * parseHostPort('auth.example.com', 3025); // { host: 'auth.example.com', port: 3025 }
 * ```
 */
export function parseHostPort(addr: string, defaultPort: number): { host: string; port: number } {
  const text = addr.trim().replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '');
  let host: string;
  let portText: string | undefined;
  const bracket = /^\[([^\]]+)\](?::(\d*))?$/.exec(text);
  if (bracket) {
    host = bracket[1]!;
    portText = bracket[2];
  } else if (isIP(text) === 6) {
    host = text;
  } else {
    const i = text.lastIndexOf(':');
    host = i < 0 ? text : text.slice(0, i);
    portText = i < 0 ? undefined : text.slice(i + 1);
  }
  if (portText !== undefined && portText !== '' && !/^\d{1,5}$/.test(portText)) {
    throw new BadParameterError(`invalid address ${JSON.stringify(addr.slice(0, 128))}: bad port`);
  }
  const port = portText === undefined || portText === '' ? defaultPort : Number(portText);
  if (port > 65535) throw new BadParameterError(`invalid address ${JSON.stringify(addr.slice(0, 128))}: bad port`);
  if (host === '' || /[\s/]/.test(host)) throw new BadParameterError(`invalid address ${JSON.stringify(addr.slice(0, 128))}: missing host`);
  return { host, port };
}

/**
 * Parses one `auth_service.tokens` entry, Teleport's `"<roles>:<secret>"` (`"node,db:9f2c..."`). The
 * secret is never quoted in an error.
 *
 * @example
 * ```ts
 * parseStaticToken('node,db:9f2c1d'); // { roles: ['Node', 'Db'], token: '9f2c1d' }
 * ```
 */
export function parseStaticToken(entry: string): StaticToken {
  if (typeof entry !== 'string') throw new BadParameterError('auth_service.tokens entries must be strings such as "node,db:<token>"');
  const i = entry.indexOf(':');
  const rolesText = i < 0 ? '' : entry.slice(0, i);
  const token = i < 0 ? '' : entry.slice(i + 1).trim();
  if (rolesText.trim() === '' || token === '') {
    throw new BadParameterError('auth_service.tokens entries must look like "node,db:<token>"');
  }
  const roles = parseSystemRoles(rolesText);
  for (const r of roles) {
    if (!(JOIN_TOKEN_ROLES as readonly string[]).includes(r)) {
      throw new BadParameterError(`auth_service.tokens: a token cannot grant ${r}`, { hint: `use ${JOIN_TOKEN_ROLES.join(', ')}` });
    }
  }
  return Object.freeze({ roles: Object.freeze(roles as JoinTokenRole[]), token });
}

/** Validates a `teleport.storage` block. */
export function parseStorageConfig(raw: unknown): StorageConfig {
  if (!isRecord(raw)) throw new BadParameterError('teleport.storage must be a mapping');
  const where = 'teleport.storage';
  const type = optString(raw, 'type', where) ?? 'sqlite';
  if (!(STORAGE_TYPES as readonly string[]).includes(type)) {
    throw new BadParameterError(`unsupported storage type ${JSON.stringify(type)}`, {
      hint: `use one of: ${STORAGE_TYPES.filter((t) => t !== 'memory').join(', ')}`,
    });
  }
  const out: StorageConfig = { type: type as StorageConfig['type'] };
  const path = optString(raw, 'path', where);
  if (path !== undefined) out.path = path;
  const conn = optString(raw, 'conn_string', where);
  if (conn !== undefined) out.conn_string = conn;
  const feed = optString(raw, 'change_feed_conn_string', where);
  if (feed !== undefined) out.change_feed_conn_string = feed;
  const ttl = optString(raw, 'ttl_job_cron', where);
  if (ttl !== undefined) out.ttl_job_cron = ttl;
  const audit = raw['audit_events_uri'];
  if (audit !== undefined) {
    const list = typeof audit === 'string' ? [audit] : audit;
    if (!Array.isArray(list) || !list.every((x) => typeof x === 'string')) {
      throw new BadParameterError(`${where}.audit_events_uri must be a string or a list of strings`);
    }
    out.audit_events_uri = list;
  }
  const sessions = optString(raw, 'audit_sessions_uri', where);
  if (sessions !== undefined) out.audit_sessions_uri = sessions;
  if ((out.type === 'postgres' || out.type === 'postgresql' || out.type === 'cockroachdb') && !out.conn_string) {
    throw new BadParameterError(`${where}.conn_string is required for storage type ${out.type}`);
  }
  return Object.freeze(out);
}

/** Validates a `teleport.log` block and fills its defaults. */
export function parseLogConfig(raw: unknown): LogConfig {
  if (raw === undefined || raw === null) return { ...DEFAULT_LOG_CONFIG };
  if (!isRecord(raw)) throw new BadParameterError('teleport.log must be a mapping');
  const where = 'teleport.log';
  const output = optString(raw, 'output', where) || DEFAULT_LOG_CONFIG.output;
  let severity = (optString(raw, 'severity', where) ?? DEFAULT_LOG_CONFIG.severity).trim().toLowerCase();
  if (severity === 'warning') severity = 'warn';
  if (severity === 'trace') severity = 'debug';
  if (!(LOG_SEVERITIES as readonly string[]).includes(severity)) {
    throw new BadParameterError(`${where}.severity must be one of ${LOG_SEVERITIES.map((s) => s.toUpperCase()).join(', ')}`);
  }
  let format: string = DEFAULT_LOG_CONFIG.format;
  const rawFormat = raw['format'];
  if (rawFormat !== undefined && rawFormat !== null) {
    if (!isRecord(rawFormat)) throw new BadParameterError(`${where}.format must be a mapping such as { output: json }`);
    format = (optString(rawFormat, 'output', `${where}.format`) ?? format).trim().toLowerCase();
    if (!(LOG_FORMATS as readonly string[]).includes(format)) {
      throw new BadParameterError(`${where}.format.output must be text or json`);
    }
  }
  return { output, severity: severity as LogSeverity, format: format as LogFormat };
}

function parseAuthService(raw: Record<string, unknown>): NonNullable<FileConfig['auth_service']> {
  const where = 'auth_service';
  const out: NonNullable<FileConfig['auth_service']> = {};
  const enabled = optEnabled(raw, where);
  if (enabled !== undefined) out.enabled = enabled;
  const listen = optAddr(raw, 'listen_addr', where);
  if (listen !== undefined) out.listen_addr = listen;
  const publicAddr = optStringList(raw, 'public_addr', where);
  if (publicAddr !== undefined) out.public_addr = publicAddr;
  const cluster = optString(raw, 'cluster_name', where);
  if (cluster !== undefined && cluster.trim() !== '') {
    if (/[\s/]/.test(cluster.trim())) throw new BadParameterError(`${where}.cluster_name must not contain spaces or "/"`);
    out.cluster_name = cluster.trim();
  }
  const tokens = raw['tokens'];
  if (tokens !== undefined && tokens !== null) {
    if (!Array.isArray(tokens)) throw new BadParameterError(`${where}.tokens must be a list such as ["node,db:<token>"]`);
    out.tokens = tokens.map((t) => parseStaticToken(t as string));
  }
  const authn = raw['authentication'];
  if (authn !== undefined && authn !== null) {
    if (!isRecord(authn)) throw new BadParameterError(`${where}.authentication must be a mapping`);
    const a: AuthenticationConfig = {};
    const type = optString(authn, 'type', `${where}.authentication`);
    if (type !== undefined) a.type = type;
    // YAML 1.1 writes `second_factor: off` as a boolean.
    let sf = authn['second_factor'];
    if (sf === false) sf = 'off';
    if (sf === true) sf = 'on';
    if (sf !== undefined && sf !== null) {
      if (typeof sf !== 'string' || !(SECOND_FACTORS as readonly string[]).includes(sf)) {
        throw new BadParameterError(`${where}.authentication.second_factor must be one of ${SECOND_FACTORS.join(', ')}`);
      }
      a.second_factor = sf as SecondFactor;
    }
    out.authentication = a;
  }
  return out;
}

/** `proxy_service.https_keypairs`: a list of `{ key_file, cert_file }`, both required. */
function parseHttpsKeyPairs(raw: unknown, where: string): HttpsKeyPair[] {
  if (!Array.isArray(raw)) throw new BadParameterError(`${where} must be a list of { key_file, cert_file }`);
  return raw.map((entry, i) => {
    const at = `${where}[${i}]`;
    if (!isRecord(entry)) throw new BadParameterError(`${at} must be a mapping with key_file and cert_file`);
    const pair: Partial<HttpsKeyPair> = {};
    for (const key of ['key_file', 'cert_file'] as const) {
      const file = optString(entry, key, at)?.trim();
      if (!file) throw new BadParameterError(`${at}.${key} is required`);
      pair[key] = file;
    }
    return pair as HttpsKeyPair;
  });
}

function parseProxyService(raw: Record<string, unknown>): NonNullable<FileConfig['proxy_service']> {
  const where = 'proxy_service';
  const out: NonNullable<FileConfig['proxy_service']> = {};
  const enabled = optEnabled(raw, where);
  if (enabled !== undefined) out.enabled = enabled;
  const web = optAddr(raw, 'web_listen_addr', where);
  if (web !== undefined) out.web_listen_addr = web;
  const publicAddr = optStringList(raw, 'public_addr', where);
  if (publicAddr !== undefined) {
    for (const addr of publicAddr) {
      try {
        parseHostPort(addr, DEFAULT_PROXY_WEB_PORT);
      } catch (err) {
        throw new BadParameterError(`${where}.public_addr: ${(err as Error).message}`);
      }
    }
    out.public_addr = publicAddr;
  }
  const pairs = raw['https_keypairs'];
  if (pairs !== undefined && pairs !== null) {
    const parsed = parseHttpsKeyPairs(pairs, `${where}.https_keypairs`);
    if (parsed.length > 0) out.https_keypairs = parsed;
  }
  return out;
}

/** A database name: letters, digits, `.`, `_`, `-` (it becomes a key segment and a certificate attribute). */
const DATABASE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** Teleport's label keys. */
const LABEL_KEY = /^[A-Za-z0-9/._:*-]{1,63}$/;

/**
 * Validates one database (a `db_service.databases` entry, or one built from `--db-*` flags): name, protocol,
 * `host:port` URI, labels and TLS settings, naming the field that is wrong.
 *
 * @example
 * ```ts
 * parseDatabaseConfig({ name: 'orders', protocol: 'postgres', uri: 'db.example.com:5432' }, 'db_service.databases[0]');
 * ```
 */
export function parseDatabaseConfig(raw: unknown, where: string): DatabaseFileConfig {
  if (!isRecord(raw)) throw new BadParameterError(`${where} must be a mapping with name, protocol and uri`);
  const name = optString(raw, 'name', where)?.trim() ?? '';
  if (!DATABASE_NAME.test(name)) {
    throw new BadParameterError(`${where}.name ${JSON.stringify(name.slice(0, 128))} must be letters, digits, ".", "_" or "-"`, { hint: 'every database needs a name, e.g. --db-name=orders' });
  }
  const protocol = optString(raw, 'protocol', where)?.trim() ?? '';
  if (!(DATABASE_PROTOCOLS as readonly string[]).includes(protocol)) {
    throw new BadParameterError(`${where}.protocol ${JSON.stringify(protocol.slice(0, 64))} is not supported`, { hint: `use one of: ${DATABASE_PROTOCOLS.join(', ')}` });
  }
  const uri = optString(raw, 'uri', where)?.trim() ?? '';
  if (uri === '') throw new BadParameterError(`${where}.uri is required`, { hint: 'the database address, e.g. --db-uri=localhost:5432' });
  try {
    parseHostPort(uri, 5432);
  } catch (err) {
    throw new BadParameterError(`${where}.uri: ${(err as Error).message}`);
  }
  const out: DatabaseFileConfig = { name, protocol: protocol as DatabaseProtocol, uri };
  const description = optString(raw, 'description', where);
  if (description !== undefined && description !== '') out.description = description;
  const labels = raw['static_labels'];
  if (labels !== undefined && labels !== null) {
    if (!isRecord(labels)) throw new BadParameterError(`${where}.static_labels must be a mapping of label names to values`);
    const parsed: Record<string, string> = {};
    for (const [k, v] of Object.entries(labels)) {
      if (!LABEL_KEY.test(k)) throw new BadParameterError(`${where}.static_labels: invalid label key ${JSON.stringify(k.slice(0, 64))}`);
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
        throw new BadParameterError(`${where}.static_labels.${k} must be a string`);
      }
      parsed[k] = String(v);
    }
    out.static_labels = parsed;
  }
  const tls = raw['tls'];
  if (tls !== undefined && tls !== null) {
    if (!isRecord(tls)) throw new BadParameterError(`${where}.tls must be a mapping`);
    const t: NonNullable<DatabaseFileConfig['tls']> = {};
    const mode = optString(tls, 'mode', `${where}.tls`);
    if (mode !== undefined && mode !== '') {
      if (!(DATABASE_TLS_MODES as readonly string[]).includes(mode)) {
        throw new BadParameterError(`${where}.tls.mode must be one of ${DATABASE_TLS_MODES.join(', ')}`);
      }
      t.mode = mode as DatabaseTlsMode;
    }
    const caFile = optString(tls, 'ca_cert_file', `${where}.tls`);
    if (caFile !== undefined && caFile !== '') t.ca_cert_file = caFile;
    const serverName = optString(tls, 'server_name', `${where}.tls`);
    if (serverName !== undefined && serverName !== '') t.server_name = serverName;
    out.tls = t;
  }
  return out;
}

function parseDbService(raw: Record<string, unknown>): NonNullable<FileConfig['db_service']> {
  const where = 'db_service';
  const out: NonNullable<FileConfig['db_service']> = parseEnabledOnly(raw, where);
  const databases = raw['databases'];
  if (databases !== undefined && databases !== null) {
    if (!Array.isArray(databases)) throw new BadParameterError(`${where}.databases must be a list`);
    const parsed = databases.map((d, i) => parseDatabaseConfig(d, `${where}.databases[${i}]`));
    const names = new Set<string>();
    for (const d of parsed) {
      if (names.has(d.name)) throw new BadParameterError(`${where}.databases: the name ${JSON.stringify(d.name)} is used twice`);
      names.add(d.name);
    }
    out.databases = parsed;
  }
  return out;
}

/** Sections whose other keys later releases read: only `enabled` for now. */
function parseEnabledOnly(raw: Record<string, unknown>, where: string): { enabled?: boolean } {
  const enabled = optEnabled(raw, where);
  return enabled === undefined ? {} : { enabled };
}

/** Parses and validates teleport.yaml text. */
export function parseConfig(text: string, source = 'teleport.yaml'): FileConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    const msg = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new BadParameterError(`failed to parse ${source}: ${msg}`);
  }
  if (doc === null || doc === undefined) doc = {};
  if (!isRecord(doc)) throw new BadParameterError(`${source} must be a YAML mapping`);
  const version = doc['version'] ?? 'v3';
  if (version !== 'v3') throw new BadParameterError(`${source}: unsupported config version ${JSON.stringify(version)}, use v3`);
  const teleport = doc['teleport'] ?? {};
  if (!isRecord(teleport)) throw new BadParameterError(`${source}: teleport must be a mapping`);
  const cfg: FileConfig = { version: 'v3', teleport: {} };
  const nodename = optString(teleport, 'nodename', 'teleport');
  if (nodename !== undefined) cfg.teleport.nodename = nodename;
  const dataDir = optString(teleport, 'data_dir', 'teleport');
  if (dataDir !== undefined) cfg.teleport.data_dir = dataDir;
  const authToken = optString(teleport, 'auth_token', 'teleport');
  if (authToken !== undefined && authToken !== '') cfg.teleport.auth_token = authToken;
  const authServer = optAddr(teleport, 'auth_server', 'teleport') ?? optStringList(teleport, 'auth_servers', 'teleport')?.[0];
  if (authServer !== undefined) cfg.teleport.auth_server = authServer;
  const caPin = optStringList(teleport, 'ca_pin', 'teleport');
  if (caPin !== undefined && caPin.length > 0) cfg.teleport.ca_pin = caPin;
  if (teleport['storage'] !== undefined) cfg.teleport.storage = parseStorageConfig(teleport['storage']);
  if (teleport['log'] !== undefined) cfg.teleport.log = parseLogConfig(teleport['log']);
  const diag = optAddr(teleport, 'diag_addr', 'teleport');
  if (diag !== undefined) cfg.teleport.diag_addr = diag;
  for (const [key, parse] of [
    ['auth_service', parseAuthService],
    ['proxy_service', parseProxyService],
    ['db_service', parseDbService],
    ['ssh_service', (r: Record<string, unknown>) => parseEnabledOnly(r, 'ssh_service')],
  ] as const) {
    const section = doc[key];
    if (section === undefined || section === null) continue;
    if (!isRecord(section)) throw new BadParameterError(`${source}: ${key} must be a mapping`);
    (cfg as unknown as Record<string, unknown>)[key] = parse(section);
  }
  return cfg;
}

/** Reads and validates a teleport.yaml file. */
export async function loadConfigFile(file: string): Promise<FileConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`config file ${file} does not exist`);
    throw err;
  }
  return parseConfig(text, file);
}
