import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { newFakeClock, type Clock } from '../../src/clock/index.js';
import { isKind } from '../../src/errors/index.js';
import type { AuditEvent, AuditEventStore, SearchEventsRequest } from '../../src/audit/index.js';

/**
 * How the compliance suite gets stores of one driver. `newLocation` returns a fresh, empty place (a file,
 * a database); every store opened on the same location shares its events.
 */
export interface AuditStoreHarness<L> {
  newLocation(): Promise<L>;
  open(location: L, options: { clock: Clock; retentionDays?: number }): Promise<AuditEventStore>;
  /**
   * What a driver stores for a string holding NUL: sqlite keeps it, postgres (jsonb) stores U+FFFD.
   * Default: the string unchanged.
   */
  storedNul?: (s: string) => string;
}

const T0 = new Date('2026-03-01T12:00:00.000Z');
const DAY = 24 * 60 * 60 * 1000;

/** An event at `T0 + offsetMs`. */
export function eventAt(offsetMs: number, fields: Partial<AuditEvent> = {}): AuditEvent {
  return {
    uid: randomUUID(),
    event: 'user.login',
    code: 'T1000I',
    time: new Date(T0.getTime() + offsetMs).toISOString(),
    cluster_name: 'example.com',
    user: 'alice',
    success: true,
    ...fields,
  } as AuditEvent;
}

/** Every page of a search, and the number of pages. */
export async function searchAll(store: AuditEventStore, req: Omit<SearchEventsRequest, 'startKey'>): Promise<{ events: AuditEvent[]; pages: number }> {
  const events: AuditEvent[] = [];
  let startKey: string | undefined;
  let pages = 0;
  do {
    const page = await store.search({ ...req, startKey });
    pages++;
    events.push(...page.events);
    startKey = page.nextKey;
    if (pages > 10_000) throw new Error('search never ends');
  } while (startKey !== undefined);
  return { events, pages };
}

const ALL = { from: new Date(T0.getTime() - 1000 * DAY), to: new Date(T0.getTime() + 1000 * DAY) };

/** Sort key of the store's order: time, then uid (byte order; uids here are ASCII). */
function byTimeThenUid(a: AuditEvent, b: AuditEvent): number {
  const dt = Date.parse(a.time) - Date.parse(b.time);
  if (dt !== 0) return dt;
  return a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0;
}

