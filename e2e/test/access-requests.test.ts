/**
 * Just-in-time access end to end, with the built programs: bob holds `access` (which reaches the databases only as db
 * user bob) and may request `dba` (db user postgres). He asks with `tsh request new`, which waits; alice, a reviewer,
 * approves with `tsh request review`; bob's command completes with certificates carrying dba, and psql through the
 * whole chain (tsh local proxy -> proxy -> reverse tunnel -> db agent -> real PostgreSQL) runs as postgres. Thresholds,
 * denials, self-review, the access expiry, `tsh request drop`, a resource request, the webhook (a real HTTP server)
 * and the audit log are checked too.
 */

import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requirePostgres, requireTool, startPostgres, type PostgresServer } from '@teleport-ts/testkit';
import { bin, completeInvite, runTsh, startCluster, startDaemon, type RunningDaemon, type TestCluster } from './tsh-cluster.js';
import { run } from './tctl-harness.js';

const postgres = requirePostgres();
const psql = requireTool('psql', 'postgresql-client');
const PASSWORD = 'correct horse battery staple';

/** `tsh ...` in the background: its output so far, and its end. */
function startTsh(home: string, args: string[]) {
  const child = spawn(bin('tsh'), args, { env: { ...process.env, TELEPORT_HOME: home, TELEPORT_PROXY: '', TELEPORT_USER: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const done = new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr })));
  return { output: () => stdout + stderr, done, kill: () => child.kill('SIGKILL') };
}

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const ROLES = `kind: role
version: v7
metadata: { name: dba }
spec:
  allow:
    db_labels: { '*': '*' }
    db_users: [postgres]
    db_names: ['*']
---
kind: role
version: v7
metadata: { name: dba-requester }
spec:
  allow:
    request:
      roles: [dba]
      search_as_roles: [dba]
---
kind: role
version: v7
metadata: { name: dba-requester-two }
spec:
  allow:
    request:
      roles: [dba]
      thresholds: [{ approve: 2, deny: 1 }]
---
kind: role
version: v7
metadata: { name: dba-always }
spec:
  allow:
    request:
      roles: [dba]
  options:
    request_access: always
---
kind: role
version: v7
metadata: { name: dba-reviewer }
spec:
  allow:
    review_requests:
      roles: [dba]
`;

