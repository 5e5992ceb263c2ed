/**
 * `db_service.workers`: a db agent that serves sessions from several processes, since one Node process relays on
 * one core (TLS on both sides, the PostgreSQL tap, audit). The process `teleport-ts start` runs (the primary) joins,
 * heartbeats, renews the identity and serves sessions like a single agent; it forks `workers - 1` more processes
 * (`node:cluster`, the same program and arguments) that each load the identity the primary wrote, keep their own
 * reverse tunnels to the proxies and serve the sessions that come over them, with their own audit queue and spool.
 * The proxy spreads an agent's sessions over its processes' tunnels (fewest open streams first, see
 * `core/tunnel/server.ts`). A renewed certificate or changed CAs reach the workers as a message from the primary;
 * a worker that dies is started again; the primary stops them when it stops.
 */

import cluster, { type Worker } from 'node:cluster';
import os from 'node:os';
import type { Logger } from '../../logger.js';

/** Set in a worker's environment: its number (1 and up). */
const DB_WORKER_ENV = 'TELEPORT_TS_DB_WORKER';
/** How long a stopping worker may take before it is killed. */
const WORKER_STOP_MS = 10_000;
/** A worker that died is started again after this. */
const RESTART_DELAY_MS = 1_000;

/** What the primary tells its workers. */
type WorkerMessage = { type: 'identity-renewed' } | { type: 'cas-changed' };

/** This process's worker number, or undefined in the primary (or a process without workers). */
export function databaseWorkerIndex(): number | undefined {
  const raw = process.env[DB_WORKER_ENV];
  return cluster.isWorker && raw !== undefined && /^[1-9][0-9]*$/.test(raw) ? Number(raw) : undefined;
}

/** `workers` from the configuration as a count: `auto` is one per CPU core; default 1. */
export function resolveWorkerCount(workers: number | 'auto' | undefined): number {
  if (workers === 'auto') return Math.max(1, os.availableParallelism());
  return workers ?? 1;
}

interface DatabaseWorkers {
  /** Sends a message to every running worker. */
  broadcast(message: WorkerMessage): void;
  /** Processes running now (the primary not counted). */
  pids(): number[];
  /** Stops the workers (SIGTERM, then SIGKILL after {@link WORKER_STOP_MS}). */
  close(): Promise<void>;
}

/**
 * Forks `count - 1` workers running this program with the same arguments (the primary is the first of `count`).
 *
 * @example
 * ```ts
 * const workers = forkDatabaseWorkers(4, logger); // three more processes
 * renewal.onNewCert = () => workers.broadcast({ type: 'identity-renewed' });
 * ```
 */
export function forkDatabaseWorkers(count: number, logger: Logger): DatabaseWorkers {
  const running = new Map<number, Worker>();
  let closed = false;
  const fork = (index: number): void => {
    const worker = cluster.fork({ [DB_WORKER_ENV]: String(index) });
    running.set(index, worker);
    worker.on('exit', (code, signal) => {
      if (running.get(index) === worker) running.delete(index);
      if (closed) return;
      logger.warn('database worker exited, starting it again', { worker: index, code: code ?? '', signal: signal ?? '' });
      setTimeout(() => {
        if (!closed) fork(index);
      }, RESTART_DELAY_MS).unref();
    });
  };
  for (let i = 1; i < count; i++) fork(i);
  logger.info('database workers started', { workers: count });
  return {
    broadcast(message) {
      for (const worker of running.values()) if (worker.isConnected()) worker.send(message);
    },
    pids: () => [...running.values()].map((w) => w.process.pid).filter((pid): pid is number => pid !== undefined),
    async close() {
      closed = true;
      await Promise.all(
        [...running.values()].map(async (worker) => {
          if (worker.process.exitCode !== null || worker.process.signalCode !== null) return;
          const exited = new Promise((resolve) => worker.once('exit', resolve));
          worker.process.kill('SIGTERM');
          const timer = setTimeout(() => worker.process.kill('SIGKILL'), WORKER_STOP_MS);
          await exited;
          clearTimeout(timer);
        }),
      );
      running.clear();
    },
  };
}

/** In a worker: runs `onMessage` for the primary's messages, and `onOrphaned` when the primary is gone. */
export function listenToPrimary(onMessage: (message: WorkerMessage) => void, onOrphaned: () => void): () => void {
  const handler = (message: unknown): void => {
    const type = (message as { type?: unknown } | null)?.type;
    if (type === 'identity-renewed' || type === 'cas-changed') onMessage({ type });
  };
  process.on('message', handler);
  process.once('disconnect', onOrphaned);
  return () => {
    process.off('message', handler);
    process.off('disconnect', onOrphaned);
  };
}
