import { ConnectionProblemError, redact } from '../../errors/index.js';
import { jitteredBackoff } from '../retry.js';
import type { BackendEvent, WatchOptions, Watcher } from '../types.js';
import { Fanout } from '../watcher.js';
import type { ChangeFeed } from './backend.js';
import { publishDiagnostic } from './diagnostics.js';

/** What a feed session reports to the loop that runs it. */
export interface FeedSink {
  /** An event, in commit order. */
  emit(event: BackendEvent): void;
  /** From now on every committed change will be emitted: watchers may get `init`. */
  ready(): void;
}

/** One connection's worth of change stream. */
export interface FeedSession {
  /** Settles with the reason when the session breaks (connection lost, stream error, lost event). */
  readonly broken: Promise<Error>;
  /** Ends the session and its connection; safe to call more than once. */
  stop(): Promise<void>;
  /**
   * Calls `onReached` synchronously at the point of the stream where every change committed before this
   * call has been emitted and none committed after it has. Rejects when the session breaks first.
   */
  barrier?(onReached: () => void): Promise<void>;
}

export interface ResilientFeedOptions {
  /** Driver name for messages. */
  kind: string;
  /** Opens a session: connects, starts streaming into `sink`, calls `sink.ready()` once complete. */
  connect(sink: FeedSink): Promise<FeedSession>;
  /** How long `newWatcher` waits for the session's barrier before attaching the watcher anyway (default 10 s). */
  barrierTimeoutMs?: number;
  /** Reconnect backoff, jittered (default 100..5000 ms). */
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
}

/**
 * Runs feed sessions one after another for the life of a backend. When a session breaks, every watcher
 * is closed with a `connection-problem` reason (`Fanout.reset`: callers must re-read and watch again),
 * then a new session is opened after a jittered backoff; its `ready()` sends `init` to new watchers.
 * Events of a broken session that arrive late are dropped. New watchers are attached at a session
 * barrier when the session offers one, so that a write which completed before `newWatcher()` was called
 * never shows up as an event after `init`.
 */
export class ResilientFeed implements ChangeFeed {
  readonly fanout = new Fanout({ ready: false });
  readonly #options: ResilientFeedOptions;
  #generation = 0;
  #closed = false;
  #session: FeedSession | undefined;
  #wakeUp: (() => void) | undefined;
  #closedSignal: Promise<void>;
  #signalClosed!: () => void;
  #loop: Promise<void> | undefined;

  constructor(options: ResilientFeedOptions) {
    this.#options = options;
    this.#closedSignal = new Promise((resolve) => {
      this.#signalClosed = resolve;
    });
  }

  /**
   * Opens the first session and resolves once it is ready; rejects (and stops) when that first session
   * cannot be opened or breaks before it is ready. Later failures are handled by reconnecting.
   */
  async start(): Promise<void> {
    let firstReady!: () => void;
    let firstFailed!: (err: Error) => void;
    const first = new Promise<void>((resolve, reject) => {
      firstReady = resolve;
      firstFailed = reject;
    });
    this.#loop = this.#run(firstReady, firstFailed);
    try {
      await first;
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  async #run(firstReady: () => void, firstFailed: (err: Error) => void): Promise<void> {
    let attempt = 0;
    let everReady = false;
    while (!this.#closed) {
      const generation = ++this.#generation;
      let wasReady = false;
      try {
        const sink: FeedSink = {
          emit: (event) => {
            if (generation === this.#generation && !this.#closed) this.fanout.emit(event);
          },
          ready: () => {
            if (generation !== this.#generation || this.#closed) return;
            wasReady = true;
            publishDiagnostic({ event: 'change-feed-ready', backend: this.#options.kind, attempt });
            attempt = 0;
            this.fanout.init();
            if (!everReady) {
              everReady = true;
              firstReady();
            }
          },
        };
        const session = await this.#options.connect(sink);
        this.#session = session;
        if (this.#closed) {
          await session.stop();
          break;
        }
        const reason = await Promise.race([session.broken, this.#closedSignal.then(() => undefined)]);
        // Invalidate the session before stopping it, so that nothing it still delivers reaches watchers.
        this.#generation++;
        this.#session = undefined;
        await session.stop();
        if (this.#closed || reason === undefined) break;
        throw reason;
      } catch (err) {
        this.#generation++;
        if (this.#closed) break;
        const message = redact(err instanceof Error ? err.message : String(err));
        if (!everReady) {
          firstFailed(new ConnectionProblemError(`${this.#options.kind} change feed could not start: ${message}`, { cause: err }));
          return;
        }
        if (this.fanout.ready || wasReady) {
          publishDiagnostic({ event: 'change-feed-reset', backend: this.#options.kind, reason: message });
          this.fanout.reset(
            new ConnectionProblemError(`${this.#options.kind} change feed was interrupted: ${message}`, { cause: err }),
          );
        }
        const delay = jitteredBackoff(attempt++, {
          baseMs: this.#options.reconnectBaseMs ?? 100,
          maxMs: this.#options.reconnectMaxMs ?? 5000,
        });
        publishDiagnostic({ event: 'change-feed-error', backend: this.#options.kind, reason: message, retryInMs: delay });
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay);
          this.#wakeUp = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.#wakeUp = undefined;
      }
    }
  }

  /**
   * A watcher whose `init` marks a point after every write that completed before this call: attached at
   * the session's barrier while the feed is up, otherwise at once (it then waits for the next `init`).
   */
  async newWatcher(options?: WatchOptions): Promise<Watcher> {
    const session = this.#session;
    if (!session?.barrier || !this.fanout.ready) return this.fanout.newWatcher(options);
    let watcher: Watcher | undefined;
    let gaveUp = false;
    let timer: NodeJS.Timeout | undefined;
    const attach = (): void => {
      if (!gaveUp && !watcher) watcher = this.fanout.newWatcher(options);
    };
    try {
      await Promise.race([
        session.barrier(attach),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, this.#options.barrierTimeoutMs ?? 10_000);
        }),
      ]);
    } catch {
      // The session broke: the watcher below waits for the next session's init.
    } finally {
      clearTimeout(timer);
    }
    gaveUp = true;
    return watcher ?? this.fanout.newWatcher(options);
  }

  async close(): Promise<void> {
    if (this.#closed) {
      await this.#loop;
      return;
    }
    this.#closed = true;
    this.#generation++;
    this.#signalClosed();
    this.#wakeUp?.();
    await this.#session?.stop();
    await this.#loop;
  }
}
