import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newFakeClock, type FakeClock } from '../../src/clock/index.js';
import { openBackend, rangeEnd, type Backend, type BackendEvent, type Watcher } from '../../src/backend/index.js';
import { SQLITE_FILE_NAME, openSqliteBackend } from '../../src/backend/sqlite/index.js';
import { runBackendCompliance } from './compliance.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'tp-sqlite-'));
}

runBackendCompliance('sqlite', async () => {
  const dir = tempDir();
  const clock = newFakeClock(new Date('2026-01-01T00:00:00Z'));
  const backend = await openSqliteBackend({ path: dir, clock });
  return {
    backend,
    clock,
    newBackend: () => openSqliteBackend({ path: dir, clock }),
    cleanup: async () => {
      await backend.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});

/** Collects `n` events after `init`, failing after a timeout rather than hanging. */
async function take(w: Watcher, n: number, timeoutMs = 5_000): Promise<BackendEvent[]> {
  const it = w[Symbol.asyncIterator]();
  const out: BackendEvent[] = [];
  const deadline = Date.now() + timeoutMs;
  while (out.length < n) {
    let timer: NodeJS.Timeout | undefined;
    const r = await Promise.race([
      it.next(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`got ${out.length} of ${n} events`)), Math.max(1, deadline - Date.now()));
      }),
    ]).finally(() => clearTimeout(timer));
    if (r.done) throw new Error(`watcher closed after ${out.length} events: ${w.closeReason?.message}`);
    out.push(r.value);
  }
  return out;
}

const describeEvent = (e: BackendEvent): string =>
  e.type === 'init' ? 'init' : e.type === 'put' ? `put ${e.item.key}=${dec(e.item.value)}` : `delete ${e.item.key}`;

