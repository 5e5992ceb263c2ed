/**
 * A proxy in its own process (`--roles=proxy`) and a db agent joined through it keep caches fed by the auth server's
 * backend watch (issue 12, item 2): a lock or a role change made through the auth server reaches them within 2 s,
 * and with the auth process stopped a logged-in user still lists (`tsh db ls`) and connects (`tsh db connect`),
 * running sessions continue, a lock written before is still enforced, and `tsh login` fails with one line.
 *
 * psql -> tsh -> proxy (its own process) -> reverse tunnel -> db agent -> PostgreSQL; auth server in a third process
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentConfigLines, openPsqlSession, requirePostgres, requireTool, roachService, startCertDatabase, startLocalDbProxy, type PostgresServer } from '@teleport-ts/testkit';
import { bin, completeInvite, dbUserRoleYaml, freePort, runTsh, startDaemon, until, writeAuthOnlyConfig, type RunningDaemon } from './tsh-cluster.js';
import { run } from './tctl-harness.js';

const postgres = requirePostgres();
const psql = requireTool('psql', 'postgresql-client');
const PASSWORD = 'correct horse battery staple';
const CLUSTER = 'cached.example.com';

/** One `psql -c` through a tunnel: its exit code and output. */
function psqlOnce(port: number, user: string, sql: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(psql.path!, ['-X', '-q', '-A', '-t', '-c', sql, `postgres://${user}@127.0.0.1:${port}/${user}?sslmode=disable&connect_timeout=5`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString()));
    p.stderr.on('data', (b: Buffer) => (out += b.toString()));
    p.on('close', (code) => resolve({ code: code ?? -1, out }));
  });
}

