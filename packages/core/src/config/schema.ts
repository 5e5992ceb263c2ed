/**
 * teleport.yaml as valibot schemas: every section is a strict mapping (its keys are the only ones accepted, which
 * `unknown-keys.ts` reads to refuse a mistyped key with its line), every value is checked once, and each section's
 * output is built with the defaults filled the way the release reads them.
 *
 * Messages keep the texts users and tests know (`auth_service.enabled must be "yes" or "no"`). Checks whose error
 * carries a hint (storage type, static tokens, a database's name, protocol and uri) throw their
 * {@link BadParameterError} directly, since a schema issue has no room for a hint.
 */

import { BadParameterError } from '../errors/index.js';
import type { StorageConfig } from '../backend/types.js';
import { parseWith, v } from '../schema/index.js';
import { SESSION_RECORDING_MODES, type SessionRecordingMode } from '../api/recordings.js';
import { JOIN_TOKEN_ROLES, SECOND_FACTORS, parseDuration, parseSystemRoles, type JoinTokenRole, type SecondFactor } from '../types/index.js';
import { parseHostPort } from './address.js';
import {
  DATABASE_PROTOCOLS,
  DATABASE_TLS_MODES,
  DEFAULT_LOG_CONFIG,
  DEFAULT_PROXY_WEB_PORT,
  LOG_FORMATS,
  LOG_SEVERITIES,
  STORAGE_TYPES,
  type AuthenticationConfig,
  type DatabaseFileConfig,
  type DatabaseProtocol,
  type DatabaseTlsMode,
  type FileConfig,
  type HttpsKeyPair,
  type LogConfig,
  type LogFormat,
  type LogSeverity,
  type StaticToken,
  type TunnelStrategyConfig,
} from './types.js';

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** A strict mapping: a list or a scalar is refused with `message` before any key is looked at. */
function mapping<const E extends v.ObjectEntries>(entries: E, message = 'must be a mapping') {
  return v.pipe(v.custom<Record<string, unknown>>(isRecord, message), v.strictObject(entries));
}

/** An optional string (`key:` with no value reads as absent). */
const optString = v.nullish(v.string());

const isStringOrList = (x: unknown): x is string | string[] =>
  typeof x === 'string' || (Array.isArray(x) && x.every((s) => typeof s === 'string'));

/** A string or a list of strings (Teleport accepts both for addresses and pins), empty entries dropped. */
const optStringList = v.nullish(
  v.pipe(
    v.unknown(),
    v.check(isStringOrList, 'must be a string or a list of strings'),
    v.transform((x) => (typeof x === 'string' ? [x] : (x as string[])).filter((s) => s !== '')),
  ),
);

/** The problem with `addr` as a `host:port`, after a colon (`: invalid address "x:y": bad port`), or `undefined`. */
function addressProblem(addr: string, defaultPort: number): string | undefined {
  try {
    parseHostPort(addr, defaultPort);
    return undefined;
  } catch (err) {
    return `: ${(err as Error).message}`;
  }
}

/** An optional `host:port`; empty reads as absent. */
const optAddr = v.nullish(
  v.pipe(
    v.string(),
    v.rawCheck(({ dataset, addIssue }) => {
      const problem = dataset.typed && dataset.value !== '' ? addressProblem(dataset.value, 1) : undefined;
      if (problem !== undefined) addIssue({ message: problem });
    }),
    v.transform((s) => (s === '' ? undefined : s)),
  ),
);

const TRUE_WORDS = ['yes', 'true', 'on', '1'];
const FALSE_WORDS = ['no', 'false', 'off', '0'];

/** `enabled: yes` as Teleport writes it (a string), or a YAML boolean. */
const optEnabled = v.nullish(
  v.pipe(
    v.unknown(),
    v.check(
      (x) => typeof x === 'boolean' || (typeof x === 'string' && [...TRUE_WORDS, ...FALSE_WORDS].includes(x.trim().toLowerCase())),
      'must be "yes" or "no"',
    ),
    v.transform((x) => (typeof x === 'boolean' ? x : TRUE_WORDS.includes(String(x).trim().toLowerCase()))),
  ),
);

