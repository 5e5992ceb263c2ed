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
import { isTeleportError, redact, type TeleportError } from '@teleport-ts/core/errors';
import type { Logger } from '../../logger.js';
import { openAuditSpool, type AuditSpool } from './audit-spool.js';

/** Events kept while the auth server is unreachable; the oldest are dropped (and counted) past this. */
const DEFAULT_AUDIT_QUEUE_LIMIT = 10_000;
/** Most events per request (the auth server's `MAX_EMITTED_EVENTS`). */
const BATCH_SIZE = 1000;
/** Largest event sent, as JSON: under the auth server's 64 KiB per event, with room for the fields it adds. */
const MAX_SENT_EVENT_BYTES = 60 * 1024;
/** Largest batch, as JSON: under the auth server's 1 MiB request body. */
const MAX_BATCH_BYTES = 768 * 1024;
/** How long an event may wait for others to share its request. */
const DEFAULT_AUDIT_FLUSH_DELAY_MS = 200;

export interface ServiceAuditEmitter {
  /** Queues a catalogued event (time and uid are set now). */
  emit(key: AuditEventKey, fields: AuditEventFields): void;
  /** Resolves when everything queued so far has been stored (or `timeoutMs` passed). */
  flush(timeoutMs?: number): Promise<void>;
  /** Flushes (up to 5 s) and stops. */
  close(): Promise<void>;
  /** Events queued and not yet stored by the auth server (the `teleport_audit_queue_depth` metric). */
  depth(): number;
}

export interface ServiceAuditEmitterOptions {
  auth: Pick<AuthClient, 'emitAuditEvents'>;
  clock: Clock;
  logger: Pick<Logger, 'warn'>;
  queueLimit?: number;
  /** Default {@link DEFAULT_AUDIT_FLUSH_DELAY_MS}. */
  flushDelayMs?: number;
  /**
   * A file that keeps unsent events across a crash (`audit-spool.ts`); events a previous process left there are
   * sent first. Without it, events still queued when the process dies are lost.
   */
  spoolFile?: string;
}

interface Queued {
  event: AuditEvent;
  /** Its JSON size in UTF-8 bytes, or an upper bound of it. */
  bytes: number;
  /** The auth server refused a batch holding it: it goes alone from now on. */
  alone?: boolean;
}

/**
 * Refusals of what was sent, which a retry would only repeat. Access-denied is not one: it is about who sends (a
 * certificate no longer trusted, a lock on the service), so the events wait for that to be fixed.
 */
const PERMANENT = new Set(['bad-parameter', 'limit-exceeded', 'not-found']);

/** An upper bound of {@link jsonBytes}, without serializing strings. */
function jsonBytesBound(event: AuditEvent): number {
  let n = 2;
  for (const key in event) {
    const value = event[key];
    n += key.length * 6 + 4;
    if (typeof value === 'string') n += value.length * 6 + 2;
    else if (Array.isArray(value) && value.every((v) => typeof v === 'string' || v === null)) for (const v of value) n += (v === null ? 4 : v.length * 6 + 2) + 1;
    else n += Buffer.byteLength(JSON.stringify(value) ?? 'null', 'utf8');
  }
  return n;
}

function jsonBytes(event: AuditEvent): number {
  return Buffer.byteLength(JSON.stringify(event), 'utf8');
}

/**
 * The event with its JSON size, shortened to {@link MAX_SENT_EVENT_BYTES} when needed: bind parameters go first,
 * then the statement is cut (and `db_query_truncated` set), so a long statement is still recorded rather than
 * refused by the auth server. `undefined` when even that does not fit.
 */
