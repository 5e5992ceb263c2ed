import type { Clock } from '../clock/index.js';

/** A JSON value: what an audit event field may hold. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/**
 * One audit event, Teleport-style (`lib/events`): a flat JSON object with a name (`event`), a stable code,
 * a unique id and the time it happened. Everything else is free-form JSON (`user`, `cluster_name`,
 * `success`, `error`, `addr.remote`, ...).
 *
 * Audit events are not logs: they are records of security-relevant actions, kept, searched and exported.
 *
 * @example
 * ```ts
 * const ev: AuditEvent = {
 *   uid: '5b1c1b7e-1f0a-4d51-9d43-5c3a6f0b2a10',
 *   event: 'user.login',
 *   code: 'T1000I',
 *   time: '2026-01-01T00:00:00.000Z',
 *   user: 'alice',
 *   success: true,
 * };
 * ```
 */
export interface AuditEvent {
  /** The event's unique id (a UUID in practice); the store keeps one row per `uid`. */
  uid: string;
  /** The event name, e.g. `user.login`. */
  event: string;
  /** The stable event code, e.g. `T1000I` (suffix I = info, W = warning, E = error). */
  code: string;
  /** When it happened, ISO 8601 / RFC 3339 (`2026-01-01T00:00:00.000Z`). Searches range over this. */
  time: string;
  cluster_name?: string;
  user?: string;
  success?: boolean;
  error?: string;
  [field: string]: JsonValue | undefined;
}

/** Sort order of a search: by (`time`, `uid`), ascending or descending. */
export type SearchOrder = 'asc' | 'desc';

/** What {@link AuditEventStore.search} looks for. */
export interface SearchEventsRequest {
  /** Inclusive lower bound on the event time. */
  from: Date;
  /** Exclusive upper bound on the event time: the range is `[from, to)`. */
  to: Date;
  /** Event names to match (`user.login`, ...); absent or empty matches every event. */
  eventTypes?: readonly string[] | undefined;
  /** Page size, 1..{@link MAX_SEARCH_LIMIT}. */
  limit: number;
  order: SearchOrder;
  /** The `nextKey` of the previous page; absent for the first page. */
  startKey?: string | undefined;
}

/** One page of search results. */
export interface SearchEventsResult {
  events: AuditEvent[];
  /** Present when more events match: pass it as `startKey` to get the next page. Opaque. */
  nextKey?: string;
}

/** The largest page a search returns (Teleport's `defaults.EventsMaxIterationLimit`). */
export const MAX_SEARCH_LIMIT = 10_000;

/**
 * Where audit events are kept. Every driver (sqlite, postgres, cockroachdb) passes one compliance suite.
 *
 * - `emit` and `emitMany` are idempotent: emitting the same `uid` twice keeps one event, and is not an error.
 * - `search` pages with an opaque cursor, ordered by (`time`, `uid`) so that paging is stable even when
 *   many events share a timestamp.
 * - Retention: `deleteOlderThan` deletes events whose time is before a date; `sweep` applies the
 *   store's `retentionDays` against the injected clock.
 */
export interface AuditEventStore {
  /** Stores one event, once. Validates the required fields. */
  emit(event: AuditEvent): Promise<void>;
  /**
   * Stores several events at once (one transaction or statement where the driver can), each once by `uid`, as
   * `emit` would. Every event is validated first: one malformed event rejects the batch and none is stored.
   */
  emitMany(events: readonly AuditEvent[]): Promise<void>;
  /** One page of events in `[from, to)`. */
  search(request: SearchEventsRequest): Promise<SearchEventsResult>;
  /** Deletes the events whose time is strictly before `date`; resolves to how many were deleted. */
  deleteOlderThan(date: Date): Promise<number>;
  /**
   * Deletes the events older than `retentionDays` (by the store's clock); resolves to how many were
   * deleted, 0 when no retention is configured.
   */
  sweep(): Promise<number>;
  /** Stops the sweeper and releases connections. Idempotent. */
  close(): Promise<void>;
}

/** Options every driver takes. */
export interface AuditStoreCommonOptions {
  /** Used by retention; defaults to the system clock. */
  clock?: Clock | undefined;
  /** Keep events this many days; absent keeps them forever. */
  retentionDays?: number | undefined;
  /**
   * How often the background sweep runs when `retentionDays` is set, in milliseconds. Default one hour;
   * 0 disables the background sweep (call {@link AuditEventStore.sweep} yourself).
   */
  sweepIntervalMs?: number | undefined;
}