const present = <T>(x: T | null | undefined): x is T => x !== undefined && x !== null;

/** Copies the keys of `from` whose value is not `undefined` or `null`. */
function defined<T extends object>(from: { [K in keyof T]?: T[K] | null | undefined }): T {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(from)) if (value !== undefined && value !== null) out[key] = value;
  return out as T;
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

/** A storage type, refused with the list of accepted ones. */
function storageType(type: string | null | undefined): StorageConfig['type'] {
  const chosen = type ?? 'sqlite';
  if (!(STORAGE_TYPES as readonly string[]).includes(chosen)) {
    throw new BadParameterError(`unsupported storage type ${JSON.stringify(chosen)}`, {
      hint: `use one of: ${STORAGE_TYPES.filter((t) => t !== 'memory').join(', ')}`,
    });
  }
  return chosen as StorageConfig['type'];
}

/** `teleport.storage`. */
const StorageSchema = v.pipe(
  mapping({
    type: optString,
    path: optString,
    conn_string: optString,
    change_feed_conn_string: optString,
    ttl_job_cron: optString,
    audit_events_uri: v.optional(
      v.pipe(
        v.unknown(),
        v.check(isStringOrList, 'must be a string or a list of strings'),
        v.transform((x) => (typeof x === 'string' ? [x] : (x as string[]))),
      ),
    ),
    audit_sessions_uri: v.nullish(
      v.pipe(
        v.string(),
        v.check((s) => s === '' || s.startsWith('file://'), 'must be a file:// URI such as file:///var/lib/teleport/log/records (other storage is not supported)'),
        v.transform((s) => (s === '' ? undefined : s)),
      ),
    ),
  }),
  v.transform((raw): StorageConfig => {
    const { type: rawType, ...rest } = raw;
    const out: StorageConfig = { type: storageType(rawType), ...defined<Omit<StorageConfig, 'type'>>(rest) };
    if ((out.type === 'postgres' || out.type === 'postgresql' || out.type === 'cockroachdb') && !out.conn_string) {
      throw new BadParameterError(`teleport.storage.conn_string is required for storage type ${out.type}`);
    }
    return out;
  }),
);

/** Validates a `teleport.storage` block. */
export function parseStorageConfig(raw: unknown): StorageConfig {
  return Object.freeze(parseWith(StorageSchema, raw, { at: 'teleport.storage' }));
}

/** `teleport.log.severity`: case-insensitive, `WARNING` reads as `warn` and `TRACE` as `debug`. */
function logSeverity(text: string): string {
  const severity = text.trim().toLowerCase();
  if (severity === 'warning') return 'warn';
  if (severity === 'trace') return 'debug';
  return severity;
}

/** `teleport.log`, defaults filled. */
const LogSchema = v.pipe(
  mapping({
    output: optString,
    severity: v.pipe(
      v.nullish(v.string(), DEFAULT_LOG_CONFIG.severity),
      v.transform(logSeverity),
      v.check((s) => (LOG_SEVERITIES as readonly string[]).includes(s), `must be one of ${LOG_SEVERITIES.map((s) => s.toUpperCase()).join(', ')}`),
    ),
    format: v.nullish(
      mapping(
        {
          output: v.pipe(
            v.nullish(v.string(), DEFAULT_LOG_CONFIG.format),
            v.transform((s) => s.trim().toLowerCase()),
            v.check((s) => (LOG_FORMATS as readonly string[]).includes(s), 'must be text or json'),
          ),
        },
        'must be a mapping such as { output: json }',
      ),
    ),
  }),
  v.transform(
    (raw): LogConfig => ({
      output: raw.output || DEFAULT_LOG_CONFIG.output,
      severity: raw.severity as LogSeverity,
      format: (raw.format?.output ?? DEFAULT_LOG_CONFIG.format) as LogFormat,
    }),
  ),
);

/** Validates a `teleport.log` block and fills its defaults. */
export function parseLogConfig(raw: unknown): LogConfig {
  if (raw === undefined || raw === null) return { ...DEFAULT_LOG_CONFIG };
  return parseWith(LogSchema, raw, { at: 'teleport.log' });
}