function sized(event: AuditEvent): Queued | undefined {
  // Every query is an event: a cheap upper bound first (JSON spends at most 6 bytes on a character), the exact
  // size only for events that may be too large. Serializing each event once more cost ~10 us per query.
  const bound = jsonBytesBound(event);
  if (bound <= MAX_SENT_EVENT_BYTES) return { event, bytes: bound };
  let bytes = jsonBytes(event);
  if (bytes <= MAX_SENT_EVENT_BYTES) return { event, bytes };
  const shortened: AuditEvent = { ...event };
  if (shortened['db_query_parameters'] !== undefined) {
    delete shortened['db_query_parameters'];
    shortened['db_query_truncated'] = true;
    bytes = jsonBytes(shortened);
  }
  for (let i = 0; i < 8 && bytes > MAX_SENT_EVENT_BYTES && typeof shortened['db_query'] === 'string'; i++) {
    const query = shortened['db_query'];
    // JSON may spend up to 6 bytes on one character: cut in proportion, with margin, and measure again.
    const keep = Math.max(0, Math.floor(query.length * (MAX_SENT_EVENT_BYTES / bytes) * 0.9) - 64);
    shortened['db_query'] = query.slice(0, keep);
    shortened['db_query_truncated'] = true;
    bytes = jsonBytes(shortened);
  }
  return bytes <= MAX_SENT_EVENT_BYTES ? { event: shortened, bytes } : undefined;
}

/** The emitter's state: the queue, the send in flight, its timers, and who waits for a flush. */
interface EmitterState {
  options: ServiceAuditEmitterOptions;
  limit: number;
  flushDelayMs: number;
  queue: Queued[];
  batchTimer: NodeJS.Timeout | undefined;
  retryTimer: NodeJS.Timeout | undefined;
  sending: Promise<void> | undefined;
  /** Failed sends in a row (the backoff's attempt). */
  attempt: number;
  dropped: number;
  closed: boolean;
  waiters: (() => void)[];
  spool: AuditSpool | undefined;
}

/** The next batch: up to BATCH_SIZE events and MAX_BATCH_BYTES of JSON (at least one event). */
function nextBatch(queue: readonly Queued[]): Queued[] {
  let bytes = 0;
  let n = 0;
  while (n < queue.length && n < BATCH_SIZE && (n === 0 || (!queue[n]!.alone && !queue[0]!.alone && bytes + queue[n]!.bytes <= MAX_BATCH_BYTES))) {
    bytes += queue[n++]!.bytes;
  }
  return queue.slice(0, n);
}

/**
 * A refused batch: its events go one by one from now on, and an event refused on its own is dropped (and reported).
 * Sending it again would be refused again, and would hold back every event behind it.
 */
function onRefused(state: EmitterState, batch: Queued[], err: TeleportError): void {
  if (batch.length === 1) {
    state.queue.shift();
    state.options.logger.warn('the auth server refused an audit event, dropping it', { event: batch[0]!.event.event, error: redact(err.message) });
  } else {
    for (const q of batch) q.alone = true;
  }
}

/**
 * Longest wait between two sends to an unreachable auth server: short, since what waits is the audit trail of
 * sessions that already ran (and one small request per agent every few seconds costs an auth server little).
 */
const MAX_RETRY_MS = 8_000;

/** Waits out the backoff after a failed send; false when the emitter closed meanwhile. */
async function backOff(state: EmitterState, err: unknown): Promise<boolean> {
  state.attempt++;
  state.options.logger.warn('could not send audit events to the auth server, will retry', { events: state.queue.length, error: redact((err as Error).message) });
  if (state.closed) return false;
  await new Promise<void>((resolve) => {
    state.retryTimer = setTimeout(resolve, jitteredBackoff(state.attempt, { baseMs: 500, maxMs: MAX_RETRY_MS }));
  });
  state.retryTimer = undefined;
  return !state.closed;
}

/**
 * Sends batches until the queue is empty, then wakes whoever waits for a flush. After a send, a partial batch waits
 * out the batching delay again (unless a flush is awaited): sent back to back, a busy agent's requests would carry
 * the few events of one round trip each, and each request costs both sides far more than an event.
 */