/** `/metrics` of a diag endpoint, every line checked as Prometheus text: sample name (with labels) -> value. */
async function scrape(addr: string): Promise<Map<string, number>> {
  const text = await (await fetch(`http://${addr}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
    expect(line).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? \S+$/);
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

describe.skipIf(postgres === undefined || !psql.available)('a proxy alone with a cache fed by the auth server watch', () => {
  let dir: string;
  let dataPg: PostgresServer;
  let auth: RunningDaemon | undefined;
  let proxy: RunningDaemon;
  let agent: RunningDaemon;
  let authConfig: string;
  let proxyAddr: string;
  const homes: Record<string, string> = {};
  const children: ChildProcess[] = [];

  const tctl = (args: string[]) => run(bin('tctl'), ['-c', authConfig, ...args]);
  const tsh = (user: string, args: string[], input?: string) => runTsh(homes[user]!, args, input === undefined ? {} : { input });
  const login = (user: string) => tsh(user, ['login', `--proxy=${proxyAddr}`, `--user=${user}`, '--insecure'], `${PASSWORD}\n`);
  const dbLs = (user: string) => tsh(user, ['db', 'ls', '--insecure']);

  async function writeRole(envLabel: string): Promise<void> {
    const file = path.join(dir, `role-${envLabel}.yaml`);
    await writeFile(file, dbUserRoleYaml(envLabel));
    const created = await tctl(['create', '-f', file]);
    expect(created.code, created.stderr).toBe(0);
  }

  async function startAuth(authPort: number): Promise<RunningDaemon> {
    authConfig = await writeAuthOnlyConfig({ dir, authPort, cluster: CLUSTER, publicAddr: proxyAddr });
    return startDaemon(['start', '-c', authConfig]);
  }

  async function joinToken(type: string): Promise<string> {
    const out = await tctl(['tokens', 'add', `--type=${type}`]);
    return /--token=([0-9a-f]+)/.exec(out.stdout)?.[1] ?? /^([0-9a-f]{32})$/m.exec(out.stdout)![1]!;
  }

  async function startDatabase(): Promise<string> {
    const certs = path.join(dir, 'roach-certs');
    dataPg = await startCertDatabase(authConfig, certs, ['alice', 'carol']);
    return certs;
  }

  async function startAgent(pin: string, certs: string): Promise<RunningDaemon> {
    const agentConfig = path.join(dir, 'agent.yaml');
    const services = roachService({ port: dataPg.port, caFile: path.join(certs, 'ca.crt'), labels: { env: 'dev' } });
    await writeFile(agentConfig, [...agentConfigLines({ name: 'db-agent', dataDir: path.join(dir, 'agent-data'), services }), ''].join('\n'));
    // The agent reaches the auth API through the proxy's passthrough, as agents outside the auth server's network do.
    return startDaemon(['start', '--roles=db', `--auth-server=${proxyAddr}`, `--diag-addr=${agentDiag}`, `--ca-pin=${pin}`, `--token=${await joinToken('db')}`, '-c', agentConfig]);
  }

  async function invite(user: string): Promise<void> {
    const out = await tctl(['users', 'add', user, '--roles=dbuser', `--db-users=${user}`, '--db-names=*']);
    expect(out.code, out.stderr).toBe(0);
    await completeInvite(/https:\/\/\S+\/web\/invite\/[0-9a-f]+/.exec(out.stdout)![0], PASSWORD);
    homes[user] = path.join(dir, `tsh-${user}`);
    const res = await login(user);
    expect(res.code, res.stderr).toBe(0);
  }

  let authPort: number;
  let proxyDiag: string;
  let agentDiag: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'tp-e2e-proxy-cache-'));
    authPort = await freePort();
    proxyAddr = `127.0.0.1:${await freePort()}`;
    proxyDiag = `127.0.0.1:${await freePort()}`;
    agentDiag = `127.0.0.1:${await freePort()}`;
    auth = await startAuth(authPort);
    const pin = /CA pin: (sha256:[0-9a-f]{64})/.exec(auth.output())![1]!;
    const proxyConfig = path.join(dir, 'proxy.yaml');
    await writeFile(proxyConfig, ['version: v3', 'proxy_service:', `  web_listen_addr: ${proxyAddr}`, ''].join('\n'));
    const proxyArgs = ['--roles=proxy', `--data-dir=${path.join(dir, 'proxy')}`, `--token=${await joinToken('proxy')}`, `--ca-pin=${pin}`];
    proxy = await startDaemon(['start', ...proxyArgs, `--auth-server=127.0.0.1:${authPort}`, `--diag-addr=${proxyDiag}`, '-c', proxyConfig]);
    await writeRole('dev');
    agent = await startAgent(pin, await startDatabase());
    await invite('alice');
    await invite('carol');
    await until(async () => (await dbLs('alice')).stdout.includes('roach'), 30_000, 'the agent announces roach');
  }, 240_000);

  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    await agent?.stop();
    await proxy?.stop();
    await auth?.stop();
    await dataPg?.destroy();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('the proxy and the agent follow the auth server watch: a lock and a role change take effect within 2 s', async () => {
    expect(proxy.output()).toContain('cache is ready cache:proxy');
    const tunnel = await startLocalDbProxy(homes['carol']!, 'carol');
    children.push(tunnel.child);
    await until(async () => (await psqlOnce(tunnel.port, 'carol', 'select 1')).code === 0, 10_000, 'carol connects');

    await writeRole('prod');
    const roleMs = await until(async () => (await psqlOnce(tunnel.port, 'carol', 'select 1')).code !== 0, 2_000, 'the role change refuses carol');
    await writeRole('dev');
    await until(async () => (await psqlOnce(tunnel.port, 'carol', 'select 1')).code === 0, 2_000, 'the role change back lets carol in');

    const locked = await tctl(['lock', '--user=carol', '--message=on call review', '--ttl=1h']);
    expect(locked.code, locked.stderr).toBe(0);
    let refusal = '';
    const lockMs = await until(
      async () => {
        const r = await psqlOnce(tunnel.port, 'carol', 'select 1');
        refusal = r.out;
        return r.code !== 0;
      },
      2_000,
      'the lock refuses carol',
    );
    // The first failure may be a session that started just before the lock and was cut: a new one is refused in words.
    if (!refusal.includes('lock targeting')) refusal = (await psqlOnce(tunnel.port, 'carol', 'select 1')).out;
    expect(refusal).toContain('lock targeting User:"carol" is in force: on call review');
    console.log(`through the caches: the role change refused carol after ${Math.round(roleMs)} ms, the lock after ${Math.round(lockMs)} ms`);
  });

  it('with the auth process stopped: db ls and db connect work, running sessions go on, the lock holds, tsh login fails with one line', async () => {
    const dbLogin = await tsh('alice', ['db', 'login', '--insecure', '--db-user=alice', '--db-name=alice', 'roach']);
    expect(dbLogin.code, dbLogin.stderr).toBe(0);
    const tunnel = await startLocalDbProxy(homes['alice']!, 'alice');
    children.push(tunnel.child);
    const session = openPsqlSession(psql.path!, `postgres://alice@127.0.0.1:${tunnel.port}/alice?sslmode=disable`);
    expect(await session.query('select current_user')).toContain('alice');

    const proxyBefore = await scrape(proxyDiag);
    expect(proxyBefore.get('teleport_cache_healthy{cache="proxy"}')).toBe(1);
    expect((await scrape(agentDiag)).get('teleport_cache_healthy{cache="db"}')).toBe(1);
    expect((await scrape(agentDiag)).get('teleport_active_sessions{protocol="postgres"}')).toBeGreaterThanOrEqual(1);

    await auth!.stop();
    auth = undefined;
    expect(await session.query("select 'still here'")).toContain('still here');
    // The session's statements are audit events the agent cannot deliver now: they wait in its queue.
    await until(async () => ((await scrape(agentDiag)).get('teleport_audit_queue_depth{service="db"}') ?? 0) > 0, 10_000, 'audit events queue at the agent');
    await until(async () => (await scrape(proxyDiag)).get('teleport_cache_healthy{cache="proxy"}') === 0, 10_000, 'the proxy cache reports the lost watch');

    const ls = await dbLs('alice');
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).toContain('roach');
    const connect = await tsh('alice', ['db', 'connect', '--insecure', 'roach'], 'select current_user\n');
    expect(connect.code, connect.stderr).toBe(0);
    expect(connect.stdout).toContain(' alice\n');
    expect((await psqlOnce(tunnel.port, 'alice', 'select 2')).code).toBe(0);

    // The lock written before is still enforced, by the proxy's cache.
    const carolLs = await dbLs('carol');
    expect(carolLs.code).toBe(1);
    expect(carolLs.stderr).toBe('ERROR: lock targeting User:"carol" is in force: on call review\n');

    const refused = await login('alice');
    expect(refused.code).toBe(1);
    // One error line (and the hint line tsh prints under it).
    expect(refused.stderr).toMatch(/^Enter password for Teleport user alice: \nERROR: failed to connect to [^\n]+: connection refused\n(is the auth server running[^\n]*\n)?$/);
    console.log(`tsh login with the auth server stopped: ${refused.stderr.split('\n')[1]}`);
    session.close();

    // The auth server comes back on the same address: the proxy's cache re-initialises by itself.
    auth = await startDaemon(['start', '-c', authConfig]);
    const recoveredMs = await until(async () => (await login('alice')).code === 0, 15_000, 'tsh login after the auth server returned');
    await until(async () => (await scrape(proxyDiag)).get('teleport_cache_healthy{cache="proxy"}') === 1, 15_000, 'the proxy cache is healthy again');
    expect((await scrape(proxyDiag)).get('teleport_cache_initializations_total{cache="proxy"}')).toBeGreaterThan(proxyBefore.get('teleport_cache_initializations_total{cache="proxy"}')!);
    // Nothing queued was lost: the agent's queue drains into the auth server.
    await until(async () => (await scrape(agentDiag)).get('teleport_audit_queue_depth{service="db"}') === 0, 20_000, 'the agent audit queue drains');
    console.log(`tsh login worked again ${Math.round(recoveredMs)} ms after the auth server was up`);
  }, 120_000);
});