const positiveWhole = v.pipe(v.number('must be a whole number of at least 1'), v.integer('must be a whole number of at least 1'), v.minValue(1, 'must be a whole number of at least 1'));

/**
 * `teleport.connection_limits` (Teleport's key): `rates` of `{ period, average, burst }`, `average` requests per
 * `period`. Our limiter keeps one token bucket per address, so the rates fold into the strictest per second.
 * `max_pending_per_address` (ours): connections one source address may hold before they are identified (TLS
 * handshake or request head still under way; default 256).
 */
const ConnectionLimitsSchema = v.pipe(
  mapping({
    rates: v.nullish(v.pipe(v.array(mapping({ period: v.nullish(v.string()), average: positiveWhole, burst: positiveWhole }), 'must be a list of { period, average, burst }'), v.minLength(1, 'must list at least one rate'))),
    max_pending_per_address: v.nullish(positiveWhole),
  }),
  v.check((c) => (c.rates ?? []).every((r) => durationOk(r.period ?? '1s')), ': every rate period must be a duration of at least 1s, such as 1s or 1m'),
  v.transform((c) => ({
    ...(c.rates
      ? {
          rate: {
            average: Math.min(...c.rates.map((r) => r.average / (parseDuration(r.period ?? '1s') / 1000))),
            burst: Math.min(...c.rates.map((r) => r.burst)),
          },
        }
      : {}),
    ...(c.max_pending_per_address ? { maxPendingPerAddress: c.max_pending_per_address } : {}),
  })),
);

function durationOk(x: string): boolean {
  try {
    return parseDuration(x) >= 1000;
  } catch {
    return false;
  }
}

/** `teleport`. */
const TeleportSchema = v.pipe(
  mapping({
    nodename: optString,
    data_dir: optString,
    auth_token: optString,
    auth_server: optAddr,
    auth_servers: optStringList,
    proxy_server: optAddr,
    ca_pin: optStringList,
    storage: v.optional(StorageSchema),
    log: v.nullish(v.unknown()),
    diag_addr: optAddr,
    connection_limits: v.nullish(ConnectionLimitsSchema),
  }),
  v.check(
    (t) => !(present(t.proxy_server) && (present(t.auth_server) || (t.auth_servers ?? []).length > 0)),
    ': set either auth_server (join through the auth service) or proxy_server (join through the proxy), not both',
  ),
  v.transform((t): FileConfig['teleport'] => {
    const authServer = t.auth_server ?? t.auth_servers?.[0];
    return defined<FileConfig['teleport']>({
      nodename: t.nodename,
      data_dir: t.data_dir,
      auth_token: t.auth_token === '' ? undefined : t.auth_token,
      auth_server: authServer,
      proxy_server: t.proxy_server,
      ca_pin: t.ca_pin !== undefined && t.ca_pin !== null && t.ca_pin.length > 0 ? t.ca_pin : undefined,
      storage: t.storage,
      log: 'log' in t ? parseLogConfig(t.log) : undefined,
      diag_addr: t.diag_addr,
      connection_limits: t.connection_limits ?? undefined,
    });
  }),
);

/** `auth_service.authentication`; YAML 1.1 writes `second_factor: off` as a boolean. */
const AuthenticationSchema = mapping({
  type: optString,
  second_factor: v.nullish(
    v.pipe(
      v.unknown(),
      v.transform((x) => (x === false ? 'off' : x === true ? 'on' : x)),
      v.check((x) => typeof x === 'string' && (SECOND_FACTORS as readonly string[]).includes(x), `must be one of ${SECOND_FACTORS.join(', ')}`),
      v.transform((x) => x as SecondFactor),
    ),
  ),
});

/** `auth_service.access_requests.webhook.url`: an http(s) URL without credentials (they would end up in logs). */
const webhookUrl = v.pipe(
  v.string('must be a URL such as https://hooks.example.com/teleport'),
  v.check((s) => {
    try {
      const u = new URL(s);
      return (u.protocol === 'https:' || u.protocol === 'http:') && u.username === '' && u.password === '';
    } catch {
      return false;
    }
  }, 'must be an http(s) URL without user name or password, such as https://hooks.example.com/teleport'),
);

