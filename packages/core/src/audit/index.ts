/**
 * Audit events: Teleport-style structured records of security-relevant actions (`user.login` `T1000I`,
 * ...), kept in their own store (`audit_events_uri`: sqlite, postgres, cockroachdb), searchable by time
 * and type with stable paging, with retention. Audit events are not logs.
 *
 * @example
 * ```ts
 * import { openAuditStore, newAuditEvent } from '@teleport-ts/core/audit';
 *
 * const audit = await openAuditStore({ dataDir: '/var/lib/teleport', clock });
 * await audit.emit(newAuditEvent('userCreate', { user: 'admin', name: 'alice' }, { clock }));
 * const { events, nextKey } = await audit.search({ from, to, limit: 100, order: 'desc' });
 * ```
 */
export type {
  AuditEvent,
  AuditEventStore,
  AuditStoreCommonOptions,
  JsonValue,
  SearchEventsRequest,
  SearchEventsResult,
  SearchOrder,
} from './types.js';
export { MAX_SEARCH_LIMIT } from './types.js';
export {
  AUDIT_EVENT_CATALOGUE,
  AUDIT_EVENTS,
  auditEventSeverity,
  lookupAuditEventCode,
  newAuditEvent,
  type AuditEventDefinition,
  type AuditEventFields,
  type AuditEventKey,
  type AuditEventSeverity,
  type NewAuditEventOptions,
} from './catalogue.js';
export { AUDIT_SWEEP_CHANNEL, DEFAULT_SWEEP_INTERVAL_MS } from './retention.js';
export { newEventUid } from './uid.js';
export {
  AUDIT_EVENTS_URI_SCHEMES,
  AUDIT_LOG_DIR,
  defaultAuditEventsPath,
  openAuditStore,
  parseAuditEventsUri,
  type AuditEventsTarget,
  type OpenAuditStoreOptions,
} from './open.js';
export { newMultiAuditStore } from './multi.js';
export { openSqliteAuditStore, SQLITE_EVENTS_FILE, type SqliteAuditStoreOptions } from './sqlite.js';
export { openPostgresAuditStore, type PostgresAuditStoreOptions } from './postgres/store.js';
export { openCockroachAuditStore, type CockroachAuditStoreOptions } from './cockroachdb.js';
export { parsePostgresUri, SSL_MODES, type PostgresUri, type SslMode } from './postgres/connection.js';
