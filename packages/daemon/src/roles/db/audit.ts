/**
 * Audit events recorded by a service away from the auth server (the db agent, the proxy), sent to the auth server in
 * batches. Recording never blocks or fails a session: events queue (bounded) and are retried until the auth server
 * takes them; each has its uid from the start, so a retried batch is stored once. Events are sent
 * {@link DEFAULT_AUDIT_FLUSH_DELAY_MS} after the first of a batch (at once when a batch is full): one request per
 * query would cost more than the query (measured: `select 1` through the whole chain took 4.9 ms with a request per
 * event, 0.7 ms without).
 */

import type { AuthClient } from '@teleport-ts/core/api';
import { newAuditEvent, type AuditEvent, type AuditEventFields, type AuditEventKey } from '@teleport-ts/core/audit';
import { jitteredBackoff } from '@teleport-ts/core/backend';
import type { Clock } from '@teleport-ts/core/clock';
import { redact } from '@teleport-ts/core/errors';
import type { Logger } from '../../logger.js';

/** Events kept while the auth server is unreachable; the oldest are dropped (and counted) past this. */
export const DEFAULT_AUDIT_QUEUE_LIMIT = 10_000;
const BATCH_SIZE = 100;
/** How long an event may wait for others to share its request. */
export const DEFAULT_AUDIT_FLUSH_DELAY_MS = 200;

export interface ServiceAuditEmitter {
  /** Queues a catalogued event (time and uid are set now). */
  emit(key: AuditEventKey, fields: AuditEventFields): void;
  /** Resolves when everything queued so far has been stored (or `timeoutMs` passed). */
  flush(timeoutMs?: number): Promise<void>;
  /** Flushes (up to 5 s) and stops. */
  close(): Promise<void>;
}

export interface ServiceAuditEmitterOptions {
  auth: Pick<AuthClient, 'emitAuditEvents'>;
  clock: Clock;
  logger: Pick<Logger, 'warn'>;
  queueLimit?: number;
  /** Default {@link DEFAULT_AUDIT_FLUSH_DELAY_MS}. */
  flushDelayMs?: number;
}

/**
 * @example
 * ```ts
 * const audit = newServiceAuditEmitter({ auth, clock, logger });
 * audit.emit('databaseSessionStart', { user: 'alice', db_service: 'orders', success: true });
 * ```
 */
export function newServiceAuditEmitter(options: ServiceAuditEmitterOptions): ServiceAuditEmitter {
  const limit = options.queueLimit ?? DEFAULT_AUDIT_QUEUE_LIMIT;
  const flushDelayMs = options.flushDelayMs ?? DEFAULT_AUDIT_FLUSH_DELAY_MS;
  let batchTimer: NodeJS.Timeout | undefined;
  const queue: AuditEvent[] = [];
  let sending: Promise<void> | undefined;
  let attempt = 0;
  let dropped = 0;
  let closed = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let waiters: (() => void)[] = [];

  const drain = async (): Promise<void> => {
    while (queue.length > 0) {
      const batch = queue.slice(0, BATCH_SIZE);
      try {
        await options.auth.emitAuditEvents(batch);
        queue.splice(0, batch.length);
        attempt = 0;
      } catch (err) {
        attempt++;
        options.logger.warn('could not send audit events to the auth server, will retry', { events: queue.length, error: redact((err as Error).message) });
        if (closed) return;
        await new Promise<void>((resolve) => {
          retryTimer = setTimeout(resolve, jitteredBackoff(attempt, { baseMs: 500, maxMs: 30_000 }));
        });
        retryTimer = undefined;
        if (closed) return;
      }
    }
    for (const wake of waiters.splice(0)) wake();
  };

  const start = (): void => {
    if (batchTimer !== undefined) clearTimeout(batchTimer);
    batchTimer = undefined;
    if (sending !== undefined) return;
    sending = drain().finally(() => {
      sending = undefined;
      if (queue.length > 0 && !closed) kick();
    });
  };
  /** Sends soon: at once when asked or when a batch is full, else after the batching delay. A running send picks new events up. */
  const kick = (immediate = false): void => {
    if (sending !== undefined) return;
    if (immediate || queue.length >= BATCH_SIZE) {
      start();
      return;
    }
    if (batchTimer === undefined) {
      batchTimer = setTimeout(start, flushDelayMs);
      batchTimer.unref();
    }
  };

  const flush = (timeoutMs = 10_000): Promise<void> => {
    if (queue.length === 0 && sending === undefined) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
      kick(true);
    });
  };

  return {
    emit(key, fields) {
      if (closed) return;
      queue.push(newAuditEvent(key, fields, { clock: options.clock }));
      if (queue.length > limit) {
        queue.shift();
        if (dropped++ % 1000 === 0) options.logger.warn('audit queue full: dropping the oldest events', { limit, dropped });
      }
      kick();
    },
    flush,
    async close() {
      await flush(5_000);
      closed = true;
      if (retryTimer !== undefined) clearTimeout(retryTimer);
      if (batchTimer !== undefined) clearTimeout(batchTimer);
      for (const wake of waiters.splice(0)) wake();
      waiters = [];
    },
  };
}
