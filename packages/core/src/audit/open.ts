import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { systemClock, type Clock } from '../clock/index.js';
import { BadParameterError } from '../errors/index.js';
import { newMultiAuditStore } from './multi.js';
import { redactUri } from './postgres/connection.js';
import { SQLITE_EVENTS_FILE } from './sqlite.js';
import type { AuditEventStore } from './types.js';

/** `audit_events_uri` schemes teleport-ts accepts. */
export const AUDIT_EVENTS_URI_SCHEMES = ['sqlite', 'file', 'postgres', 'postgresql', 'cockroachdb'] as const;

/** Where one `audit_events_uri` points. */
export type AuditEventsTarget =
  | { driver: 'sqlite'; path: string }
  | { driver: 'postgres'; uri: string }
  | { driver: 'cockroachdb'; uri: string };

/** Directory of the default audit database inside the data dir, as Teleport's `<data_dir>/log`. */
export const AUDIT_LOG_DIR = 'log';

/** The default audit store: sqlite at `<dataDir>/log/events.db`. */
export function defaultAuditEventsPath(dataDir: string): string {
  return path.join(path.resolve(dataDir), AUDIT_LOG_DIR, SQLITE_EVENTS_FILE);
}

function unsupported(uri: string): BadParameterError {
  return new BadParameterError(`unsupported audit_events_uri ${JSON.stringify(redactUri(uri))}`, {
    hint: `use one of the schemes: ${AUDIT_EVENTS_URI_SCHEMES.map((s) => `${s}://`).join(', ')}`,
  });
}

/**
 * Reads one teleport.yaml `audit_events_uri` value:
 * - `sqlite:///abs/path/events.db`: that sqlite file;
 * - `file:///var/lib/teleport/log`: a directory, as Teleport's file log; the events go to the sqlite
 *   file `events.db` inside it;
 * - `postgres://...`, `postgresql://...`: PostgreSQL;
 * - `cockroachdb://...`: CockroachDB (spoken to as postgresql://, default port 26257).
 *
 * @example
 * ```ts
 * parseAuditEventsUri('file:///var/lib/teleport/log'); // { driver: 'sqlite', path: '/var/lib/teleport/log/events.db' }
 * ```
 */
export function parseAuditEventsUri(uri: string): AuditEventsTarget {
  if (typeof uri !== 'string') throw new BadParameterError('audit_events_uri must be a string');
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw unsupported(uri);
  }
  const scheme = url.protocol.replace(/:$/, '').toLowerCase();
  switch (scheme) {
    case 'sqlite':
    case 'file': {
      if (url.host !== '' || url.search !== '' || url.hash !== '') {
        throw new BadParameterError(`audit_events_uri ${JSON.stringify(redactUri(uri))} must name an absolute local path, e.g. ${scheme}:///var/lib/teleport/log${scheme === 'sqlite' ? '/events.db' : ''}`);
      }
      let p: string;
      try {
        p = fileURLToPath(`file://${url.pathname}`);
      } catch {
        throw new BadParameterError(`invalid path in audit_events_uri ${JSON.stringify(redactUri(uri))}`);
      }
      if (p === '/' || p === '') throw new BadParameterError(`audit_events_uri ${JSON.stringify(uri)} needs a path`);
      return { driver: 'sqlite', path: scheme === 'file' ? path.join(p, SQLITE_EVENTS_FILE) : p };
    }
    case 'postgres':
    case 'postgresql':
      return { driver: 'postgres', uri };
    case 'cockroachdb':
      return { driver: 'cockroachdb', uri };
    default:
      throw unsupported(uri);
  }
}

/** Options of {@link openAuditStore}. */
export interface OpenAuditStoreOptions {
  /** teleport.yaml `audit_events_uri`; absent or empty means sqlite under `<dataDir>/log/events.db`. */
  uris?: readonly string[] | undefined;
  /** The node's data dir. */
  dataDir: string;
  clock?: Clock | undefined;
  /** Keep events this many days; absent keeps them forever. */
  retentionDays?: number | undefined;
  /** Period of the background retention sweep, ms (0 = none). Default one hour. */
  sweepIntervalMs?: number | undefined;
  /** SQL stores: create the database when missing. Default true. */
  createDatabase?: boolean | undefined;
}

/**
 * Opens the audit event store teleport.yaml asks for. With several URIs, events go to all of them and
 * searches read the first, as in Teleport. Every URI is checked before any store is opened; drivers are
 * loaded on demand.
 *
 * @example
 * ```ts
 * const audit = await openAuditStore({ uris: cfg.teleport.storage?.audit_events_uri, dataDir: '/var/lib/teleport', clock });
 * await audit.emit(newAuditEvent('userLogin', { user: 'alice', success: true }, { clock }));
 * ```
 */
export async function openAuditStore(options: OpenAuditStoreOptions): Promise<AuditEventStore> {
  const uris = options.uris ?? [];
  const targets: AuditEventsTarget[] =
    uris.length === 0 ? [{ driver: 'sqlite', path: defaultAuditEventsPath(options.dataDir) }] : uris.map(parseAuditEventsUri);
  const common = {
    clock: options.clock ?? systemClock,
    retentionDays: options.retentionDays,
    sweepIntervalMs: options.sweepIntervalMs,
  };
  const stores: AuditEventStore[] = [];
  try {
    for (const target of targets) stores.push(await openTarget(target, common, options.createDatabase));
  } catch (err) {
    await Promise.allSettled(stores.map((s) => s.close()));
    throw err;
  }
  return newMultiAuditStore(stores);
}

async function openTarget(
  target: AuditEventsTarget,
  common: { clock: Clock; retentionDays: number | undefined; sweepIntervalMs: number | undefined },
  createDatabase: boolean | undefined,
): Promise<AuditEventStore> {
  switch (target.driver) {
    case 'sqlite': {
      const { openSqliteAuditStore } = await import('./sqlite.js');
      return openSqliteAuditStore({ ...common, path: target.path });
    }
    case 'postgres': {
      const { openPostgresAuditStore } = await import('./postgres/store.js');
      return openPostgresAuditStore({ ...common, uri: target.uri, createDatabase });
    }
    case 'cockroachdb': {
      const { openCockroachAuditStore } = await import('./cockroachdb.js');
      return openCockroachAuditStore({ ...common, uri: target.uri, createDatabase });
    }
  }
}
