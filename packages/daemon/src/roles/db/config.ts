/**
 * The databases a db agent serves, from `db_service.databases[]` or from `--db-*` flags, parsed once and frozen.
 */

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import {
  DATABASE_TLS_MODES,
  parseDatabaseConfig,
  parseHostPort,
  type DatabaseFileConfig,
  type DatabaseProtocol,
  type DatabaseTlsMode,
} from '@teleport-ts/core/config';
import { BadParameterError } from '@teleport-ts/core/errors';

/** PostgreSQL's port, the default of a URI without one (CockroachDB's SQL port is 26257: write it). */
const DEFAULT_POSTGRES_PORT = 5432;

/** One database as the agent serves it. */
export interface DatabaseSpec {
  readonly name: string;
  readonly description: string;
  readonly protocol: DatabaseProtocol;
  /** `host:port` as configured. */
  readonly uri: string;
  readonly host: string;
  readonly port: number;
  /** Static labels: what roles' `db_labels` match. */
  readonly labels: Readonly<Record<string, string>>;
  readonly tls: {
    readonly mode: DatabaseTlsMode;
    /** PEM read from `tls.ca_cert_file`, trusted instead of the cluster's `db` CA. */
    readonly caCerts?: string;
    readonly caCertFile?: string;
    /** The name the server certificate must carry (verify-full); default the host of `uri`. */
    readonly serverName: string;
  };
}

/**
 * Reads the `ca_cert_file`s and fills the defaults of validated database entries. Names must be unique.
 *
 * @example
 * ```ts
 * const [orders] = await loadDatabaseSpecs([{ name: 'orders', protocol: 'postgres', uri: 'db.internal:5432' }]);
 * orders.tls.mode; // 'verify-full'
 * ```
 */
export async function loadDatabaseSpecs(entries: readonly DatabaseFileConfig[]): Promise<DatabaseSpec[]> {
  const seen = new Set<string>();
  const out: DatabaseSpec[] = [];
  for (const entry of entries) {
    if (seen.has(entry.name)) throw new BadParameterError(`database ${JSON.stringify(entry.name)} is configured twice`);
    seen.add(entry.name);
    const { host, port } = parseHostPort(entry.uri, DEFAULT_POSTGRES_PORT);
    let caCerts: string | undefined;
    const caCertFile = entry.tls?.ca_cert_file;
    if (caCertFile !== undefined) {
      try {
        caCerts = await readFile(caCertFile, 'utf8');
      } catch (err) {
        throw new BadParameterError(`database ${JSON.stringify(entry.name)}: cannot read tls.ca_cert_file ${caCertFile}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
      }
      if (!caCerts.includes('-----BEGIN CERTIFICATE-----')) {
        throw new BadParameterError(`database ${JSON.stringify(entry.name)}: ${caCertFile} holds no PEM certificate`);
      }
    }
    out.push(
      Object.freeze({
        name: entry.name,
        description: entry.description ?? '',
        protocol: entry.protocol,
        uri: entry.uri,
        host,
        port,
        labels: Object.freeze({ ...(entry.static_labels ?? {}) }),
        tls: Object.freeze({
          mode: entry.tls?.mode ?? 'verify-full',
          ...(caCerts !== undefined ? { caCerts, caCertFile } : {}),
          serverName: entry.tls?.server_name ?? host,
        }),
      }),
    );
  }
  return out;
}

/** The `--db-*` flags of `teleport-ts start --roles=db` and `teleport-ts db start` (Teleport's names). */
export interface DatabaseFlags {
  name?: string;
  description?: string;
  protocol?: string;
  uri?: string;
  labels?: Readonly<Record<string, string>>;
  caCertFile?: string;
  tlsMode?: string;
  serverName?: string;
}

/**
 * One database from flags, validated like a `db_service.databases` entry; `undefined` when no `--db-*` flag was
 * given.
 */
export function databaseFromFlags(flags: DatabaseFlags): DatabaseFileConfig | undefined {
  if (flags.name === undefined && flags.protocol === undefined && flags.uri === undefined) return undefined;
  if (flags.tlsMode !== undefined && !(DATABASE_TLS_MODES as readonly string[]).includes(flags.tlsMode)) {
    throw new BadParameterError(`--db-tls-mode must be one of ${DATABASE_TLS_MODES.join(', ')}`);
  }
  const tls = {
    ...(flags.tlsMode !== undefined ? { mode: flags.tlsMode } : {}),
    ...(flags.caCertFile !== undefined ? { ca_cert_file: flags.caCertFile } : {}),
    ...(flags.serverName !== undefined ? { server_name: flags.serverName } : {}),
  };
  return parseDatabaseConfig(
    {
      name: flags.name,
      protocol: flags.protocol,
      uri: flags.uri,
      ...(flags.description !== undefined ? { description: flags.description } : {}),
      ...(flags.labels !== undefined ? { static_labels: flags.labels } : {}),
      ...(Object.keys(tls).length > 0 ? { tls } : {}),
    },
    'database flags',
  );
}

/**
 * `--token` as Teleport reads it: the token itself, or the path of a file holding it (an absolute or `./` path that
 * exists). The token is a secret: it is never part of a message.
 */
export async function resolveJoinToken(value: string | undefined): Promise<string | undefined> {
  if (value === undefined || value === '') return undefined;
  const looksLikePath = value.startsWith('/') || value.startsWith('./') || value.startsWith('../');
  if (!looksLikePath || !existsSync(value)) return value;
  const text = (await readFile(value, 'utf8')).trim();
  if (text === '') throw new BadParameterError(`the token file ${value} is empty`);
  return text;
}

/** True when `host` is an IP address literal (no SNI may be sent for it). */
export function isIpAddress(host: string): boolean {
  return isIP(host) !== 0;
}