/** `auth_service.access_requests`: the built-in webhook notifier. */
const AccessRequestsSchema = v.pipe(
  mapping({ webhook: v.nullish(mapping({ url: webhookUrl, ca_file: optString })) }),
  v.transform(({ webhook }) => (webhook ? { webhook: defined<{ url: string; ca_file?: string }>(webhook) } : {})),
);

/** `auth_service.tunnel_strategy`: `agent_mesh` (default) or `proxy_peering` with `agent_connection_count` (default 1). */
const TunnelStrategySchema = v.pipe(
  mapping(
    {
      type: v.pipe(
        v.nullish(v.string(), 'agent_mesh'),
        v.transform((s) => (s ?? 'agent_mesh').trim().toLowerCase()),
        v.check((s) => s === 'agent_mesh' || s === 'proxy_peering', 'must be agent_mesh or proxy_peering'),
      ),
      agent_connection_count: v.nullish(v.pipe(v.number('must be a whole number from 1 to 16'), v.integer('must be a whole number from 1 to 16'), v.minValue(1, 'must be a whole number from 1 to 16'), v.maxValue(16, 'must be a whole number from 1 to 16'))),
    },
    'must be a mapping such as { type: proxy_peering, agent_connection_count: 2 }',
  ),
  v.check((t) => t.type === 'proxy_peering' || t.agent_connection_count === undefined || t.agent_connection_count === null, ': agent_connection_count applies only to type proxy_peering'),
  v.transform((t): TunnelStrategyConfig =>
    t.type === 'proxy_peering' ? { type: 'proxy_peering', agent_connection_count: t.agent_connection_count ?? 1 } : { type: 'agent_mesh' },
  ),
);

/** `auth_service`. */
const AuthServiceSchema = v.pipe(
  mapping({
    enabled: optEnabled,
    listen_addr: optAddr,
    public_addr: optStringList,
    cluster_name: v.nullish(
      v.pipe(
        v.string(),
        v.transform((s) => s.trim()),
        v.check((s) => !/[\s/]/.test(s), 'must not contain spaces or "/"'),
      ),
    ),
    tokens: v.nullish(v.pipe(v.array(v.unknown(), 'must be a list such as ["node,db:<token>"]'), v.transform((list) => list.map((t) => parseStaticToken(t as string))))),
    authentication: v.nullish(AuthenticationSchema),
    access_requests: v.nullish(AccessRequestsSchema),
    session_recording: v.nullish(
      v.pipe(
        v.string(),
        v.transform((s) => s.trim()),
        v.check((s) => (SESSION_RECORDING_MODES as readonly string[]).includes(s), `must be one of ${SESSION_RECORDING_MODES.join(', ')}`),
        v.transform((s) => s as SessionRecordingMode),
      ),
    ),
    tunnel_strategy: v.nullish(TunnelStrategySchema),
  }),
  v.transform(({ authentication, access_requests, ...raw }): NonNullable<FileConfig['auth_service']> => ({
    ...defined<NonNullable<FileConfig['auth_service']>>({ ...raw, cluster_name: raw.cluster_name === '' ? undefined : raw.cluster_name }),
    ...(authentication ? { authentication: defined<AuthenticationConfig>(authentication) } : {}),
    ...(access_requests ? { access_requests } : {}),
  })),
);

/** A `proxy_service.https_keypairs` file: required, trimmed. */
const keyPairFile = v.pipe(
  v.nullish(v.string(), ''),
  v.transform((s) => (s ?? '').trim()),
  v.check((s) => s !== '', 'is required'),
);

