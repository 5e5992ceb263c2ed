/**
 * The backend compliance suite: every driver runs it, so every driver honours the same contract
 * (`core/src/backend/types.ts`). Nothing here assumes the driver lives in this process: watch events are
 * awaited with a timeout, never slept for, and each case writes under its own random prefix so leftovers
 * of another case (or another run against a shared database) cannot interfere.
 *
 * @example
 * ```ts
 * runBackendCompliance('memory', async () => {
 *   const clock = newFakeClock();
 *   const backend = newMemoryBackend({ clock });
 *   return { backend, clock, cleanup: () => backend.close() };
 * });
 * ```
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FakeClock } from '../../src/clock/index.js';
import { isCompareFailed, type ErrorKind } from '../../src/errors/index.js';
import {
  MAX_ATOMIC_WRITE_SIZE,
  rangeEnd,
  type Backend,
  type BackendEvent,
  type ConditionalAction,
  type Watcher,
} from '../../src/backend/index.js';

export interface ComplianceFixture {
  backend: Backend;
  /** The clock `backend` judges expiry by. */
  clock: FakeClock;
  /** Opens another independent instance on the same storage (another "process"), when the driver can. */
  newBackend?: () => Promise<Backend>;
  cleanup(): Promise<void>;
}

/** How long a watch event may take to arrive before a case fails. */
const EVENT_TIMEOUT_MS = 5_000;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const enc = (s: string): Uint8Array => encoder.encode(s);
const dec = (b: Uint8Array): string => decoder.decode(b);

/** Asserts that `promise` rejects with a `core/errors` error of `kind`. */
async function expectKind(promise: Promise<unknown>, kind: ErrorKind): Promise<void> {
  await expect(promise).rejects.toMatchObject({ kind });
}

/** Reads a watcher event by event, failing after a timeout instead of hanging. */
class EventReader {
  readonly #it: AsyncIterator<BackendEvent>;

  constructor(readonly watcher: Watcher) {
    this.#it = watcher[Symbol.asyncIterator]();
  }