async function drain(state: EmitterState): Promise<void> {
  const { queue } = state;
  while (queue.length > 0) {
    const batch = nextBatch(queue);
    try {
      await state.options.auth.emitAuditEvents(batch.map((q) => q.event));
      queue.splice(0, batch.length);
      state.attempt = 0;
      if (queue.length > 0 && queue.length < BATCH_SIZE && state.waiters.length === 0 && !state.closed) return;
    } catch (err) {
      if (isTeleportError(err) && PERMANENT.has(err.kind)) {
        onRefused(state, batch, err);
        continue;
      }
      if (!(await backOff(state, err))) return;
    }
  }
  state.spool?.emptied();
  for (const wake of state.waiters.splice(0)) wake();
}

function startSending(state: EmitterState): void {
  if (state.batchTimer !== undefined) clearTimeout(state.batchTimer);
  state.batchTimer = undefined;
  if (state.sending !== undefined) return;
  state.sending = drain(state).finally(() => {
    state.sending = undefined;
    if (state.queue.length > 0 && !state.closed) kick(state);
  });
}

/** Sends soon: at once when asked or when a batch is full, else after the batching delay. A running send picks new events up. */
function kick(state: EmitterState, immediate = false): void {
  if (state.sending !== undefined) return;
  if (immediate || state.queue.length >= BATCH_SIZE) {
    startSending(state);
    return;
  }
  if (state.batchTimer === undefined) {
    state.batchTimer = setTimeout(() => startSending(state), state.flushDelayMs);
    state.batchTimer.unref();
  }
}

function flush(state: EmitterState, timeoutMs = 10_000): Promise<void> {
  if (state.queue.length === 0 && state.sending === undefined) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    state.waiters.push(() => {
      clearTimeout(timer);
      resolve();
    });
    kick(state, true);
  });
}

function emit(state: EmitterState, key: AuditEventKey, fields: AuditEventFields): void {
  if (state.closed) return;
  const queued = sized(newAuditEvent(key, fields, { clock: state.options.clock }));
  if (queued === undefined) {
    state.options.logger.warn('an audit event is too large to send even shortened, dropping it', { event: key });
    return;
  }
  state.spool?.append(queued.event);
  state.queue.push(queued);
  if (state.queue.length > state.limit) {
    state.queue.shift();
    if (state.dropped++ % 1000 === 0) state.options.logger.warn('audit queue full: dropping the oldest events', { limit: state.limit, dropped: state.dropped });
  }
  kick(state);
}

async function close(state: EmitterState): Promise<void> {
  await flush(state, 5_000);
  state.closed = true;
  if (state.retryTimer !== undefined) clearTimeout(state.retryTimer);
  if (state.batchTimer !== undefined) clearTimeout(state.batchTimer);
  for (const wake of state.waiters.splice(0)) wake();
  state.waiters = [];
  state.spool?.close();
}

/** What a previous process left in the spool goes first (each event as it was, with its uid). */
function requeueSpooled(state: EmitterState): void {
  for (const event of state.spool?.pending ?? []) {
    const queued = sized(event);
    if (queued !== undefined) state.queue.push(queued);
  }
  if (state.queue.length > 0) kick(state);
}

/**
 * @example
 * ```ts
 * const audit = newServiceAuditEmitter({ auth, clock, logger });
 * audit.emit('databaseSessionStart', { user: 'alice', db_service: 'orders', success: true });
 * ```
 */
export function newServiceAuditEmitter(options: ServiceAuditEmitterOptions): ServiceAuditEmitter {
  const state: EmitterState = {
    options,
    limit: options.queueLimit ?? DEFAULT_AUDIT_QUEUE_LIMIT,
    flushDelayMs: options.flushDelayMs ?? DEFAULT_AUDIT_FLUSH_DELAY_MS,
    queue: [],
    batchTimer: undefined,
    retryTimer: undefined,
    sending: undefined,
    attempt: 0,
    dropped: 0,
    closed: false,
    waiters: [],
    spool: options.spoolFile !== undefined ? openAuditSpool(options.spoolFile) : undefined,
  };
  requeueSpooled(state);
  return {
    emit: (key, fields) => emit(state, key, fields),
    flush: (timeoutMs) => flush(state, timeoutMs),
    close: () => close(state),
    depth: () => state.queue.length,
  };
}