/** The one audit store compliance suite; every driver runs it. */
export function runAuditStoreCompliance<L>(name: string, getHarness: () => AuditStoreHarness<L>): void {
  describe(`audit event store compliance: ${name}`, () => {
    const opened: AuditEventStore[] = [];
    afterEach(async () => {
      await Promise.allSettled(opened.splice(0).map((s) => s.close()));
    });

    const open = async (options: { clock?: Clock; retentionDays?: number; location?: L } = {}) => {
      const h = getHarness();
      const location = options.location ?? (await h.newLocation());
      const clock = options.clock ?? newFakeClock(T0);
      const store = await h.open(location, { clock, ...(options.retentionDays !== undefined ? { retentionDays: options.retentionDays } : {}) });
      opened.push(store);
      return { store, location, clock };
    };

    it('stores an event and returns every field', async () => {
      const { store } = await open();
      const ev = eventAt(0, {
        'addr.remote': '10.0.0.1:51234',
        roles: ['access', 'editor'],
        traits: { logins: ['root'], 'kubernetes_groups': [] },
        count: 3,
        nothing: null,
        note: 'ünïcødé ✓ "quoted" \\ back',
      });
      await store.emit(ev);
      const { events, nextKey } = await store.search({ ...ALL, limit: 10, order: 'asc' });
      expect(nextKey).toBeUndefined();
      expect(events).toEqual([ev]);
    });

    it('emitting the same uid twice stores one event, without an error', async () => {
      const { store } = await open();
      const first = eventAt(0, { user: 'first' });
      await store.emit(first);
      await store.emit(first);
      await store.emit({ ...first, user: 'second', time: eventAt(5).time });
      const { events } = await store.search({ ...ALL, limit: 10, order: 'asc' });
      expect(events).toEqual([first]);
    });

    it('emitMany stores a batch once by uid: repeats within the batch and of stored events keep the first', async () => {
      const { store } = await open();
      const stored = eventAt(0, { user: 'stored' });
      await store.emit(stored);
      const batch = Array.from({ length: 1200 }, (_, i) => eventAt(i + 1));
      const first = batch[0]!;
      await store.emitMany([...batch, { ...stored, user: 'again' }, { ...first, user: 'repeated' }]);
      await store.emitMany(batch);
      await store.emitMany([]);
      const { events } = await searchAll(store, { ...ALL, limit: 1000, order: 'asc' });
      expect(events).toEqual([stored, ...batch]);
    });

    it('emitMany with one malformed event stores none of the batch', async () => {
      const { store } = await open();
      const good = eventAt(0);
      const err = await store.emitMany([good, { ...eventAt(1), uid: '' }]).then(() => undefined, (e: unknown) => e);
      expect(isKind(err, 'bad-parameter')).toBe(true);
      const { events } = await store.search({ ...ALL, limit: 10, order: 'asc' });
      expect(events).toEqual([]);
    });

    it('searches the half-open range [from, to)', async () => {
      const { store } = await open();
      const before = eventAt(-1);
      const atFrom = eventAt(0);
      const inside = eventAt(60_000);
      const atTo = eventAt(120_000);
      for (const ev of [before, atFrom, inside, atTo]) await store.emit(ev);
      const { events } = await store.search({ from: T0, to: new Date(T0.getTime() + 120_000), limit: 10, order: 'asc' });
      expect(events.map((e) => e.uid)).toEqual([atFrom.uid, inside.uid]);
      const empty = await store.search({ from: new Date(T0.getTime() + 1), to: new Date(T0.getTime() + 2), limit: 10, order: 'asc' });
      expect(empty).toEqual({ events: [] });
      const inverted = await store.search({ from: new Date(T0.getTime() + 120_000), to: T0, limit: 10, order: 'asc' });
      expect(inverted.events).toEqual([]);
    });

    it('ranges over the instant of the event time, whatever its offset or precision', async () => {
      const { store } = await open();
      // 10:00:00.123456 UTC, written with a +02:00 offset and microseconds.
      const ev = eventAt(0, { time: '2026-03-01T12:00:00.123456+02:00' });
      await store.emit(ev);
      const at = new Date('2026-03-01T10:00:00.123Z');
      expect((await store.search({ from: at, to: new Date(at.getTime() + 1), limit: 10, order: 'asc' })).events).toEqual([ev]);
      expect((await store.search({ from: new Date(at.getTime() + 1), to: T0, limit: 10, order: 'asc' })).events).toEqual([]);
    });

    it('filters by event type', async () => {
      const { store } = await open();
      const login = eventAt(1, { event: 'user.login', code: 'T1000I' });
      const failed = eventAt(2, { event: 'user.login', code: 'T1000W', success: false, error: 'invalid credentials' });
      const create = eventAt(3, { event: 'user.create', code: 'T1002I' });
      const role = eventAt(4, { event: 'role.created', code: 'T9000I' });
      for (const ev of [login, failed, create, role]) await store.emit(ev);
      const search = (eventTypes?: string[]) => store.search({ ...ALL, eventTypes, limit: 10, order: 'asc' }).then((r) => r.events.map((e) => e.uid));
      expect(await search(['user.login'])).toEqual([login.uid, failed.uid]);
      expect(await search(['user.create', 'role.created'])).toEqual([create.uid, role.uid]);
      expect(await search(['no.such.event'])).toEqual([]);
      expect(await search([])).toEqual([login.uid, failed.uid, create.uid, role.uid]);
      expect(await search(undefined)).toHaveLength(4);
    });

    it('orders by time ascending and descending', async () => {
      const { store } = await open();
      const evs = [eventAt(300), eventAt(100), eventAt(200), eventAt(0)];
      for (const ev of evs) await store.emit(ev);
      const sorted = [...evs].sort(byTimeThenUid).map((e) => e.uid);
      const asc = await store.search({ ...ALL, limit: 10, order: 'asc' });
      const desc = await store.search({ ...ALL, limit: 10, order: 'desc' });
      expect(asc.events.map((e) => e.uid)).toEqual(sorted);
      expect(desc.events.map((e) => e.uid)).toEqual([...sorted].reverse());
    });

    it('pages through 250 events with limit 100: each exactly once, in (time, uid) order, both ways', async () => {
      const { store } = await open();
      // 25 distinct instants, 10 events each: paging must be stable under equal timestamps.
      const evs = Array.from({ length: 250 }, (_, i) => eventAt((i % 25) * 1000, { seq: i }));
      await Promise.all(evs.map((ev) => store.emit(ev)));
      const sorted = [...evs].sort(byTimeThenUid).map((e) => e.uid);

      const pageSizes: number[] = [];
      let startKey: string | undefined;
      const seen: string[] = [];
      do {
        const page = await store.search({ ...ALL, limit: 100, order: 'asc', startKey });
        pageSizes.push(page.events.length);
        seen.push(...page.events.map((e) => e.uid));
        startKey = page.nextKey;
      } while (startKey !== undefined);
      expect(pageSizes).toEqual([100, 100, 50]);
      expect(seen).toEqual(sorted);

      const desc = await searchAll(store, { ...ALL, limit: 100, order: 'desc' });
      expect(desc.pages).toBe(3);
      expect(desc.events.map((e) => e.uid)).toEqual([...sorted].reverse());

      const typed = await searchAll(store, { ...ALL, eventTypes: ['user.login'], limit: 7, order: 'asc' });
      expect(typed.events.map((e) => e.uid)).toEqual(sorted);
    });

    it('gives no nextKey when the last page is exactly full, and pages within a range', async () => {
      const { store } = await open();
      const evs = Array.from({ length: 20 }, (_, i) => eventAt(i * 10));
      for (const ev of evs) await store.emit(ev);
      const first = await store.search({ ...ALL, limit: 10, order: 'asc' });
      expect(first.nextKey).toEqual(expect.any(String));
      const second = await store.search({ ...ALL, limit: 10, order: 'asc', startKey: first.nextKey });
      expect(second.events).toHaveLength(10);
      expect(second.nextKey).toBeUndefined();
      // [50, 150): events 5..14.
      const ranged = await searchAll(store, { from: new Date(T0.getTime() + 50), to: new Date(T0.getTime() + 150), limit: 3, order: 'desc' });
      expect(ranged.events.map((e) => e.uid)).toEqual(evs.slice(5, 15).reverse().map((e) => e.uid));
    });

    it('rejects a malformed search or event as a bad parameter', async () => {
      const { store } = await open();
      await store.emit(eventAt(0));
      await store.emit(eventAt(1));
      const { nextKey } = await store.search({ ...ALL, limit: 1, order: 'asc' });
      const bad = async (p: Promise<unknown>) => {
        const err = await p.then(() => undefined, (e: unknown) => e);
        expect(isKind(err, 'bad-parameter'), String(err)).toBe(true);
      };
      await bad(store.search({ ...ALL, limit: 1, order: 'desc', startKey: nextKey }));
      await bad(store.search({ ...ALL, limit: 1, order: 'asc', startKey: 'not-a-cursor' }));
      await bad(store.search({ ...ALL, limit: 0, order: 'asc' }));
      await bad(store.search({ ...ALL, limit: 10_001, order: 'asc' }));
      await bad(store.search({ ...ALL, limit: 1.5, order: 'asc' }));
      await bad(store.search({ from: new Date('nope'), to: T0, limit: 1, order: 'asc' }));
      await bad(store.search({ ...ALL, limit: 1, order: 'sideways' as 'asc' }));
      await bad(store.emit({ ...eventAt(0), uid: '' }));
      await bad(store.emit({ ...eventAt(0), event: undefined as unknown as string }));
      await bad(store.emit({ ...eventAt(0), code: 42 as unknown as string }));
      await bad(store.emit({ ...eventAt(0), time: 'yesterday' }));
      await bad(store.emit({ ...eventAt(0), big: 10n as unknown as number }));
      expect((await searchAll(store, { ...ALL, limit: 100, order: 'asc' })).events).toHaveLength(2);
    });

    it('keeps an event whose strings hold NUL characters', async () => {
      const h = getHarness();
      const { store } = await open();
      const ev = eventAt(0, { event: 'db.session.query', code: 'TDB02I', db_query: 'SELECT 1\u0000; DROP TABLE users' });
      await store.emit(ev);
      const { events } = await store.search({ ...ALL, limit: 10, order: 'asc' });
      const stored = h.storedNul ?? ((s: string) => s);
      expect(events).toEqual([{ ...ev, db_query: stored('SELECT 1\u0000; DROP TABLE users') }]);
    });

    it('deleteOlderThan deletes only events strictly before the date', async () => {
      const { store } = await open();
      const old = eventAt(-2 * DAY);
      const boundary = eventAt(-DAY);
      const recent = eventAt(0);
      for (const ev of [old, boundary, recent]) await store.emit(ev);
      expect(await store.deleteOlderThan(new Date(T0.getTime() - DAY))).toBe(1);
      expect((await store.search({ ...ALL, limit: 10, order: 'asc' })).events.map((e) => e.uid)).toEqual([boundary.uid, recent.uid]);
      expect(await store.deleteOlderThan(new Date(T0.getTime() - DAY))).toBe(0);
    });

    it('retention: sweep deletes only events older than retentionDays, by the injected clock', async () => {
      const clock = newFakeClock(T0);
      const { store } = await open({ clock, retentionDays: 30 });
      const evs = [eventAt(-40 * DAY), eventAt(-31 * DAY), eventAt(-29 * DAY), eventAt(-DAY), eventAt(0)];
      for (const ev of evs) await store.emit(ev);
      expect(await store.sweep()).toBe(2);
      const left = () => store.search({ ...ALL, limit: 10, order: 'asc' }).then((r) => r.events.map((e) => e.uid));
      expect(await left()).toEqual(evs.slice(2).map((e) => e.uid));
      clock.advance(2 * DAY);
      expect(await store.sweep()).toBe(1);
      expect(await left()).toEqual(evs.slice(3).map((e) => e.uid));
    });

    it('without retention, sweep deletes nothing', async () => {
      const clock = newFakeClock(T0);
      const { store } = await open({ clock });
      await store.emit(eventAt(-3650 * DAY));
      clock.advance(3650 * DAY);
      expect(await store.sweep()).toBe(0);
      expect((await store.search({ ...ALL, from: new Date(0), limit: 10, order: 'asc' })).events).toHaveLength(1);
    });

    it('several store instances on one location: concurrent opens and emits, duplicates stored once', async () => {
      const h = getHarness();
      const location = await h.newLocation();
      const clock = newFakeClock(T0);
      const stores = await Promise.all(Array.from({ length: 4 }, () => h.open(location, { clock })));
      opened.push(...stores);
      const shared = Array.from({ length: 25 }, (_, i) => eventAt(i, { shared: true }));
      const own = stores.map((_, s) => Array.from({ length: 25 }, (_, i) => eventAt(i, { store: s })));
      await Promise.all(
        stores.flatMap((store, s) => [...shared, ...(own[s] ?? [])].map((ev) => store.emit(ev))),
      );
      const expected = [...shared, ...own.flat()].sort(byTimeThenUid).map((e) => e.uid);
      for (const store of stores) {
        const { events } = await searchAll(store, { ...ALL, limit: 40, order: 'asc' });
        expect(events.map((e) => e.uid)).toEqual(expected);
      }
    });

    it('close is idempotent; a closed store refuses work', async () => {
      const { store } = await open();
      await store.emit(eventAt(0));
      await store.close();
      await store.close();
      const err = await store.emit(eventAt(1)).then(() => undefined, (e: unknown) => e);
      expect(isKind(err, 'connection-problem')).toBe(true);
      const err2 = await store.search({ ...ALL, limit: 1, order: 'asc' }).then(() => undefined, (e: unknown) => e);
      expect(isKind(err2, 'connection-problem')).toBe(true);
    });

    it('events survive reopening the location', async () => {
      const h = getHarness();
      const { store, location } = await open();
      const ev = eventAt(0);
      await store.emit(ev);
      await store.close();
      const again = await h.open(location, { clock: newFakeClock(T0) });
      opened.push(again);
      expect((await again.search({ ...ALL, limit: 10, order: 'asc' })).events).toEqual([ev]);
    });
  });
}
