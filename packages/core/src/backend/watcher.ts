import { ConnectionProblemError, LimitExceededError } from '../errors/index.js';
import { matchesPrefixes } from './keys.js';
import type { BackendEvent, WatchOptions, Watcher } from './types.js';

const DEFAULT_QUEUE_SIZE = 64 * 1024;

/**
 * A watcher fed by a driver: events are queued until the consumer pulls them. A consumer that falls more
 * than `queueSize` events behind is closed (it must reset) rather than let memory grow without bound.
 */
export class QueueWatcher implements Watcher {
  readonly name: string;
  readonly prefixes: readonly string[];
  readonly done: Promise<void>;
  #resolveDone!: () => void;
  #queue: BackendEvent[] = [];
  #waiting: ((r: IteratorResult<BackendEvent>) => void) | undefined;
  #closed = false;
  #reason: Error | undefined;
  #queueSize: number;
  #onClose: ((w: QueueWatcher) => void) | undefined;

  constructor(options: WatchOptions = {}, onClose?: (w: QueueWatcher) => void) {
    this.name = options.name ?? 'watcher';
    this.prefixes = [...(options.prefixes ?? [])];
    this.#queueSize = options.queueSize ?? DEFAULT_QUEUE_SIZE;
    this.#onClose = onClose;
    this.done = new Promise((resolve) => {
      this.#resolveDone = resolve;
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  get closeReason(): Error | undefined {
    return this.#reason;
  }

  /** Queues an event if its key matches the watcher's prefixes. */
  push(event: BackendEvent): void {
    if (this.#closed) return;
    if (event.type !== 'init' && !matchesPrefixes(event.item.key, this.prefixes)) return;
    if (this.#waiting) {
      const w = this.#waiting;
      this.#waiting = undefined;
      w({ value: event, done: false });
      return;
    }
    if (this.#queue.length >= this.#queueSize) {
      this.closeWith(new LimitExceededError(`watcher ${this.name} fell behind by more than ${this.#queueSize} events`));
      return;
    }
    this.#queue.push(event);
  }

  /** Closes the watcher for a reason (stream broken, backend closed); queued events are dropped. */
  closeWith(reason: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#reason = reason;
    this.#queue = [];
    if (this.#waiting) {
      const w = this.#waiting;
      this.#waiting = undefined;
      w({ value: undefined, done: true });
    }
    this.#onClose?.(this);
    this.#resolveDone();
  }

  close(): void {
    this.closeWith(undefined);
  }

  [Symbol.asyncIterator](): AsyncIterator<BackendEvent> {
    return {
      next: () => {
        const ev = this.#queue.shift();
        if (ev) return Promise.resolve({ value: ev, done: false });
        if (this.#closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          this.#waiting = resolve;
        });
      },
      return: () => {
        this.close();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}

/**
 * Fans a driver's single ordered event stream out to many watchers. Drivers call `emit` in commit order;
 * `newWatcher` returns a watcher whose first event is `init` (sent at once when `ready`, or by `init()`).
 */
export class Fanout {
  #watchers = new Set<QueueWatcher>();
  #ready: boolean;

  constructor(options: { ready?: boolean } = {}) {
    this.#ready = options.ready ?? true;
  }

  get size(): number {
    return this.#watchers.size;
  }

  get ready(): boolean {
    return this.#ready;
  }

  newWatcher(options: WatchOptions = {}): QueueWatcher {
    const w = new QueueWatcher(options, (x) => this.#watchers.delete(x));
    this.#watchers.add(w);
    if (this.#ready) w.push({ type: 'init' });
    return w;
  }

  /** The change stream is live: watchers waiting for `init` get it. */
  init(): void {
    if (this.#ready) return;
    this.#ready = true;
    for (const w of this.#watchers) w.push({ type: 'init' });
  }

  emit(event: BackendEvent): void {
    if (!this.#ready) return;
    for (const w of this.#watchers) w.push(event);
  }

  /** The change stream broke: close every watcher (they must reset) and wait for the next `init()`. */
  reset(reason: Error = new ConnectionProblemError('backend change stream was interrupted')): void {
    this.#ready = false;
    for (const w of [...this.#watchers]) w.closeWith(reason);
  }

  closeAll(reason?: Error): void {
    for (const w of [...this.#watchers]) w.closeWith(reason);
  }
}
