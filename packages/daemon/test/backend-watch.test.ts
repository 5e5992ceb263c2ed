/**
 * The backend watch over the auth API (`GET /v1/backend/watch`, `/v1/backend/items`) and the caches fed by it
 * (`startRemoteCache`), on a real socket and sqlite: scoped by system role (a proxy never sees users, tokens or CA
 * private keys; an agent sees less; users are refused), a write through the auth server reaches the cache within
 * the watch latency, and the cache answers from memory once the auth server is gone.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newAuthClient, type AuthClient } from '@teleport-ts/core/api';
import { rangeEnd } from '@teleport-ts/core/backend';
import { parseLock, parseNode, parseRole } from '@teleport-ts/core/types';
import { nopLogger } from '../src/logger.js';
import { issueLocalHostIdentity } from '../src/roles/auth/index.js';
import { PROXY_CACHE_PREFIXES, startRemoteCache, type RemoteCache } from '../src/roles/remote-cache.js';
import { rejection, startTestAuth, type TestAuth } from './auth-helpers.js';

async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<number> {
  const started = performance.now();
  while (!(await check())) {
    if (performance.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return performance.now() - started;
}

describe('backend watch over the auth API, and the caches it feeds', () => {
  let t: TestAuth;
  let proxy: AuthClient;
  let db: AuthClient;
  let cache: RemoteCache;
  let closed = false;

  beforeAll(async () => {
    t = await startTestAuth();
    proxy = newAuthClient({ addr: t.auth.dialAddr, identity: await issueLocalHostIdentity(t.auth.context, 'Proxy', t.auth.dialAddr) });
    db = newAuthClient({ addr: t.auth.dialAddr, identity: await issueLocalHostIdentity(t.auth.context, 'Db', t.auth.dialAddr) });
    await t.admin.upsertRole(parseRole({ kind: 'role', version: 'v7', metadata: { name: 'dbuser' }, spec: { allow: { db_labels: { env: 'dev' } } } }));
    cache = await startRemoteCache({ auth: proxy, prefixes: PROXY_CACHE_PREFIXES, name: 'proxy', clock: t.clock, logger: nopLogger, settings: { backoff: { baseMs: 50, maxMs: 200 } } });
  });

  afterAll(async () => {
    await cache?.close();
    await proxy?.close();
    await db?.close();
    if (!closed) await t?.close();
  });

  it('serves a proxy CAs without private keys, never users or tokens; an agent less; users nothing', async () => {
    expect(cache.cache.state()).toBe('ready');
    const [host] = await cache.reads.getCertAuthorities('host');
    expect(host?.spec.active_keys.tls[0]?.cert).toContain('BEGIN CERTIFICATE');
    expect(JSON.stringify(host)).not.toMatch(/PRIVATE KEY|"key"|private_key/);
    const raw = await proxy.getBackendItems('/authorities/', rangeEnd('/authorities/'));
    expect(raw.length).toBeGreaterThan(0);
    expect(raw.map((i) => Buffer.from(i.value).toString())).not.toContainEqual(expect.stringMatching(/PRIVATE KEY/));

    for (const prefix of ['/web/users/', '/tokens/', '/']) {
      expect((await rejection(proxy.getBackendItems(prefix, rangeEnd(prefix)))).kind).toBe('access-denied');
    }
    const watchUsers = rejection((async () => {
      for await (const _ of proxy.watchBackend(['/web/users/'], new AbortController().signal)) break;
    })());
    expect((await watchUsers).kind).toBe('access-denied');
    expect((await rejection(db.getBackendItems('/db_servers/', rangeEnd('/db_servers/')))).kind).toBe('access-denied');
    expect((await db.getBackendItems('/roles/', rangeEnd('/roles/'))).map((i) => i.key)).toContain('/roles/dbuser/params');
    const alice = await t.userClient('alice', ['dbuser']);
    expect((await rejection(alice.getBackendItems('/roles/', rangeEnd('/roles/')))).kind).toBe('access-denied');
  });

  it('a lock and a role change through the auth server reach the cache within the watch latency', async () => {
    await t.admin.upsertLock(parseLock({ kind: 'lock', version: 'v2', metadata: { name: 'freeze' }, spec: { target: { user: 'mallory' }, message: 'incident' } }));
    const lockMs = await until(async () => (await cache.reads.getLocks()).some((l) => l.metadata.name === 'freeze'), 2_000, 'the lock reaches the cache');
    await t.admin.upsertRole(parseRole({ kind: 'role', version: 'v7', metadata: { name: 'dbuser' }, spec: { allow: { db_labels: { env: 'prod' } } } }));
    const roleMs = await until(async () => (await cache.reads.getRole('dbuser')).spec.allow.db_labels['env']?.includes('prod') ?? false, 2_000, 'the role change reaches the cache');
    console.log(`the proxy cache saw the lock after ${Math.round(lockMs)} ms and the role change after ${Math.round(roleMs)} ms`);
  });

  it('parses a cached node once per write: the same object until it is written again (routing reads it per session)', async () => {
    const node = (env: string) => parseNode({ kind: 'node', sub_kind: 'openssh', metadata: { name: 'agentless-w', labels: { env } }, spec: { hostname: 'w1', addr: '10.0.0.9:22' } });
    await t.admin.upsertNode(node('dev'));
    await until(async () => (await cache.reads.getNodes()).some((n) => n.metadata.name === 'agentless-w'), 2_000, 'the node reaches the cache');
    const first = (await cache.reads.getNodes()).find((n) => n.metadata.name === 'agentless-w');
    expect((await cache.reads.getNodes()).find((n) => n.metadata.name === 'agentless-w')).toBe(first);
    await t.admin.upsertNode(node('prod'));
    await until(async () => (await cache.reads.getNodes()).find((n) => n.metadata.name === 'agentless-w')?.metadata.labels?.['env'] === 'prod', 2_000, 'the new labels reach the cache');
    expect((await cache.reads.getNodes()).find((n) => n.metadata.name === 'agentless-w')).not.toBe(first);
    await t.admin.deleteNode('agentless-w');
  });

  it('answers from memory once the auth server is gone', async () => {
    const initialisations = cache.cache.initialisations();
    await t.close();
    closed = true;
    await until(async () => cache.cache.state() === 'stale', 5_000, 'the cache sees the watch end');
    expect((await cache.reads.getRole('dbuser')).spec.allow.db_labels['env']).toContain('prod');
    expect((await cache.reads.getLocks()).map((l) => l.metadata.name)).toContain('freeze');
    expect((await cache.reads.getCertAuthorities('user')).length).toBe(1);
    // The cache keeps trying with backoff, without reloading in a loop: nothing succeeded without a server.
    await new Promise((r) => setTimeout(r, 500));
    expect(cache.cache.initialisations()).toBe(initialisations);
  });
});