describe.skipIf(postgres === undefined || !psql.available)('access requests with tsh, tctl, a db agent and PostgreSQL', () => {
  let cluster: TestCluster;
  let pg: PostgresServer;
  let agent: RunningDaemon | undefined;
  let hook: Server;
  const hooks: Record<string, unknown>[] = [];
  const homes: Record<string, string> = {};

  const tctl = (args: string[]) => run(bin('tctl'), ['-c', cluster.config, ...args]);
  const tsh = (user: string, args: string[], input?: string) => runTsh(homes[user]!, [...args], input === undefined ? {} : { input });
  const login = async (user: string, extra: string[] = []) => {
    const res = await runTsh(homes[user]!, ['login', `--proxy=${cluster.proxyAddr}`, `--user=${user}`, '--insecure', ...extra], { input: `${PASSWORD}\n` });
    expect(res.code, res.stderr).toBe(0);
    return res;
  };
  const asPostgres = (user: string, db = 'roach') => tsh(user, ['db', 'connect', '--insecure', '--db-user=postgres', '--db-name=postgres', db], 'select current_user\n');
  const requestId = (text: string): string => /Request ID: +([0-9a-f-]{36})/.exec(text)?.[1] ?? '';

  async function addUserAndLogin(user: string, args: string[]): Promise<void> {
    const invite = await cluster.addUser(user, args);
    await completeInvite(invite, PASSWORD);
    homes[user] = path.join(cluster.dir, `tsh-${user}`);
    await login(user);
  }

  beforeAll(async () => {
    hook = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        hooks.push(JSON.parse(body) as Record<string, unknown>);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    const hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/teleport`;
    cluster = await startCluster({ secondFactor: 'off', authServiceExtra: ['  access_requests:', '    webhook:', `      url: ${hookUrl}`] });
    const pin = /CA pin: (sha256:[0-9a-f]{64})/.exec(cluster.output())![1]!;

    const certs = path.join(cluster.dir, 'roach-certs');
    const signed = await tctl(['auth', 'sign', '--format=cockroachdb', '--host=localhost', `--out=${certs}`]);
    expect(signed.code, signed.stderr).toBe(0);
    pg = await startPostgres({
      tls: { certFile: path.join(certs, 'node.crt'), keyFile: path.join(certs, 'node.key'), caFile: path.join(certs, 'ca-client.crt') },
      hba: ['local all all trust', 'hostssl all all 127.0.0.1/32 cert'],
    });
    await pg.query('CREATE ROLE bob LOGIN');
    await pg.createDatabase('bob');

    const tokenOut = await tctl(['tokens', 'add', '--type=db']);
    const token = /--token=([0-9a-f]+)/.exec(tokenOut.stdout)?.[1] ?? /^([0-9a-f]{32})$/m.exec(tokenOut.stdout)?.[1];
    const agentConfig = path.join(cluster.dir, 'agent.yaml');
    const database = (name: string) => [`  - name: ${name}`, '    protocol: postgres', `    uri: localhost:${pg.port}`, '    static_labels:', '      env: dev', '    tls:', `      ca_cert_file: ${path.join(certs, 'ca.crt')}`];
    await writeFile(
      agentConfig,
      ['version: v3', 'teleport:', '  nodename: db-agent', `  data_dir: ${path.join(cluster.dir, 'agent-data')}`, 'auth_service:', '  enabled: no', 'proxy_service:', '  enabled: no', 'db_service:', '  enabled: yes', '  databases:', ...database('roach'), ...database('pg'), ''].join('\n'),
    );
    agent = await startDaemon(['start', '--roles=db', `--auth-server=${cluster.proxyAddr}`, `--ca-pin=${pin}`, '-c', agentConfig, `--token=${token}`]);

    const roles = path.join(cluster.dir, 'roles.yaml');
    await writeFile(roles, ROLES);
    const created = await tctl(['create', roles]);
    expect(created.code, created.stderr).toBe(0);
    await addUserAndLogin('bob', ['--roles=access,dba-requester', '--db-users=bob', '--db-names=*']);
    await addUserAndLogin('dan', ['--roles=access,dba-requester-two', '--db-users=dan']);
    await addUserAndLogin('alice', ['--roles=dba-reviewer']);
    await addUserAndLogin('carol', ['--roles=dba-reviewer']);
    await until('the databases', async () => ((await tsh('bob', ['db', 'ls', '--insecure'])).stdout.includes('roach') ? true : undefined));
  }, 180_000);

  afterAll(async () => {
    await agent?.stop();
    await pg?.destroy();
    await cluster?.stop();
    hook?.close();
  });

  it('bob is refused as postgres; tsh request new waits; alice approves; bob connects as postgres and tsh status shows dba', async () => {
    const before = await asPostgres('bob');
    expect(before.code).not.toBe(0);
    expect(before.stderr).toMatch(/access to db denied: db user "postgres" is not allowed/);

    const pending = startTsh(homes['bob']!, ['request', 'new', '--roles=dba', '--reason=incident 42', '--insecure']);
    const id = await until('the request id', () => requestId(pending.output()) || undefined);
    expect(pending.output()).toContain('Waiting for request approval...');

    const ls = await tsh('alice', ['request', 'ls']);
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).toMatch(new RegExp(`^${id} +bob +dba +.*PENDING +request="incident 42"`, 'm'));
    const review = await tsh('alice', ['request', 'review', '--approve', '--reason=go ahead', id]);
    expect(review.code, review.stderr).toBe(0);
    expect(review.stdout).toBe('Successfully submitted review.  Request state: APPROVED\n');

    const done = await pending.done;
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toMatch(/Roles: +access, dba, dba-requester\n/);
    expect(done.stdout).toContain(`Active requests:    ${id}\n`);

    const connected = await asPostgres('bob');
    expect(connected.stderr).toBe('');
    expect(connected.stdout).toMatch(/current_user\s*\n-+\s*\n postgres\s*\n\(1 row\)/);

    const status = await tsh('bob', ['status']);
    expect(status.stdout).toContain(`Active requests:    ${id}`);
    expect(status.stdout).toMatch(/Roles: +access, dba, dba-requester\n/);
    expect(status.stdout).toMatch(/Valid until: +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 UTC \[valid for /);
  });

  it('tsh request drop returns bob to his base roles', async () => {
    const dropped = await tsh('bob', ['request', 'drop', '--insecure']);
    expect(dropped.code, dropped.stderr).toBe(0);
    expect(dropped.stdout).toMatch(/Roles: +access, dba-requester\n/);
    expect(dropped.stdout).not.toContain('Active requests');
    expect((await asPostgres('bob')).stderr).toMatch(/db user "postgres" is not allowed/);
  });

  it('bob cannot review his own request; a denial ends it', async () => {
    const created = await tsh('bob', ['request', 'new', '--roles=dba', '--nowait', '--insecure']);
    expect(created.code, created.stderr).toBe(0);
    const id = requestId(created.stderr + created.stdout);
    expect(created.stdout).toContain(`hint: use 'tsh login --request-id=${id}'`);
    const own = await tsh('bob', ['request', 'review', '--approve', id]);
    expect(own.code).toBe(1);
    expect(own.stderr).toBe('ERROR: a user may not review their own access request\n');
    expect((await tsh('alice', ['request', 'review', '--deny', '--reason=not now', id])).stdout).toContain('Request state: DENIED');
    expect((await tsh('carol', ['request', 'review', '--approve', id])).stderr).toMatch(/already denied/);
    const show = await tsh('bob', ['request', 'show', id]);
    expect(show.stdout).toMatch(/Status: +DENIED/);
    const assume = await runTsh(homes['bob']!, ['login', `--proxy=${cluster.proxyAddr}`, '--user=bob', '--insecure', `--request-id=${id}`], { input: `${PASSWORD}\n` });
    expect(assume.code).toBe(1);
    expect(assume.stderr).toMatch(/denied, not approved/);
  });

  it('a threshold of two approvals needs both; tctl lists and shows the request', async () => {
    const created = await tsh('dan', ['request', 'new', '--roles=dba', '--nowait', '--insecure']);
    const id = requestId(created.stderr + created.stdout);
    expect((await tsh('alice', ['request', 'review', '--approve', id])).stdout).toContain('Request state: PENDING');
    expect((await tsh('carol', ['request', 'review', '--approve', id])).stdout).toContain('Request state: APPROVED');
    const ls = await tctl(['request', 'ls']);
    expect(ls.stdout).toMatch(new RegExp(`^${id} +dan +roles=dba +.* APPROVED`, 'm'));
    const get = await tctl(['request', 'get', id, '--format=json']);
    expect((JSON.parse(get.stdout) as { spec: { reviews: { author: string }[] } }[])[0]!.spec.reviews.map((r) => r.author)).toEqual(['alice', 'carol']);
    const assumed = await login('dan', [`--request-id=${id}`]);
    expect(assumed.stdout).toContain(`Active requests:    ${id}`);

    // tctl creates one for dan, denies it, and removes it.
    const made = await tctl(['request', 'create', '--roles=dba', '--reason=audit', 'dan']);
    expect(made.code, made.stderr).toBe(0);
    const madeId = made.stdout.trim();
    expect(madeId).toMatch(/^[0-9a-f-]{36}$/);
    expect((await tctl(['request', 'deny', madeId, '--reason=no'])).code).toBe(0);
    expect((await tsh('dan', ['request', 'show', madeId])).stdout).toMatch(/Status: +DENIED\n/);
    expect((await tctl(['request', 'rm', madeId])).stdout).toBe(`access request ${madeId} has been deleted\n`);
    expect((await tctl(['request', 'get', madeId])).stderr).toMatch(/not found/);
  });

  it('after the access expiry new connections as postgres are refused', async () => {
    const pending = startTsh(homes['bob']!, ['request', 'new', '--roles=dba', '--max-duration=12s', '--insecure']);
    const id = await until('the request id', () => requestId(pending.output()) || undefined);
    const approved = await tctl(['request', 'approve', id, '--reason=short']);
    expect(approved.code, approved.stderr).toBe(0);
    const done = await pending.done;
    expect(done.code, done.stderr).toBe(0);
    expect((await asPostgres('bob')).stdout).toContain(' postgres');
    await new Promise((r) => setTimeout(r, 13_000));
    const after = await asPostgres('bob');
    expect(after.code).not.toBe(0);
    expect(after.stdout).not.toContain(' postgres');
    // The user certificate ended with the access: tsh refuses before dialling, and asks for a new login.
    expect(after.stderr).toMatch(/certificate has expired/);
    await login('bob');
  }, 60_000);

  it('a resource request for /e2e.example.com/db/roach grants that database only', async () => {
    const search = await tsh('bob', ['request', 'search', '--kind=db']);
    expect(search.stdout).toContain('/e2e.example.com/db/roach');
    const pending = startTsh(homes['bob']!, ['request', 'new', '--resource=/e2e.example.com/db/roach', '--reason=debug', '--insecure']);
    const id = await until('the request id', () => requestId(pending.output()) || undefined);
    expect((await tsh('alice', ['request', 'review', '--approve', id])).code).toBe(0);
    expect((await pending.done).code).toBe(0);
    expect((await asPostgres('bob', 'roach')).stdout).toContain(' postgres');
    const other = await asPostgres('bob', 'pg');
    expect(other.code).not.toBe(0);
    expect(other.stderr).toMatch(/does not include database "pg"/);
  });

  it('with request_access: always, tsh login requests the roles itself and waits for the approval', async () => {
    await completeInvite(await cluster.addUser('erin', ['--roles=dba-always']), PASSWORD);
    homes['erin'] = path.join(cluster.dir, 'tsh-erin');
    const child = spawn(bin('tsh'), ['login', `--proxy=${cluster.proxyAddr}`, '--user=erin', '--insecure'], {
      env: { ...process.env, TELEPORT_HOME: homes['erin'], TELEPORT_PROXY: '', TELEPORT_USER: '' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((r) => child.on('close', r));
    child.stdin.end(`${PASSWORD}\n`);
    const id = await until('the request id', () => requestId(out) || undefined);
    expect((await tctl(['request', 'approve', id])).code).toBe(0);
    expect(await exited).toBe(0);
    expect(out).toMatch(/Roles: +dba, dba-always\n/);
    expect(out).toContain(`Active requests:    ${id}`);
  });

  it('the webhook got every create and decision; the audit log holds every event', async () => {
    await until('webhook deliveries', () => (hooks.filter((h) => h['event'] === 'access_request.update').length >= 4 ? true : undefined));
    expect(hooks.find((h) => h['event'] === 'access_request.create' && h['request_reason'] === 'incident 42')).toMatchObject({ user: 'bob', roles: ['dba'], state: 'PENDING' });
    expect(hooks.some((h) => h['event'] === 'access_request.update' && h['state'] === 'APPROVED')).toBe(true);
    expect(hooks.some((h) => h['event'] === 'access_request.update' && h['state'] === 'DENIED' && h['resolve_reason'] === 'not now')).toBe(true);

    const audit = await tctl(['audit', 'events', '--format=json', '--limit=1000', '--type=access_request.create,access_request.review,access_request.update,cert.create']);
    expect(audit.code, audit.stderr).toBe(0);
    const events = JSON.parse(audit.stdout) as Record<string, unknown>[];
    const seen = new Set(events.map((e) => `${String(e['event'])}:${String(e['state'] ?? e['proposed_state'] ?? '')}`));
    for (const k of ['access_request.create:PENDING', 'access_request.review:APPROVED', 'access_request.review:DENIED', 'access_request.update:APPROVED', 'access_request.update:DENIED']) {
      expect(seen).toContain(k);
    }
    expect(events.some((e) => e['event'] === 'cert.create' && Array.isArray((e['identity'] as { access_requests?: unknown } | undefined)?.access_requests))).toBe(true);
  });
});
