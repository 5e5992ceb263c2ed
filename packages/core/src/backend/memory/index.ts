import { randomUUID } from 'node:crypto';
import { systemClock, type Clock } from '../../clock/index.js';
import {
  AlreadyExistsError,
  BadParameterError,
  CompareFailedError,
  ConnectionProblemError,
  NotFoundError,
} from '../../errors/index.js';
import { validateConditionalActions, validateItemInput, validateKey } from '../keys.js';
import {
  MAX_RANGE_LIMIT,
  type Backend,
  type ConditionalAction,
  type GetRangeResult,
  type Item,
  type ItemInput,
  type Lease,
  type WatchOptions,
  type Watcher,
} from '../types.js';
import { Fanout } from '../watcher.js';
import { SortedKeys, compareCodePoints } from './sorted-keys.js';

export interface MemoryBackendOptions {
  clock?: Clock;
  /** How often the background sweep deletes expired items (real time). Default 1s; 0 disables it. */
  sweepIntervalMs?: number;
}

interface Entry {
  key: string;
  value: Uint8Array;
  /** Unix ms. */
  expires: number | undefined;
  revision: string;
}

const DEFAULT_SWEEP_INTERVAL_MS = 1000;

/**
 * An in-memory backend: the reference implementation of the {@link Backend} contract and the driver for
 * tests. Data lives as long as the object; there is no second instance sharing it.
 *
 * @example
 * ```ts
 * const clock = newFakeClock();
 * const bk = newMemoryBackend({ clock });
 * await bk.put({ key: '/tokens/abc', value: new TextEncoder().encode('{}'), expires: new Date(clock.now().getTime() + 60_000) });
 * ```
 */
export function newMemoryBackend(options: MemoryBackendOptions = {}): Backend {
  return new MemoryBackend(options);
}