/** `proxy_service`. */
const ProxyServiceSchema = v.pipe(
  mapping({
    enabled: optEnabled,
    web_listen_addr: optAddr,
    peer_listen_addr: optAddr,
    peer_public_addr: optAddr,
    public_addr: v.pipe(
      optStringList,
      v.rawCheck(({ dataset, addIssue }) => {
        for (const addr of (dataset.typed ? dataset.value : undefined) ?? []) {
          const problem = addressProblem(addr, DEFAULT_PROXY_WEB_PORT);
          if (problem !== undefined) return addIssue({ message: problem });
        }
      }),
    ),
    https_keypairs: v.nullish(
      v.array(
        mapping({ key_file: keyPairFile, cert_file: keyPairFile }, 'must be a mapping with key_file and cert_file'),
        'must be a list of { key_file, cert_file }',
      ),
    ),
  }),
  v.transform((raw): NonNullable<FileConfig['proxy_service']> => {
    const pairs: HttpsKeyPair[] | undefined = raw.https_keypairs?.map((p) => ({ key_file: p.key_file, cert_file: p.cert_file }));
    return defined<NonNullable<FileConfig['proxy_service']>>({ ...raw, https_keypairs: pairs && pairs.length > 0 ? pairs : undefined });
  }),
);

/** A database name: letters, digits, `.`, `_`, `-` (it becomes a key segment and a certificate attribute). */
const DATABASE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** Teleport's label keys. */
const LABEL_KEY = /^[A-Za-z0-9/._:*-]{1,63}$/;

/** `static_labels`: label keys Teleport accepts, scalar values read as strings. */
const StaticLabelsSchema = v.pipe(
  v.custom<Record<string, unknown>>(isRecord, 'must be a mapping of label names to values'),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    const parsed: Record<string, string> = {};
    for (const [k, value] of Object.entries(dataset.value)) {
      if (!LABEL_KEY.test(k)) {
        addIssue({ message: `: invalid label key ${JSON.stringify(k.slice(0, 64))}` });
        return NEVER;
      }
      if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
        addIssue({ message: 'must be a string', path: [{ type: 'object', origin: 'value', input: dataset.value, key: k, value }] });
        return NEVER;
      }
      parsed[k] = String(value);
    }
    return parsed;
  }),
);

/** An optional non-empty string of a database entry (empty reads as absent). */
const optText = v.nullish(v.pipe(v.string(), v.transform((s) => (s === '' ? undefined : s))));

/** The shape of one database entry; {@link checkDatabase} then checks what needs a hint. */
const DatabaseShape = mapping(
  {
    name: optString,
    description: optText,
    protocol: optString,
    uri: optString,
    static_labels: v.nullish(StaticLabelsSchema),
    tls: v.nullish(
      mapping({
        mode: v.nullish(
          v.pipe(
            v.string(),
            v.check((s) => s === '' || (DATABASE_TLS_MODES as readonly string[]).includes(s), `must be one of ${DATABASE_TLS_MODES.join(', ')}`),
            v.transform((s) => (s === '' ? undefined : (s as DatabaseTlsMode))),
          ),
        ),
        ca_cert_file: optText,
        server_name: optText,
      }),
    ),
  },
  'must be a mapping with name, protocol and uri',
);

/** Name, protocol and uri of a parsed entry (refusals with a hint), then the entry as the release reads it. */
function checkDatabase(raw: v.InferOutput<typeof DatabaseShape>, where: string): DatabaseFileConfig {
  const name = raw.name?.trim() ?? '';
  if (!DATABASE_NAME.test(name)) {
    throw new BadParameterError(`${where}.name ${JSON.stringify(name.slice(0, 128))} must be letters, digits, ".", "_" or "-"`, { hint: 'every database needs a name, e.g. --db-name=orders' });
  }
  const protocol = raw.protocol?.trim() ?? '';
  if (!(DATABASE_PROTOCOLS as readonly string[]).includes(protocol)) {
    throw new BadParameterError(`${where}.protocol ${JSON.stringify(protocol.slice(0, 64))} is not supported`, { hint: `use one of: ${DATABASE_PROTOCOLS.join(', ')}` });
  }
  const uri = raw.uri?.trim() ?? '';
  if (uri === '') throw new BadParameterError(`${where}.uri is required`, { hint: 'the database address, e.g. --db-uri=localhost:5432' });
  const problem = addressProblem(uri, 5432);
  if (problem !== undefined) throw new BadParameterError(`${where}.uri${problem}`);
  return {
    name,
    protocol: protocol as DatabaseProtocol,
    uri,
    ...defined<Pick<DatabaseFileConfig, 'description' | 'static_labels'>>({ description: raw.description, static_labels: raw.static_labels }),
    ...(raw.tls ? { tls: defined<NonNullable<DatabaseFileConfig['tls']>>(raw.tls) } : {}),
  };
}

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
  return checkDatabase(parseWith(DatabaseShape, raw, { at: where }), where);
}