describe('sqlite backend', () => {
  let dir: string;
  let clock: FakeClock;
  const open: Backend[] = [];
  const openHere = async (options: { lockRetryMs?: number; sweepIntervalMs?: number } = {}): Promise<Backend> => {
    const bk = await openSqliteBackend({ path: path.join(dir, 'backend'), clock, ...options });
    open.push(bk);
    return bk;
  };

  beforeEach(() => {
    dir = tempDir();
    clock = newFakeClock(new Date('2026-01-01T00:00:00Z'));
  });

  afterEach(async () => {
    for (const bk of open.splice(0)) await bk.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('creates <path>/sqlite.db, private, in WAL journal mode, with the schema version recorded', async () => {
    const bk = await openHere();
    await bk.put({ key: '/k', value: enc('v') });
    const file = path.join(dir, 'backend', SQLITE_FILE_NAME);
    expect(SQLITE_FILE_NAME).toBe('sqlite.db');
    expect(fs.statSync(path.join(dir, 'backend')).mode & 0o777).toBe(0o700);
    expect(fs.statSync(file).mode & 0o077).toBe(0);
    const raw = new Database(file, { readonly: true });
    try {
      expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(raw.prepare('SELECT max(version) AS v FROM backend_version').get()).toEqual({ v: 1 });
      expect(raw.prepare('SELECT key FROM kv').all()).toEqual([{ key: '/k' }]);
    } finally {
      raw.close();
    }
  });

  it('keeps data, expiries and revisions across a reopen', async () => {
    const first = await openHere();
    const lease = await first.put({ key: '/keep/a', value: enc('a'), expires: new Date(clock.now().getTime() + 10_000) });
    await first.put({ key: '/keep/b', value: enc('b') });
    await first.close();
    const second = await openHere();
    const got = await second.get('/keep/a');
    expect(dec(got.value)).toBe('a');
    expect(got.revision).toBe(lease.revision);
    expect(got.expires?.getTime()).toBe(clock.now().getTime() + 10_000);
    expect((await second.getRange('/keep/', rangeEnd('/keep/'))).items.map((i) => i.key)).toEqual(['/keep/a', '/keep/b']);
    await second.keepAlive(lease, new Date(clock.now().getTime() + 20_000));
  });

  it('refuses a database written by a newer schema version', async () => {
    const bk = await openHere();
    await bk.close();
    const raw = new Database(path.join(dir, 'backend', SQLITE_FILE_NAME));
    raw.prepare('INSERT INTO backend_version (version, applied) VALUES (?, ?)').run(99, Date.now());
    raw.close();
    await expect(openHere()).rejects.toMatchObject({ kind: 'bad-parameter' });
  });

  it('shows two instances on one file the same writes in the same commit order through watch', async () => {
    const a = await openHere();
    const b = await openHere();
    const wa = await a.newWatcher({ prefixes: ['/shared/'] });
    const wb = await b.newWatcher({ prefixes: ['/shared/'] });
    await a.put({ key: '/shared/1', value: enc('from a') });
    await b.put({ key: '/shared/2', value: enc('from b') });
    await a.delete('/shared/1');
    await b.put({ key: '/shared/3', value: enc('from b'), expires: new Date(clock.now().getTime() + 1_000) });
    clock.advance(1_000);
    await a.sweepExpired?.();
    const expected = ['init', 'put /shared/1=from a', 'put /shared/2=from b', 'delete /shared/1', 'put /shared/3=from b', 'delete /shared/3'];
    expect((await take(wa, expected.length)).map(describeEvent)).toEqual(expected);
    expect((await take(wb, expected.length)).map(describeEvent)).toEqual(expected);
  });

  it('starts a new watcher after the writes already committed', async () => {
    const a = await openHere();
    const b = await openHere();
    await b.put({ key: '/seen/old', value: enc('old') });
    const w = await a.newWatcher({ prefixes: ['/seen/'] });
    await b.put({ key: '/seen/new', value: enc('new') });
    expect((await take(w, 2)).map(describeEvent)).toEqual(['init', 'put /seen/new=new']);
  });

  it('resets watchers that missed change-log rows pruned before they were read', async () => {
    const a = await openHere();
    const b = await openHere();
    const w = await a.newWatcher({ prefixes: ['/gap/'] });
    // No macrotask runs between these lines, so a's poller cannot read the rows before they vanish.
    await b.put({ key: '/gap/1', value: enc('1') });
    await b.put({ key: '/gap/2', value: enc('2') });
    await b.put({ key: '/gap/3', value: enc('3') });
    const raw = new Database(path.join(dir, 'backend', SQLITE_FILE_NAME));
    raw.prepare("DELETE FROM events WHERE key IN ('/gap/1', '/gap/2')").run();
    raw.close();
    await w.done;
    expect(w.closeReason).toMatchObject({ kind: 'connection-problem' });
    const fresh = await a.newWatcher({ prefixes: ['/gap/'] });
    await b.put({ key: '/gap/4', value: enc('4') });
    expect((await take(fresh, 2)).map(describeEvent)).toEqual(['init', 'put /gap/4=4']);
  });

  it('sweeps expired items in batches and reports how many it deleted', async () => {
    const bk = await openHere({ sweepIntervalMs: 0 });
    const expires = new Date(clock.now().getTime() + 1_000);
    await bk.atomicWrite(
      Array.from({ length: 64 }, (_, i) => ({
        key: `/ttl/${String(i).padStart(3, '0')}`,
        condition: { kind: 'whatever' as const },
        action: { kind: 'put' as const, item: { value: enc('v'), expires } },
      })),
    );
    for (let i = 64; i < 600; i++) await bk.put({ key: `/ttl/${String(i).padStart(3, '0')}`, value: enc('v'), expires });
    await bk.put({ key: '/ttl/forever', value: enc('v') });
    expect(await bk.sweepExpired?.()).toBe(0);
    clock.advance(1_000);
    expect(await bk.sweepExpired?.()).toBe(600);
    expect((await bk.getRange('/ttl/', rangeEnd('/ttl/'))).items.map((i) => i.key)).toEqual(['/ttl/forever']);
    const raw = new Database(path.join(dir, 'backend', SQLITE_FILE_NAME), { readonly: true });
    expect(raw.prepare('SELECT count(*) AS n FROM kv').get()).toEqual({ n: 1 });
    raw.close();
  });

  it('waits for a lock held by another connection, then writes', async () => {
    const bk = await openHere();
    const raw = new Database(path.join(dir, 'backend', SQLITE_FILE_NAME));
    raw.exec('BEGIN IMMEDIATE');
    setTimeout(() => raw.exec('COMMIT'), 300);
    try {
      await bk.put({ key: '/locked', value: enc('v') });
      expect(dec((await bk.get('/locked')).value)).toBe('v');
    } finally {
      if (raw.inTransaction) raw.exec('COMMIT');
      raw.close();
    }
  });

  it('gives up on a lock held too long with connection-problem', async () => {
    const bk = await openHere({ lockRetryMs: 200 });
    const raw = new Database(path.join(dir, 'backend', SQLITE_FILE_NAME));
    raw.exec('BEGIN IMMEDIATE');
    try {
      await expect(bk.put({ key: '/locked', value: enc('v') })).rejects.toMatchObject({ kind: 'connection-problem' });
    } finally {
      raw.exec('COMMIT');
      raw.close();
    }
    await bk.put({ key: '/locked', value: enc('v') });
  });

  it('sustains a high put rate', async () => {
    const bk = await openHere();
    const n = 20_000;
    const value = enc(JSON.stringify({ kind: 'node', spec: { hostname: 'host', addr: '127.0.0.1:3022' } }));
    const started = performance.now();
    for (let i = 0; i < n; i++) await bk.put({ key: `/nodes/default/${i}`, value });
    const perSecond = n / ((performance.now() - started) / 1000);
    // A floor that catches a pathological write path (an fsync per commit), not a benchmark.
    expect(perSecond).toBeGreaterThan(5_000);
  });

  it('fails calls with connection-problem after close and ends its watchers', async () => {
    const bk = await openSqliteBackend({ path: path.join(dir, 'backend'), clock });
    const w = await bk.newWatcher();
    await bk.close();
    await w.done;
    await expect(bk.get('/k')).rejects.toMatchObject({ kind: 'connection-problem' });
    await expect(bk.put({ key: '/k', value: enc('v') })).rejects.toMatchObject({ kind: 'connection-problem' });
  });

  it('is what openBackend opens for storage type sqlite, under <dataDir>/backend/sqlite.db', async () => {
    const bk = await openBackend({ storage: { type: 'sqlite' }, dataDir: dir, clock });
    open.push(bk);
    expect(bk.kind).toBe('sqlite');
    await bk.put({ key: '/where', value: enc('here') });
    expect(fs.existsSync(path.join(dir, 'backend', 'sqlite.db'))).toBe(true);
    const custom = await openBackend({ storage: { type: 'sqlite', path: path.join(dir, 'custom') }, dataDir: dir, clock });
    open.push(custom);
    expect(fs.existsSync(path.join(dir, 'custom', 'sqlite.db'))).toBe(true);
  });
});
