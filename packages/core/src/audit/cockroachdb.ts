import { BadParameterError } from '../errors/index.js';
import type { AuditEventStore } from './types.js';
import { openPostgresAuditStore, type PostgresAuditStoreOptions } from './postgres/store.js';

/** Options of {@link openCockroachAuditStore}: those of the postgres store. */
export type CockroachAuditStoreOptions = PostgresAuditStoreOptions;

/**
 * Opens an audit event store in CockroachDB, over the postgres wire protocol. The URI may say
 * `cockroachdb://` or `postgres(ql)://`; either way the CockroachDB dialect is used: `DELETE ... LIMIT`,
 * `CREATE DATABASE IF NOT EXISTS`, and row-level TTL on `event_time` when `retentionDays` is set.
 *
 * @example
 * ```ts
 * const store = await openCockroachAuditStore({
 *   uri: 'cockroachdb://teleport@crdb.example.com:26257/teleport_audit?sslmode=verify-full&sslrootcert=/certs/ca.crt&sslcert=/certs/client.teleport.crt&sslkey=/certs/client.teleport.key',
 *   retentionDays: 365,
 * });
 * ```
 */
export async function openCockroachAuditStore(options: CockroachAuditStoreOptions): Promise<AuditEventStore> {
  return openPostgresAuditStore({ ...options, uri: toCockroachUri(options.uri) });
}

/** Rewrites a `postgres://`/`postgresql://` URI to `cockroachdb://` (the dialect marker); others pass. */
export function toCockroachUri(uri: string): string {
  const m = /^(postgres|postgresql|cockroachdb):\/\//i.exec(uri);
  if (!m) throw new BadParameterError('a CockroachDB audit URI must start with cockroachdb://, postgres:// or postgresql://');
  return `cockroachdb://${uri.slice(m[0].length)}`;
}