/** `db_service.workers`: a whole number from 1 to 64, or `auto` (one per CPU core). */
const WorkersSchema = v.nullish(
  v.pipe(
    v.unknown(),
    v.check((x) => x === 'auto' || (typeof x === 'number' && Number.isInteger(x) && x >= 1 && x <= 64), 'must be "auto" or a whole number from 1 to 64'),
    v.transform((x) => x as number | 'auto'),
  ),
);

/** `db_service`. */
const DbServiceSchema = v.pipe(
  mapping({
    enabled: optEnabled,
    workers: WorkersSchema,
    databases: v.nullish(
      v.pipe(
        v.array(DatabaseShape, 'must be a list'),
        v.transform((list) => list.map((d, i) => checkDatabase(d, `db_service.databases[${i}]`))),
        v.check(
          (list) => new Set(list.map((d) => d.name)).size === list.length,
          (issue) => `: the name ${JSON.stringify(firstDuplicate((issue.input as DatabaseFileConfig[]).map((d) => d.name)))} is used twice`,
        ),
      ),
    ),
  }),
  v.transform((raw): NonNullable<FileConfig['db_service']> => defined(raw)),
);

function firstDuplicate(names: readonly string[]): string | undefined {
  return names.find((n, i) => names.indexOf(n) !== i);
}

/** A dynamic label's command: a program and its arguments (a string is one program without arguments). */
const CommandListSchema = v.pipe(
  v.unknown(),
  v.check((x) => isStringOrList(x) && (typeof x === 'string' ? x !== '' : x.length > 0 && x[0] !== ''), 'must be a program and its arguments (a non-empty list)'),
  v.transform((x) => (typeof x === 'string' ? [x] : (x as string[]))),
);

/** A Go duration of at least one second (`1m`, `1h0m0s`). */
const PeriodSchema = v.pipe(
  v.unknown(),
  v.check((x) => typeof x === 'string' && durationOk(x), 'must be a duration of at least 1s, such as 1m or 1h0m0s'),
  v.transform((x) => x as string),
);

/** One `ssh_service.commands` entry: a dynamic label. */
const CommandLabelSchema = mapping({
  name: v.pipe(v.string('must be a label name'), v.regex(LABEL_KEY, 'must be a label name (letters, digits, /._:*-)')),
  command: CommandListSchema,
  period: PeriodSchema,
});

/** `ssh_service`: the node's labels (static and dynamic) and, optionally, a direct listener. */
const SshServiceSchema = v.pipe(
  mapping({
    enabled: optEnabled,
    listen_addr: optAddr,
    labels: v.nullish(StaticLabelsSchema),
    commands: v.nullish(v.array(CommandLabelSchema, 'must be a list of { name, command, period }')),
  }),
  v.transform((raw): NonNullable<FileConfig['ssh_service']> =>
    defined<NonNullable<FileConfig['ssh_service']>>({
      ...raw,
      commands: raw.commands?.map((c) => ({ name: c.name, command: c.command, period: c.period })),
    }),
  ),
);

/** teleport.yaml v3: every key this release reads, and no other. */
export const FileConfigSchema = v.pipe(
  mapping({
    version: v.optional(v.unknown()),
    teleport: v.nullish(TeleportSchema),
    auth_service: v.nullish(AuthServiceSchema),
    proxy_service: v.nullish(ProxyServiceSchema),
    db_service: v.nullish(DbServiceSchema),
    ssh_service: v.nullish(SshServiceSchema),
  }),
  v.transform(
    (raw): FileConfig => ({
      version: 'v3',
      teleport: raw.teleport ?? {},
      ...defined<Omit<FileConfig, 'version' | 'teleport'>>({
        auth_service: raw.auth_service,
        proxy_service: raw.proxy_service,
        db_service: raw.db_service,
        ssh_service: raw.ssh_service,
      }),
    }),
  ),
);
