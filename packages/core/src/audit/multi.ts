import { ConnectionProblemError } from '../errors/index.js';
import { toEventRow } from './validate.js';
import type { AuditEvent, AuditEventStore, SearchEventsRequest, SearchEventsResult } from './types.js';

/**
 * Fans out to several stores, as Teleport does with several `audit_events_uri`: `emit`, retention and
 * `close` go to every store, `search` reads the first (and the counts returned are the first's). An `emit` that fails on some stores still reaches
 * the others, then fails (with every cause in an `AggregateError`) so that the caller knows.
 *
 * @example
 * ```ts
 * const store = newMultiAuditStore([primary, mirror]);
 * ```
 */
export function newMultiAuditStore(stores: readonly AuditEventStore[]): AuditEventStore {
  const [first] = stores;
  if (first === undefined) throw new TypeError('newMultiAuditStore needs at least one store');
  if (stores.length === 1) return first;

  const all = async <T>(what: string, fn: (s: AuditEventStore) => Promise<T>): Promise<T[]> => {
    const results = await Promise.allSettled(stores.map(fn));
    const errors = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) {
      const aggregate = new AggregateError(errors, `${what} failed on ${errors.length} of ${stores.length} audit stores`);
      const firstMessage = errors[0] instanceof Error ? errors[0].message : String(errors[0]);
      throw new ConnectionProblemError(`${aggregate.message}: ${firstMessage}`, { cause: aggregate });
    }
    return results.map((r) => (r as PromiseFulfilledResult<T>).value);
  };

  return {
    async emit(event: AuditEvent): Promise<void> {
      // A malformed event is the caller's fault, once, not a failure of every store.
      toEventRow(event);
      await all('emit', (s) => s.emit(event));
    },
    async emitMany(events: readonly AuditEvent[]): Promise<void> {
      for (const event of events) toEventRow(event);
      await all('emitMany', (s) => s.emitMany(events));
    },
    search(request: SearchEventsRequest): Promise<SearchEventsResult> {
      return first.search(request);
    },
    async deleteOlderThan(date: Date): Promise<number> {
      const counts = await all('deleteOlderThan', (s) => s.deleteOlderThan(date));
      return counts[0] ?? 0;
    },
    async sweep(): Promise<number> {
      const counts = await all('sweep', (s) => s.sweep());
      return counts[0] ?? 0;
    },
    async close(): Promise<void> {
      await all('close', (s) => s.close());
    },
  };
}