class MemoryBackend implements Backend {
  readonly kind = 'memory';
  readonly clock: Clock;
  #index = new SortedKeys();
  #entries = new Map<string, Entry>();
  #fanout = new Fanout();
  #sweepTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: MemoryBackendOptions) {
    this.clock = options.clock ?? systemClock;
    const interval = options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS;
    if (interval > 0) {
      this.#sweepTimer = setInterval(() => this.#sweep(), interval);
      this.#sweepTimer.unref();
    }
  }

  async get(key: string): Promise<Item> {
    this.#checkOpen();
    validateKey(key);
    const e = this.#live(key, this.#now());
    if (!e) throw notFound(key);
    return toItem(e);
  }

  async getRange(start: string, end: string, limit?: number): Promise<GetRangeResult> {
    this.#checkOpen();
    validateKey(start);
    validateKey(end);
    const max = clampLimit(limit);
    const now = this.#now();
    const items: Item[] = [];
    for (const k of this.#index.scan(start, end)) {
      const e = this.#entries.get(k);
      if (!e || isExpired(e, now)) continue;
      items.push(toItem(e));
      if (items.length >= max) break;
    }
    return { items };
  }

  async create(item: ItemInput): Promise<Lease> {
    this.#checkOpen();
    validateItemInput(item);
    if (this.#live(item.key, this.#now())) throw new AlreadyExistsError(`key ${JSON.stringify(item.key)} already exists`);
    return this.#write(item, newRevision());
  }

  async put(item: ItemInput): Promise<Lease> {
    this.#checkOpen();
    validateItemInput(item);
    return this.#write(item, newRevision());
  }

  async update(item: ItemInput): Promise<Lease> {
    this.#checkOpen();
    validateItemInput(item);
    if (!this.#live(item.key, this.#now())) throw notFound(item.key);
    return this.#write(item, newRevision());
  }

  async compareAndSwap(expected: ItemInput, replaceWith: ItemInput): Promise<Lease> {
    this.#checkOpen();
    validateItemInput(expected);
    validateItemInput(replaceWith);
    if (expected.key !== replaceWith.key) throw new BadParameterError('expected and replaceWith keys should match');
    const e = this.#live(expected.key, this.#now());
    if (!e) throw new CompareFailedError(`key ${JSON.stringify(expected.key)} is not found`);
    if (!bytesEqual(e.value, expected.value)) throw new CompareFailedError(`current value of ${JSON.stringify(expected.key)} does not match the expected value`);
    return this.#write(replaceWith, newRevision());
  }

  async conditionalUpdate(item: ItemInput & { revision: string }): Promise<Lease> {
    this.#checkOpen();
    validateItemInput(item);
    const e = this.#live(item.key, this.#now());
    if (!e || e.revision !== item.revision) throw revisionMismatch(item.key);
    return this.#write(item, newRevision());
  }

  async conditionalDelete(key: string, revision: string): Promise<void> {
    this.#checkOpen();
    validateKey(key);
    const e = this.#live(key, this.#now());
    if (!e || e.revision !== revision) throw revisionMismatch(key);
    this.#remove(e);
  }

  async delete(key: string): Promise<void> {
    this.#checkOpen();
    validateKey(key);
    const e = this.#live(key, this.#now());
    if (!e) throw notFound(key);
    this.#remove(e);
  }

  async deleteRange(start: string, end: string): Promise<void> {
    this.#checkOpen();
    validateKey(start);
    validateKey(end);
    for (const k of this.#index.range(start, end)) {
      const e = this.#entries.get(k);
      if (e) this.#remove(e);
    }
  }

  async keepAlive(lease: Lease, expires: Date): Promise<void> {
    this.#checkOpen();
    validateKey(lease.key);
    if (!(expires instanceof Date) || !Number.isFinite(expires.getTime())) throw new BadParameterError('expires must be a valid Date');
    const e = this.#live(lease.key, this.#now());
    if (!e || (lease.revision !== '' && e.revision !== lease.revision)) throw notFound(lease.key);
    // Same revision: the lease stays valid for the next keepAlive.
    e.expires = expires.getTime();
    this.#fanout.emit({ type: 'put', item: toItem(e) });
  }

  async atomicWrite(actions: ConditionalAction[]): Promise<string> {
    this.#checkOpen();
    validateConditionalActions(actions);
    const now = this.#now();
    for (const a of actions) {
      const e = this.#live(a.key, now);
      const c = a.condition;
      const holds =
        c.kind === 'whatever' ||
        (c.kind === 'exists' && e !== undefined) ||
        (c.kind === 'not-exists' && e === undefined) ||
        (c.kind === 'revision' && e !== undefined && e.revision === c.revision);
      if (!holds) throw new CompareFailedError(`condition ${c.kind} failed for key ${JSON.stringify(a.key)}`);
    }
    const revision = newRevision();
    for (const a of actions) {
      if (a.action.kind === 'put') {
        this.#write({ key: a.key, value: a.action.item.value, expires: a.action.item.expires }, revision);
      } else if (a.action.kind === 'delete') {
        const e = this.#entries.get(a.key);
        if (e) this.#remove(e);
      }
    }
    return revision;
  }

  async newWatcher(options?: WatchOptions): Promise<Watcher> {
    this.#checkOpen();
    return this.#fanout.newWatcher(options);
  }

  async sweepExpired(): Promise<number> {
    this.#checkOpen();
    return this.#sweep();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#sweepTimer) clearInterval(this.#sweepTimer);
    this.#fanout.closeAll();
    this.#entries.clear();
  }

  #sweep(): number {
    const now = this.#now();
    const expired: Entry[] = [];
    for (const e of this.#entries.values()) if (isExpired(e, now)) expired.push(e);
    expired.sort((a, b) => compareCodePoints(a.key, b.key));
    for (const e of expired) this.#remove(e);
    return expired.length;
  }

  #write(item: ItemInput, revision: string): Lease {
    const e: Entry = {
      key: item.key,
      value: new Uint8Array(item.value),
      expires: item.expires?.getTime(),
      revision,
    };
    if (!this.#entries.has(e.key)) this.#index.insert(e.key);
    this.#entries.set(e.key, e);
    this.#fanout.emit({ type: 'put', item: toItem(e) });
    return { key: e.key, revision };
  }

  #remove(e: Entry): void {
    this.#entries.delete(e.key);
    this.#index.remove(e.key);
    this.#fanout.emit({ type: 'delete', item: { key: e.key, revision: e.revision } });
  }

  #live(key: string, now: number): Entry | undefined {
    const e = this.#entries.get(key);
    return e && !isExpired(e, now) ? e : undefined;
  }

  #now(): number {
    return this.clock.now().getTime();
  }

  #checkOpen(): void {
    if (this.#closed) throw new ConnectionProblemError('memory backend is closed');
  }
}

function isExpired(e: Entry, now: number): boolean {
  return e.expires !== undefined && e.expires <= now;
}

function toItem(e: Entry): Item {
  return {
    key: e.key,
    value: new Uint8Array(e.value),
    expires: e.expires === undefined ? undefined : new Date(e.expires),
    revision: e.revision,
  };
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

function clampLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit) || limit <= 0) return MAX_RANGE_LIMIT;
  return Math.min(Math.floor(limit), MAX_RANGE_LIMIT);
}

const newRevision = (): string => randomUUID();

const notFound = (key: string): NotFoundError => new NotFoundError(`key ${JSON.stringify(key)} is not found`);

const revisionMismatch = (key: string): CompareFailedError =>
  new CompareFailedError(`key ${JSON.stringify(key)} is missing or its revision has changed`);
