import type { Clock } from '../clock/index.js';

/**
 * The storage model, after Teleport's `lib/backend`: a key-value store with expiry, revisions and a
 * watch stream. Keys are `/`-separated strings (`/web/users/alice/params`) ordered by their UTF-8 bytes;
 * values are opaque bytes (JSON in practice).
 */
export interface Item {
  key: string;
  value: Uint8Array;
  /** When set, the item is invisible to reads from this instant on, and a sweep deletes it later. */
  expires?: Date | undefined;
  /** Opaque, changes on every write of the key. */
  revision: string;
}

/** What a caller writes: an item without the revision the backend assigns. */
export interface ItemInput {
  key: string;
  value: Uint8Array;
  expires?: Date | undefined;
}

/** The handle a write returns: enough to keep the item alive or to update it conditionally. */
export interface Lease {
  key: string;
  revision: string;
}

export interface GetRangeResult {
  items: Item[];
}

/** Conditions of an {@link AtomicWrite}: evaluated together, all must hold for any action to apply. */
export type Condition =
  | { kind: 'whatever' }
  | { kind: 'exists' }
  | { kind: 'not-exists' }
  | { kind: 'revision'; revision: string };

export type Action = { kind: 'put'; item: Omit<ItemInput, 'key'> } | { kind: 'delete' } | { kind: 'nop' };

export interface ConditionalAction {
  key: string;
  condition: Condition;
  action: Action;
}

/** The most conditional actions one atomic write may carry (Teleport's limit). */
export const MAX_ATOMIC_WRITE_SIZE = 64;

export type EventType = 'init' | 'put' | 'delete';

/**
 * One watch event. `init` comes first on every watcher and means "from here on you see every change";
 * `delete` items carry only the key (value empty).
 */
export type BackendEvent =
  | { type: 'init' }
  | { type: 'put'; item: Item }
  | { type: 'delete'; item: { key: string; revision?: string } };

export interface WatchOptions {
  /** Key prefixes to watch; empty or absent means every key. */
  prefixes?: string[];
  /** A label for diagnostics. */
  name?: string;
  /** How many undelivered events may queue before the watcher is closed as too slow. Default 1024*64. */
  queueSize?: number;
}

/**
 * A watch stream. Iterate it with `for await`. It ends when closed by the caller, by the backend closing,
 * or when the change stream breaks (database restart, slow consumer): then `closeReason` says why and the
 * caller creates a new watcher, which starts with a fresh `init` ("reset").
 */
export interface Watcher extends AsyncIterable<BackendEvent> {
  readonly name: string;
  /** Resolves when the watcher is closed for any reason. */
  readonly done: Promise<void>;
  /** Why the watcher closed, once it has. */
  readonly closeReason: Error | undefined;
  close(): void;
}

/**
 * The driver contract. Every method is safe to call concurrently. Errors are `core/errors` kinds:
 * `not-found`, `already-exists`, `compare-failed`, `bad-parameter`, `connection-problem`.
 */
export interface Backend {
  /** Driver name: `memory`, `sqlite`, `postgres`, `cockroachdb`. */
  readonly kind: string;
  readonly clock: Clock;

  /** Returns the item or throws `not-found` (also when it has expired). */
  get(key: string): Promise<Item>;
  /** Items with `start <= key < end`, ascending, at most `limit` (default and cap {@link MAX_RANGE_LIMIT}). */
  getRange(start: string, end: string, limit?: number): Promise<GetRangeResult>;
  /** Writes the item if the key is absent (or expired), else throws `already-exists`. */
  create(item: ItemInput): Promise<Lease>;
  /** Writes the item unconditionally. */
  put(item: ItemInput): Promise<Lease>;
  /** Writes the item if the key is present, else throws `not-found`. */
  update(item: ItemInput): Promise<Lease>;
  /** Replaces the item if its current value equals `expected.value`, else throws `compare-failed`. */
  compareAndSwap(expected: ItemInput, replaceWith: ItemInput): Promise<Lease>;
  /** Writes the item if its current revision is `item.revision`, else throws `compare-failed`. */
  conditionalUpdate(item: ItemInput & { revision: string }): Promise<Lease>;
  /** Deletes the key if its current revision is `revision`, else throws `compare-failed`. */
  conditionalDelete(key: string, revision: string): Promise<void>;
  /** Deletes the key or throws `not-found`. */
  delete(key: string): Promise<void>;
  /** Deletes every key with `start <= key < end`. */
  deleteRange(start: string, end: string): Promise<void>;
  /** Moves the expiry of a live item; throws `not-found` when it is gone or its revision moved on. */
  keepAlive(lease: Lease, expires: Date): Promise<void>;
  /** Applies all actions if all conditions hold, else none (`compare-failed`). Returns the new revision. */
  atomicWrite(actions: ConditionalAction[]): Promise<string>;
  /** Opens a watcher; its first event is `init`. */
  newWatcher(options?: WatchOptions): Promise<Watcher>;
  /** Closes the backend, its pools and every watcher. */
  close(): Promise<void>;
  /**
   * Deletes expired items now (watchers see a `delete` for each) and returns how many were deleted.
   * Drivers also sweep in the background; this lets tests and tools run a sweep deterministically.
   */
  sweepExpired?(): Promise<number>;
}

/** Largest page a single `getRange` returns. */
export const MAX_RANGE_LIMIT = 10_000;

/** Storage configuration, after teleport.yaml's `teleport.storage` block. */
export interface StorageConfig {
  type: 'memory' | 'sqlite' | 'dir' | 'postgres' | 'postgresql' | 'cockroachdb';
  /** sqlite: directory holding `sqlite.db` (default `<data_dir>/backend`). */
  path?: string;
  /** postgres/cockroachdb connection URL. */
  conn_string?: string;
  /** Connection URL for the change stream (replication/changefeed); defaults to `conn_string`. */
  change_feed_conn_string?: string;
  /** cockroachdb row-level TTL job schedule, e.g. `*\/20 * * * *`. */
  ttl_job_cron?: string;
  audit_events_uri?: string[];
  audit_sessions_uri?: string;
}
