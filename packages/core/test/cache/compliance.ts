/**
 * The cache compliance suite: every backend driver runs it under `startBackendCache`, so the cache keeps its
 * promises whatever feeds it (init, put, delete, expiry, own writes, watch loss and re-initialisation, no reload
 * loop). Faults are injected by {@link withWatchFaults}, a thin wrapper over the real driver whose watchers the test
 * can cut; everything else is the driver itself.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FakeClock } from '../../src/clock/index.js';
import { isNotFound } from '../../src/errors/index.js';
import { rangeEnd, type Backend, type WatchOptions, type Watcher } from '../../src/backend/index.js';
import { startBackendCache, type BackendCache, type BackendCacheOptions, type CacheDiagnostic } from '../../src/cache/index.js';

export interface CacheFixture {
  backend: Backend;
  /** The clock `backend` judges expiry by. */
  clock: FakeClock;
  /** Another instance on the same storage (another process), when the driver can open one. */
  newBackend?: () => Promise<Backend>;
  cleanup(): Promise<void>;
}

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

/** Polls `check` (real time) until it holds; fails after `ms`. Resolves to how long it took. */
export async function eventually(check: () => Promise<boolean> | boolean, ms = 5_000): Promise<number> {
  const started = performance.now();
  while (!(await check())) {
    if (performance.now() - started > ms) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return performance.now() - started;
}

interface FaultyBackend {
  backend: Backend;
  /** Closes every open watcher (a changefeed interruption). */
  cut(): void;
  /** How many watchers were opened. */
  opened(): number;
  /** How many `get`/`getRange` calls reached the driver. */
  reads(): number;
}

const DELEGATED = [
  'get',
  'getRange',
  'create',
  'put',
  'update',
  'compareAndSwap',
  'conditionalUpdate',
  'conditionalDelete',
  'delete',
  'deleteRange',
  'keepAlive',
  'atomicWrite',
  'close',
] as const;

/**
 * The real driver with injectable watch faults: `breakAfterInit` closes each watcher right after its `init` (a
 * changefeed that keeps restarting), `queueSize` overrides the driver queue, `rangeDelayMs` slows the snapshot.
 */
export function withWatchFaults(inner: Backend, faults: { breakAfterInit?: boolean; queueSize?: number; rangeDelayMs?: number } = {}): FaultyBackend {
  const open = new Set<Watcher>();
  let count = 0;
  let reads = 0;
  const backend = { kind: inner.kind, clock: inner.clock } as Backend;
  for (const m of DELEGATED) (backend as unknown as Record<string, unknown>)[m] = (inner[m] as (...a: unknown[]) => unknown).bind(inner);
  backend.get = (key) => {
    reads++;
    return inner.get(key);
  };
  backend.getRange = async (start, end, limit) => {
    reads++;
    if (faults.rangeDelayMs) await new Promise((r) => setTimeout(r, faults.rangeDelayMs));
    return inner.getRange(start, end, limit);
  };
  backend.newWatcher = async (options?: WatchOptions) => {
    count++;
    const w = await inner.newWatcher({ ...options, ...(faults.queueSize ? { queueSize: faults.queueSize } : {}) });
    open.add(w);
    void w.done.then(() => open.delete(w));
    if (faults.breakAfterInit) setTimeout(() => w.close(), 0);
    return w;
  };
  return {
    backend,
    cut: () => {
      for (const w of [...open]) w.close();
    },
    opened: () => count,
    reads: () => reads,
  };
}

export function runCacheCompliance(name: string, setup: () => Promise<CacheFixture>): void {
  describe(`cache compliance: ${name}`, () => {
    let fx: CacheFixture;
    let prefix: string;
    const caches: BackendCache[] = [];
    const extra: Backend[] = [];
    const k = (suffix: string): string => prefix + suffix;
    const start = async (backend: Backend, options: Partial<BackendCacheOptions> = {}): Promise<BackendCache> => {
      const cache = startBackendCache({ backend, prefixes: [prefix], name, backoff: { baseMs: 20, maxMs: 200 }, ...options });
      caches.push(cache);
      return cache;
    };
    const value = async (cache: BackendCache, key: string): Promise<string | undefined> => {
      try {
        return dec((await cache.cached.get(key)).value);
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    };
    const keys = async (cache: BackendCache): Promise<string[]> => (await cache.cached.getRange(prefix, rangeEnd(prefix))).items.map((i) => i.key);

    beforeEach(async () => {
      fx = await setup();
      prefix = `/cache/${randomUUID().slice(0, 8)}/`;
    });
    afterEach(async () => {
      for (const c of caches.splice(0)) await c.close();
      for (const b of extra.splice(0)) await b.close().catch(() => undefined);
      await fx.cleanup();
    });

    it('initialises from a range read plus the watch: items written before and after start', async () => {
      await fx.backend.put({ key: k('a'), value: enc('1') });
      await fx.backend.put({ key: k('b'), value: enc('2') });
      await fx.backend.put({ key: '/elsewhere/x', value: enc('not cached') });
      const cache = await start(fx.backend);
      expect(await cache.whenReady(5_000)).toBe(true);
      expect(cache.state()).toBe('ready');
      expect(await keys(cache)).toEqual([k('a'), k('b')]);
      await fx.backend.put({ key: k('c'), value: enc('3') });
      await eventually(async () => (await value(cache, k('c'))) === '3');
      // Keys outside the cached prefixes are read from the backend.
      expect(dec((await cache.cached.get('/elsewhere/x')).value)).toBe('not cached');
    });

    it("shows this process's writes to its next read, puts and deletes alike", async () => {
      const cache = await start(fx.backend);
      await cache.whenReady(5_000);
      for (let i = 0; i < 5; i++) {
        await cache.direct.put({ key: k('own'), value: enc(String(i)) });
        expect(await value(cache, k('own'))).toBe(String(i));
      }
      await cache.cached.delete(k('own'));
      expect(await value(cache, k('own'))).toBeUndefined();
      await cache.cached.atomicWrite([{ key: k('x'), condition: { kind: 'not-exists' }, action: { kind: 'put', item: { value: enc('y') } } }]);
      expect(await keys(cache)).toEqual([k('x')]);
      await cache.direct.deleteRange(prefix, rangeEnd(prefix));
      expect(await keys(cache)).toEqual([]);
    });

    it('reads its own writes from the backend only until the watch has delivered them, then from memory again', async () => {
      const faulty = withWatchFaults(fx.backend);
      const cache = await start(faulty.backend);
      await cache.whenReady(5_000);
      const before = faulty.reads();
      expect(await value(cache, k('mine'))).toBeUndefined();
      expect(faulty.reads()).toBe(before);
      await cache.cached.put({ key: k('mine'), value: enc('v1') });
      expect(await value(cache, k('mine'))).toBe('v1');
      expect(faulty.reads()).toBe(before + 1);
      // The barrier comes back on the watch: memory holds the write, the backend is no longer asked.
      await eventually(async () => {
        const n = faulty.reads();
        return (await value(cache, k('mine'))) === 'v1' && faulty.reads() === n;
      });
    });

    it('does not send reads to the backend for heartbeats it wrote: they show once the watch delivers them', async () => {
      const faulty = withWatchFaults(fx.backend);
      const cache = await start(faulty.backend);
      await cache.whenReady(5_000);
      const before = faulty.reads();
      for (let i = 0; i < 20; i++) {
        await cache.heartbeats.put({ key: k(`beat-${i}`), value: enc(`b${i}`) });
        await cache.cached.get(k('beat-0')).catch(() => undefined);
      }
      // No read went to the backend: a steady stream of heartbeats leaves the prefix served from memory.
      expect(faulty.reads()).toBe(before);
      await eventually(async () => (await value(cache, k('beat-19'))) === 'b19');
      expect(faulty.reads()).toBe(before);
      // A write through `cached` is still read back at once (from the backend until the watch shows it).
      await cache.cached.put({ key: k('beat-0'), value: enc('mine') });
      expect(await value(cache, k('beat-0'))).toBe('mine');
      expect(faulty.reads()).toBe(before + 1);
    });

    it("sees another process's puts and deletes within the watch latency", async () => {
      if (!fx.newBackend) return;
      const other = await fx.newBackend();
      extra.push(other);
      const cache = await start(fx.backend);
      await cache.whenReady(5_000);
      await other.put({ key: k('remote'), value: enc('r1') });
      const seenPut = await eventually(async () => (await value(cache, k('remote'))) === 'r1');
      await other.delete(k('remote'));
      const seenDelete = await eventually(async () => (await value(cache, k('remote'))) === undefined);
      expect(Math.max(seenPut, seenDelete)).toBeLessThan(2_000);
    });

    it('hides an item at its expiry, before the sweep deletes it', async () => {
      const cache = await start(fx.backend);
      await cache.whenReady(5_000);
      await cache.direct.put({ key: k('ttl'), value: enc('soon gone'), expires: new Date(fx.clock.now().getTime() + 1_000) });
      await cache.direct.put({ key: k('kept'), value: enc('stays') });
      expect(await keys(cache)).toEqual([k('kept'), k('ttl')]);
      fx.clock.advance(1_000);
      expect(await value(cache, k('ttl'))).toBeUndefined();
      expect(await keys(cache)).toEqual([k('kept')]);
    });

    it('re-initialises after the watch is lost, reading through meanwhile', async () => {
      const faulty = withWatchFaults(fx.backend);
      const cache = await start(faulty.backend, { backoff: { baseMs: 300, maxMs: 300 } });
      await cache.whenReady(5_000);
      faulty.cut();
      await eventually(() => cache.state() === 'stale');
      // Written by "someone else" while the watch is down: the read goes to the backend.
      await fx.backend.put({ key: k('during'), value: enc('d') });
      expect(await value(cache, k('during'))).toBe('d');
      await eventually(() => cache.state() === 'ready' && cache.initialisations() === 2);
      await fx.backend.put({ key: k('after'), value: enc('a') });
      await eventually(async () => (await value(cache, k('after'))) === 'a');
      expect(await keys(cache)).toEqual([k('after'), k('during')]);
    });

    it('never serves a watch that broke while its snapshot was read, and slows down instead of looping', async () => {
      const faulty = withWatchFaults(fx.backend, { breakAfterInit: true, rangeDelayMs: 30 });
      const diagnostics: CacheDiagnostic[] = [];
      const cache = await start(faulty.backend, {
        backoff: { baseMs: 50, maxMs: 400 },
        healthyAfterMs: 10_000,
        onDiagnostic: (d) => diagnostics.push(d),
      });
      await new Promise((r) => setTimeout(r, 1_500));
      expect(cache.initialisations()).toBe(0);
      expect(cache.state()).toBe('cold');
      // The attempts slow down (delay caps 50, 100, 200, 400, 400 ms) instead of restarting at once each time.
      expect(faulty.opened()).toBeGreaterThanOrEqual(3);
      expect(faulty.opened()).toBeLessThanOrEqual(10);
      expect(diagnostics.filter((d) => d.event === 'init-failed').length).toBeGreaterThanOrEqual(2);
      // Reads still work, from the backend.
      await fx.backend.put({ key: k('r'), value: enc('v') });
      expect(await value(cache, k('r'))).toBe('v');
    });

    it('does not start the backoff over after a watch that broke soon after going live (Teleport #69783)', async () => {
      const faulty = withWatchFaults(fx.backend, { breakAfterInit: true });
      const cache = await start(faulty.backend, { backoff: { baseMs: 50, maxMs: 400 }, healthyAfterMs: 10_000 });
      await new Promise((r) => setTimeout(r, 1_500));
      // Without the rule every attempt would wait 25..50 ms: 30 or more in 1.5 s.
      expect(faulty.opened()).toBeGreaterThanOrEqual(3);
      expect(faulty.opened()).toBeLessThanOrEqual(10);
      expect(cache.initialisations()).toBeLessThanOrEqual(faulty.opened());
    });

    it('spreads the first re-initialisation after losing a live watch over resumeJitterMs, then backs off as before', async () => {
      const faulty = withWatchFaults(fx.backend);
      const lost: number[] = [];
      const onDiagnostic = (d: CacheDiagnostic): void => {
        if (d.event === 'lost') lost.push(d.retryInMs);
      };
      const cache = await start(faulty.backend, { resumeJitterMs: 400, random: () => 0.75, onDiagnostic });
      expect(await cache.whenReady(10_000)).toBe(true);
      faulty.cut();
      await eventually(() => lost.length === 1);
      // 0.75 of the spread, where the backoff's first step would be 10..20 ms.
      expect(lost[0]).toBe(300);
      expect(faulty.opened()).toBe(1);
      await eventually(() => faulty.opened() === 2 && cache.state() === 'ready');
      // Lost again before it was healthy: the backoff's second step (20..40 ms with baseMs 20), not the spread.
      faulty.cut();
      await eventually(() => lost.length === 2);
      expect(lost[1]).toBe(35);
    });

    it('drains the watch while a slow snapshot is read, so a small driver queue does not overflow', async () => {
      const faulty = withWatchFaults(fx.backend, { queueSize: 16, rangeDelayMs: 300 });
      const cache = await start(faulty.backend);
      const writes = (async () => {
        for (let i = 0; i < 100; i++) {
          await fx.backend.put({ key: k(`w${String(i).padStart(3, '0')}`), value: enc('x') });
          // Spread out, as writes of other requests are: drivers that deliver in bursts fill a queue per burst.
          await new Promise((r) => setTimeout(r, 2));
        }
      })();
      await writes;
      expect(await cache.whenReady(10_000)).toBe(true);
      await eventually(async () => (await keys(cache)).length === 100);
      expect(faulty.opened()).toBe(1);
    });
  });
}