  async next(timeoutMs = EVENT_TIMEOUT_MS): Promise<BackendEvent> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no watch event within ${timeoutMs}ms on ${this.watcher.name}`)), timeoutMs);
    });
    try {
      const r = await Promise.race([this.#it.next(), timeout]);
      if (r.done) throw new Error(`watcher ${this.watcher.name} closed: ${this.watcher.closeReason?.message ?? 'no reason'}`);
      return r.value;
    } finally {
      clearTimeout(timer);
    }
  }

  async expectInit(): Promise<void> {
    expect(await this.next()).toEqual({ type: 'init' });
  }

  async expectPut(key: string, value?: string): Promise<Extract<BackendEvent, { type: 'put' }>> {
    const ev = await this.next();
    expect(ev.type === 'init' ? ev : { type: ev.type, key: ev.item.key }).toEqual({ type: 'put', key });
    const put = ev as Extract<BackendEvent, { type: 'put' }>;
    if (value !== undefined) expect(dec(put.item.value)).toBe(value);
    return put;
  }

  async expectDelete(key: string): Promise<void> {
    const ev = await this.next();
    expect(ev.type === 'init' ? ev : { type: ev.type, key: ev.item.key }).toEqual({ type: 'delete', key });
  }
}

/**
 * Defines the compliance cases for one driver. `setup` runs before every case and must return a backend
 * on empty (or at least disjoint) storage; `cleanup` runs after it.
 */
export interface ComplianceOptions {
  /** False for drivers that cannot open a second instance on the same storage (memory): the cases that need one are not defined. */
  secondInstance?: boolean;
}

export function runBackendCompliance(name: string, setup: () => Promise<ComplianceFixture>, options: ComplianceOptions = {}): void {
  const itWithSecond = options.secondInstance === false ? () => undefined : it;
  describe(`backend compliance: ${name}`, () => {
    let fx: ComplianceFixture;
    let bk: Backend;
    let clock: FakeClock;
    let prefix: string;
    const opened: Backend[] = [];
    const watchers: Watcher[] = [];

    /** A key under this case's prefix. */
    const k = (suffix: string): string => prefix + suffix;
    /** An instant `ms` after the fake clock's now. */
    const inMs = (ms: number): Date => new Date(clock.now().getTime() + ms);
    const watch = async (b: Backend, prefixes: string[] = [prefix], label = 'compliance'): Promise<EventReader> => {
      const w = await b.newWatcher({ prefixes, name: label });
      watchers.push(w);
      return new EventReader(w);
    };
    const second = async (): Promise<Backend | undefined> => {
      if (!fx.newBackend) return undefined;
      const b = await fx.newBackend();
      opened.push(b);
      return b;
    };
    const keysOf = (items: { key: string }[]): string[] => items.map((i) => i.key);

    beforeEach(async () => {
      fx = await setup();
      bk = fx.backend;
      clock = fx.clock;
      prefix = `/compliance/${randomUUID().slice(0, 8)}/`;
    });

    afterEach(async () => {
      for (const w of watchers.splice(0)) w.close();
      for (const b of opened.splice(0)) await b.close().catch(() => undefined);
      await fx.cleanup();
    });

    describe('CRUD', () => {
      it('puts, gets, overwrites and deletes an item', async () => {
        const l1 = await bk.put({ key: k('a'), value: enc('one') });
        expect(l1.key).toBe(k('a'));
        expect(l1.revision).toBeTruthy();
        const got = await bk.get(k('a'));
        expect(got.key).toBe(k('a'));
        expect(dec(got.value)).toBe('one');
        expect(got.expires).toBeUndefined();
        expect(got.revision).toBe(l1.revision);

        const l2 = await bk.put({ key: k('a'), value: enc('two') });
        expect(l2.revision).not.toBe(l1.revision);
        expect(dec((await bk.get(k('a'))).value)).toBe('two');

        await bk.delete(k('a'));
        await expectKind(bk.get(k('a')), 'not-found');
        await expectKind(bk.delete(k('a')), 'not-found');
      });

      it('stores values byte for byte, including empty and binary values', async () => {
        const binary = new Uint8Array([0, 1, 2, 255, 254, 0, 128]);
        await bk.put({ key: k('bin'), value: binary });
        await bk.put({ key: k('empty'), value: new Uint8Array(0) });
        expect([...(await bk.get(k('bin'))).value]).toEqual([...binary]);
        expect((await bk.get(k('empty'))).value.length).toBe(0);
      });

      it('returns the expiry it was given, to the millisecond', async () => {
        const expires = inMs(60_000 + 123);
        await bk.put({ key: k('e'), value: enc('v'), expires });
        expect((await bk.get(k('e'))).expires?.getTime()).toBe(expires.getTime());
      });

      it('rejects an empty key with bad-parameter', async () => {
        await expectKind(bk.put({ key: '', value: enc('v') }), 'bad-parameter');
        await expectKind(bk.get(''), 'bad-parameter');
      });

      it('returns not-found for a key that was never written', async () => {
        await expectKind(bk.get(k('missing')), 'not-found');
      });
    });

    describe('getRange', () => {
      it('returns keys in ascending order within half-open bounds [start, end)', async () => {
        for (const s of ['d', 'b', 'a', 'c', 'e']) await bk.put({ key: k(s), value: enc(s) });
        const { items } = await bk.getRange(k('b'), k('d'));
        expect(keysOf(items)).toEqual([k('b'), k('c')]);
        expect(items.map((i) => dec(i.value))).toEqual(['b', 'c']);
        expect(keysOf((await bk.getRange(prefix, rangeEnd(prefix))).items)).toEqual(['a', 'b', 'c', 'd', 'e'].map(k));
      });

      it('respects the limit', async () => {
        for (let i = 0; i < 10; i++) await bk.put({ key: k(`item-${i}`), value: enc(String(i)) });
        const { items } = await bk.getRange(prefix, rangeEnd(prefix), 3);
        expect(keysOf(items)).toEqual([k('item-0'), k('item-1'), k('item-2')]);
      });

      it('does not count expired items toward the limit', async () => {
        await bk.put({ key: k('a'), value: enc('a') });
        await bk.put({ key: k('b'), value: enc('b'), expires: inMs(1_000) });
        await bk.put({ key: k('c'), value: enc('c'), expires: inMs(1_000) });
        await bk.put({ key: k('d'), value: enc('d') });
        await bk.put({ key: k('e'), value: enc('e') });
        clock.advance(1_000);
        const { items } = await bk.getRange(prefix, rangeEnd(prefix), 2);
        expect(keysOf(items)).toEqual([k('a'), k('d')]);
      });

      it('orders unicode keys by their UTF-8 bytes', async () => {
        // UTF-16 order would put the emoji (surrogates D83D..) before U+E000 and U+FFFD; UTF-8 puts it last.
        const suffixes = ['\u{1F600}', '\uFFFD', '\uE000', 'é', 'z', 'a', 'Z'];
        for (const s of suffixes) await bk.put({ key: k(s), value: enc(s) });
        const { items } = await bk.getRange(prefix, rangeEnd(prefix));
        expect(items.map((i) => i.key.slice(prefix.length))).toEqual(['Z', 'a', 'z', 'é', '\uE000', '\uFFFD', '\u{1F600}']);
        const bmpOnly = await bk.getRange(k('\uE000'), k('\u{1F600}'));
        expect(bmpOnly.items.map((i) => i.key.slice(prefix.length))).toEqual(['\uE000', '\uFFFD']);
      });

      it('returns nothing for an empty or inverted range', async () => {
        await bk.put({ key: k('a'), value: enc('a') });
        expect((await bk.getRange(k('a'), k('a'))).items).toEqual([]);
        expect((await bk.getRange(k('b'), k('a'))).items).toEqual([]);
      });
    });

    describe('create', () => {
      it('creates an absent key and refuses an existing one with already-exists', async () => {
        const lease = await bk.create({ key: k('c'), value: enc('first') });
        expect((await bk.get(k('c'))).revision).toBe(lease.revision);
        await expectKind(bk.create({ key: k('c'), value: enc('second') }), 'already-exists');
        expect(dec((await bk.get(k('c'))).value)).toBe('first');
      });

      it('creates over an expired item', async () => {
        await bk.put({ key: k('c'), value: enc('old'), expires: inMs(1_000) });
        clock.advance(1_000);
        await bk.create({ key: k('c'), value: enc('new') });
        const got = await bk.get(k('c'));
        expect(dec(got.value)).toBe('new');
        expect(got.expires).toBeUndefined();
      });
    });

    describe('update', () => {
      it('updates a present key', async () => {
        const l1 = await bk.put({ key: k('u'), value: enc('one') });
        const l2 = await bk.update({ key: k('u'), value: enc('two') });
        expect(l2.revision).not.toBe(l1.revision);
        expect(dec((await bk.get(k('u'))).value)).toBe('two');
      });

      it('refuses a missing or expired key with not-found', async () => {
        await expectKind(bk.update({ key: k('missing'), value: enc('v') }), 'not-found');
        await bk.put({ key: k('exp'), value: enc('v'), expires: inMs(1_000) });
        clock.advance(1_000);
        await expectKind(bk.update({ key: k('exp'), value: enc('w') }), 'not-found');
        await expectKind(bk.get(k('missing')), 'not-found');
      });
    });

    describe('compareAndSwap', () => {
      it('swaps when the current value matches and refuses otherwise', async () => {
        await bk.put({ key: k('x'), value: enc('v0') });
        const lease = await bk.compareAndSwap({ key: k('x'), value: enc('v0') }, { key: k('x'), value: enc('v1') });
        expect((await bk.get(k('x'))).revision).toBe(lease.revision);
        expect(dec((await bk.get(k('x'))).value)).toBe('v1');
        await expectKind(bk.compareAndSwap({ key: k('x'), value: enc('v0') }, { key: k('x'), value: enc('v2') }), 'compare-failed');
        expect(dec((await bk.get(k('x'))).value)).toBe('v1');
      });

      it('refuses a missing key with compare-failed and mismatched keys with bad-parameter', async () => {
        await expectKind(bk.compareAndSwap({ key: k('none'), value: enc('a') }, { key: k('none'), value: enc('b') }), 'compare-failed');
        await bk.put({ key: k('x'), value: enc('a') });
        await expectKind(bk.compareAndSwap({ key: k('x'), value: enc('a') }, { key: k('y'), value: enc('b') }), 'bad-parameter');
      });

      it('lets exactly one of two concurrent swaps from the same value win', async () => {
        await bk.put({ key: k('x'), value: enc('v0') });
        const results = await Promise.allSettled([
          bk.compareAndSwap({ key: k('x'), value: enc('v0') }, { key: k('x'), value: enc('left') }),
          bk.compareAndSwap({ key: k('x'), value: enc('v0') }, { key: k('x'), value: enc('right') }),
        ]);
        const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
        expect(won).toHaveLength(1);
        const lost = results.find((r) => r.status === 'rejected');
        expect(isCompareFailed(lost?.reason)).toBe(true);
        expect(dec((await bk.get(k('x'))).value)).toBe(won[0] === 0 ? 'left' : 'right');
      });
    });

    describe('conditionalUpdate and conditionalDelete', () => {
      it('update by the current revision and refuse a stale one with compare-failed', async () => {
        const l1 = await bk.put({ key: k('r'), value: enc('one') });
        const l2 = await bk.conditionalUpdate({ key: k('r'), value: enc('two'), revision: l1.revision });
        expect(l2.revision).not.toBe(l1.revision);
        expect(dec((await bk.get(k('r'))).value)).toBe('two');
        await expectKind(bk.conditionalUpdate({ key: k('r'), value: enc('three'), revision: l1.revision }), 'compare-failed');
        expect(dec((await bk.get(k('r'))).value)).toBe('two');
      });

      it('delete by the current revision and refuse a stale one with compare-failed', async () => {
        const l1 = await bk.put({ key: k('r'), value: enc('one') });
        const l2 = await bk.put({ key: k('r'), value: enc('two') });
        await expectKind(bk.conditionalDelete(k('r'), l1.revision), 'compare-failed');
        expect(dec((await bk.get(k('r'))).value)).toBe('two');
        await bk.conditionalDelete(k('r'), l2.revision);
        await expectKind(bk.get(k('r')), 'not-found');
      });

      it('refuse a missing or expired key with compare-failed', async () => {
        await expectKind(bk.conditionalUpdate({ key: k('none'), value: enc('v'), revision: 'whatever' }), 'compare-failed');
        await expectKind(bk.conditionalDelete(k('none'), 'whatever'), 'compare-failed');
        const lease = await bk.put({ key: k('exp'), value: enc('v'), expires: inMs(1_000) });
        clock.advance(1_000);
        await expectKind(bk.conditionalUpdate({ key: k('exp'), value: enc('w'), revision: lease.revision }), 'compare-failed');
        await expectKind(bk.conditionalDelete(k('exp'), lease.revision), 'compare-failed');
      });
    });

    describe('atomicWrite', () => {
      const putIfAbsent = (key: string, value: string): ConditionalAction => ({
        key,
        condition: { kind: 'not-exists' },
        action: { kind: 'put', item: { value: enc(value) } },
      });

      it(`applies ${MAX_ATOMIC_WRITE_SIZE} conditional puts together under one revision`, async () => {
        const actions = Array.from({ length: MAX_ATOMIC_WRITE_SIZE }, (_, i) => putIfAbsent(k(`n${String(i).padStart(2, '0')}`), `v${i}`));
        const revision = await bk.atomicWrite(actions);
        expect(revision).toBeTruthy();
        const { items } = await bk.getRange(prefix, rangeEnd(prefix));
        expect(items).toHaveLength(MAX_ATOMIC_WRITE_SIZE);
        expect(items.map((i) => dec(i.value))).toEqual(actions.map((_, i) => `v${i}`));
        for (const item of items) expect(item.revision).toBe(revision);
      });

      it('applies nothing when one condition fails', async () => {
        await bk.put({ key: k('taken'), value: enc('original') });
        await bk.put({ key: k('gone'), value: enc('still here') });
        const actions = [
          ...Array.from({ length: 10 }, (_, i) => putIfAbsent(k(`free${i}`), 'new')),
          putIfAbsent(k('taken'), 'overwritten'),
          { key: k('gone'), condition: { kind: 'whatever' }, action: { kind: 'delete' } } satisfies ConditionalAction,
        ];
        await expectKind(bk.atomicWrite(actions), 'compare-failed');
        const { items } = await bk.getRange(prefix, rangeEnd(prefix));
        expect(keysOf(items)).toEqual([k('gone'), k('taken')]);
        expect(dec((await bk.get(k('taken'))).value)).toBe('original');
      });

      it(`refuses ${MAX_ATOMIC_WRITE_SIZE + 1} actions, no actions and duplicate keys with bad-parameter`, async () => {
        const tooMany = Array.from({ length: MAX_ATOMIC_WRITE_SIZE + 1 }, (_, i) => putIfAbsent(k(`n${i}`), 'v'));
        await expectKind(bk.atomicWrite(tooMany), 'bad-parameter');
        await expectKind(bk.atomicWrite([]), 'bad-parameter');
        await expectKind(bk.atomicWrite([putIfAbsent(k('dup'), 'a'), putIfAbsent(k('dup'), 'b')]), 'bad-parameter');
        expect((await bk.getRange(prefix, rangeEnd(prefix))).items).toEqual([]);
      });

      it('evaluates exists, not-exists, revision and whatever conditions', async () => {
        const present = await bk.put({ key: k('present'), value: enc('p') });
        const expired = await bk.put({ key: k('expired'), value: enc('x'), expires: inMs(1_000) });
        clock.advance(1_000);
        const put = (value: string) => ({ kind: 'put', item: { value: enc(value) } }) as const;

        // Each failing condition on its own aborts the write.
        const failing: ConditionalAction[] = [
          { key: k('present'), condition: { kind: 'not-exists' }, action: put('a') },
          { key: k('absent'), condition: { kind: 'exists' }, action: put('a') },
          { key: k('expired'), condition: { kind: 'exists' }, action: put('a') },
          { key: k('expired'), condition: { kind: 'revision', revision: expired.revision }, action: put('a') },
          { key: k('present'), condition: { kind: 'revision', revision: 'not-the-revision' }, action: put('a') },
          { key: k('absent'), condition: { kind: 'revision', revision: present.revision }, action: put('a') },
        ];
        for (const a of failing) await expectKind(bk.atomicWrite([a]), 'compare-failed');
        expect(dec((await bk.get(k('present'))).value)).toBe('p');

        const rev = await bk.atomicWrite([
          { key: k('present'), condition: { kind: 'revision', revision: present.revision }, action: put('p2') },
          { key: k('expired'), condition: { kind: 'not-exists' }, action: put('x2') },
          { key: k('absent'), condition: { kind: 'not-exists' }, action: put('a2') },
          { key: k('anything'), condition: { kind: 'whatever' }, action: put('w2') },
        ]);
        const { items } = await bk.getRange(prefix, rangeEnd(prefix));
        expect(items.map((i) => [i.key, dec(i.value), i.revision])).toEqual([
          [k('absent'), 'a2', rev],
          [k('anything'), 'w2', rev],
          [k('expired'), 'x2', rev],
          [k('present'), 'p2', rev],
        ]);
        await bk.atomicWrite([{ key: k('present'), condition: { kind: 'exists' }, action: put('p3') }]);
        expect(dec((await bk.get(k('present'))).value)).toBe('p3');
      });

      it('applies put, delete and nop actions, with nop guarding another key', async () => {
        const guard = await bk.put({ key: k('guard'), value: enc('g') });
        await bk.put({ key: k('victim'), value: enc('v') });
        await bk.atomicWrite([
          { key: k('guard'), condition: { kind: 'revision', revision: guard.revision }, action: { kind: 'nop' } },
          { key: k('victim'), condition: { kind: 'exists' }, action: { kind: 'delete' } },
          { key: k('fresh'), condition: { kind: 'whatever' }, action: { kind: 'put', item: { value: enc('f') } } },
          { key: k('never-was'), condition: { kind: 'whatever' }, action: { kind: 'delete' } },
        ]);
        const { items } = await bk.getRange(prefix, rangeEnd(prefix));
        expect(keysOf(items)).toEqual([k('fresh'), k('guard')]);
        // The nop left the guard untouched, revision included.
        expect((await bk.get(k('guard'))).revision).toBe(guard.revision);

        await bk.put({ key: k('guard'), value: enc('moved on') });
        await expectKind(
          bk.atomicWrite([
            { key: k('guard'), condition: { kind: 'revision', revision: guard.revision }, action: { kind: 'nop' } },
            { key: k('fresh'), condition: { kind: 'whatever' }, action: { kind: 'delete' } },
          ]),
          'compare-failed',
        );
        expect(dec((await bk.get(k('fresh'))).value)).toBe('f');
      });

      it('writes an expiry carried by a put action', async () => {
        const expires = inMs(1_000);
        await bk.atomicWrite([{ key: k('t'), condition: { kind: 'whatever' }, action: { kind: 'put', item: { value: enc('t'), expires } } }]);
        expect((await bk.get(k('t'))).expires?.getTime()).toBe(expires.getTime());
        clock.advance(1_000);
        await expectKind(bk.get(k('t')), 'not-found');
      });
    });

    describe('deleteRange', () => {
      it('deletes exactly the keys in [start, end)', async () => {
        for (const s of ['a', 'b', 'b/1', 'c', 'd']) await bk.put({ key: k(s), value: enc(s) });
        await bk.deleteRange(k('b'), k('d'));
        expect(keysOf((await bk.getRange(prefix, rangeEnd(prefix))).items)).toEqual([k('a'), k('d')]);
        await bk.deleteRange(k('x'), k('z'));
        await bk.deleteRange(prefix, rangeEnd(prefix));
        expect((await bk.getRange(prefix, rangeEnd(prefix))).items).toEqual([]);
      });
    });

    describe('expiry and keepAlive', () => {
      it('hides an item from every read from the instant it expires', async () => {
        await bk.put({ key: k('ttl'), value: enc('v'), expires: inMs(1_000) });
        clock.advance(999);
        expect(dec((await bk.get(k('ttl'))).value)).toBe('v');
        expect(keysOf((await bk.getRange(prefix, rangeEnd(prefix))).items)).toEqual([k('ttl')]);
        clock.advance(1);
        await expectKind(bk.get(k('ttl')), 'not-found');
        expect((await bk.getRange(prefix, rangeEnd(prefix))).items).toEqual([]);
        await expectKind(bk.delete(k('ttl')), 'not-found');
      });

      it('keepAlive extends the expiry and keeps the lease valid', async () => {
        const lease = await bk.put({ key: k('ka'), value: enc('v'), expires: inMs(1_000) });
        await bk.keepAlive(lease, inMs(5_000));
        clock.advance(2_000);
        const got = await bk.get(k('ka'));
        expect(dec(got.value)).toBe('v');
        expect(got.revision).toBe(lease.revision);
        await bk.keepAlive(lease, inMs(1_000));
        clock.advance(999);
        await bk.get(k('ka'));
        clock.advance(1);
        await expectKind(bk.get(k('ka')), 'not-found');
      });

      it('keepAlive of a missing, expired or rewritten key throws not-found', async () => {
        await expectKind(bk.keepAlive({ key: k('none'), revision: 'r' }, inMs(1_000)), 'not-found');
        const old = await bk.put({ key: k('moved'), value: enc('v') });
        await bk.put({ key: k('moved'), value: enc('w') });
        await expectKind(bk.keepAlive(old, inMs(1_000)), 'not-found');
        const lease = await bk.put({ key: k('exp'), value: enc('v'), expires: inMs(1_000) });
        clock.advance(1_000);
        await expectKind(bk.keepAlive(lease, inMs(5_000)), 'not-found');
        await expectKind(bk.get(k('exp')), 'not-found');
      });
    });

    describe('watch', () => {
      it('starts with init, then delivers puts and deletes in order', async () => {
        await bk.put({ key: k('before'), value: enc('b') });
        const r = await watch(bk);
        await r.expectInit();
        const l1 = await bk.put({ key: k('a'), value: enc('1') });
        await bk.put({ key: k('b'), value: enc('2') });
        await bk.put({ key: k('a'), value: enc('3') });
        await bk.delete(k('a'));
        const first = await r.expectPut(k('a'), '1');
        expect(first.item.revision).toBe(l1.revision);
        await r.expectPut(k('b'), '2');
        await r.expectPut(k('a'), '3');
        await r.expectDelete(k('a'));
      });

      it('delivers conditional, atomic and range writes', async () => {
        const r = await watch(bk);
        await r.expectInit();
        const l = await bk.create({ key: k('a'), value: enc('1') });
        await bk.conditionalUpdate({ key: k('a'), value: enc('2'), revision: l.revision });
        await bk.atomicWrite([
          { key: k('b'), condition: { kind: 'not-exists' }, action: { kind: 'put', item: { value: enc('3') } } },
          { key: k('c'), condition: { kind: 'not-exists' }, action: { kind: 'put', item: { value: enc('4') } } },
        ]);
        await bk.deleteRange(k('b'), rangeEnd(k('c')));
        await r.expectPut(k('a'), '1');
        await r.expectPut(k('a'), '2');
        await r.expectPut(k('b'), '3');
        await r.expectPut(k('c'), '4');
        await r.expectDelete(k('b'));
        await r.expectDelete(k('c'));
      });

      it('delivers a delete for an expired item once the sweep runs', async () => {
        if (!bk.sweepExpired) throw new Error(`driver ${bk.kind} has no sweepExpired()`);
        const r = await watch(bk);
        await r.expectInit();
        await bk.put({ key: k('ttl'), value: enc('v'), expires: inMs(1_000) });
        await r.expectPut(k('ttl'), 'v');
        clock.advance(1_000);
        await expectKind(bk.get(k('ttl')), 'not-found');
        await bk.sweepExpired();
        await r.expectDelete(k('ttl'));
        await bk.put({ key: k('after'), value: enc('a') });
        await r.expectPut(k('after'), 'a');
      });

      it('delivers only keys under the watched prefixes', async () => {
        const r = await watch(bk, [k('watched/'), k('also/')]);
        await r.expectInit();
        await bk.put({ key: k('other/1'), value: enc('x') });
        await bk.put({ key: k('watched/1'), value: enc('w') });
        await bk.put({ key: k('other/2'), value: enc('x') });
        await bk.put({ key: k('also/1'), value: enc('a') });
        await r.expectPut(k('watched/1'), 'w');
        await r.expectPut(k('also/1'), 'a');
      });

      it('ends the stream when the watcher is closed', async () => {
        const w = await bk.newWatcher({ prefixes: [prefix] });
        const r = new EventReader(w);
        await r.expectInit();
        w.close();
        await w.done;
        const it = w[Symbol.asyncIterator]();
        expect((await it.next()).done).toBe(true);
      });

      itWithSecond('delivers writes made through a second instance', async () => {
        const other = await second();
        if (!other) throw new Error('the fixture has no newBackend: pass { secondInstance: false }');
        const r = await watch(bk);
        await r.expectInit();
        await other.put({ key: k('remote'), value: enc('r') });
        await bk.put({ key: k('local'), value: enc('l') });
        await other.delete(k('remote'));
        await r.expectPut(k('remote'), 'r');
        await r.expectPut(k('local'), 'l');
        await r.expectDelete(k('remote'));
        expect(dec((await bk.get(k('local'))).value)).toBe('l');
        expect(dec((await other.get(k('local'))).value)).toBe('l');
      });
    });

    describe('concurrency', () => {
      it('20 workers x 200 compareAndSwap increments of one counter end at exactly 4000', async () => {
        const other = await second();
        const key = k('counter');
        await bk.put({ key, value: enc('0') });
        const increment = async (b: Backend): Promise<void> => {
          for (;;) {
            const current = await b.get(key);
            const next = enc(String(Number(dec(current.value)) + 1));
            try {
              await b.compareAndSwap({ key, value: current.value }, { key, value: next });
              return;
            } catch (err) {
              if (!isCompareFailed(err)) throw err;
            }
          }
        };
        const worker = async (b: Backend): Promise<void> => {
          for (let i = 0; i < 200; i++) await increment(b);
        };
        await Promise.all(Array.from({ length: 20 }, (_, i) => worker(other && i % 2 === 1 ? other : bk)));
        expect(dec((await bk.get(key)).value)).toBe('4000');
      });
    });
  });
}
