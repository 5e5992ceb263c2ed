/**
 * Database access end to end, with the built programs: a real PostgreSQL (standing in for CockroachDB: same wire
 * protocol) serving the certificates of `tctl auth sign --format=cockroachdb` with client-certificate auth only; auth
 * and proxy in one daemon; a db agent in another that joins with a `tctl tokens add --type=db` token and the CA pin
 * and reaches the cluster only through the proxy; users invited with `tctl users add`, logged in with `tsh login`.
 *
 * psql -> tsh local proxy -> proxy (teleport-postgres) -> reverse tunnel -> db agent (RBAC) -> PostgreSQL (mTLS)
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  newBackendParser,
  serializeCancelRequest,
  serializeQuery,
  serializeStartupMessage,
  type BackendMessage,
} from '@teleport-ts/core/protocol/postgres';
import { agentConfigLines, requirePostgres, requireTool, roachService, startCertDatabase, type PostgresServer } from '@teleport-ts/testkit';
import { bin, completeInvite, nextTotp, runTsh, startCluster, startDaemon, type RunningDaemon, type TestCluster } from './tsh-cluster.js';
import { pgSession } from './pg-session.js';
import { run } from './tctl-harness.js';

const postgres = requirePostgres();
const psql = requireTool('psql', 'postgresql-client');
const PASSWORD = 'correct horse battery staple';

/** `tsh proxy db ...` running in the background (`args` after `tsh`, when `raw`); resolves once it printed its port. */
async function startProxyDb(
  home: string,
  args: string[],
  raw = false,
): Promise<{ port: number; banner: string; stderr(): string; stop(): Promise<number | null> }> {
  const child: ChildProcess = spawn(bin('tsh'), raw ? args : ['proxy', 'db', '--insecure', ...args], {
    env: { ...process.env, TELEPORT_HOME: home, TELEPORT_PROXY: '', TELEPORT_USER: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const deadline = Date.now() + 20_000;
  while (!/on 127\.0\.0\.1:(\d+)\./.test(out)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`tsh proxy db did not start: ${out}${err}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, 100));
  return {
    port: Number(/on 127\.0\.0\.1:(\d+)\./.exec(out)![1]),
    banner: out,
    stderr: () => err,
    stop: async () => {
      if (child.exitCode !== null) return child.exitCode;
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGINT');
      return exited;
    },
  };
}

describe.skipIf(postgres === undefined || !psql.available)('database access through tsh, the proxy and a db agent', () => {
  let cluster: TestCluster;
  let pg: PostgresServer;
  let agent: RunningDaemon | undefined;
  let agentArgs: string[];
  let agentConfig: string;
  let pin: string;
  const homes: Record<string, string> = {};

  const tctl = (args: string[]) => run(bin('tctl'), ['-c', cluster.config, ...args]);
  const tsh = (user: string, args: string[], input?: string) => runTsh(homes[user]!, args, input === undefined ? {} : { input });

  /** Invites a user, completes the invite through the proxy's JSON API and logs in with tsh. */
  async function addUserAndLogin(user: string, args: string[]): Promise<void> {
    const invite = await cluster.addUser(user, args);
    const secret = await completeInvite(invite, PASSWORD);
    homes[user] = path.join(cluster.dir, `tsh-${user}`);
    const login = await runTsh(homes[user]!, ['login', `--proxy=${cluster.proxyAddr}`, `--user=${user}`, '--insecure'], {
      input: `${PASSWORD}\n${secret ? nextTotp(secret) : ''}\n`,
    });
    expect(login.code, login.stderr).toBe(0);
  }

  /** Polls `tsh db ls` until `check` holds. */
  async function waitForList(user: string, check: (stdout: string) => boolean, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const ls = await tsh(user, ['db', 'ls', '--insecure']);
      if (ls.code === 0 && check(ls.stdout)) return ls.stdout;
      if (Date.now() > deadline) throw new Error(`tsh db ls never matched:\n${ls.stdout}${ls.stderr}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  beforeAll(async () => {
    cluster = await startCluster();
    pin = /CA pin: (sha256:[0-9a-f]{64})/.exec(cluster.output())![1]!;

    // The database: certificates from tctl, client certificates required on TCP.
    const certs = path.join(cluster.dir, 'roach-certs');
    pg = await startCertDatabase(cluster.config, certs, ['alice', 'bob']);
    // libpq's default database is the user's name (CockroachDB accepts any); `app` and `other` for db_names.
    for (const db of ['app', 'other']) await pg.createDatabase(db);

    // The db agent, in its own process: joins through the proxy with a db token and the CA pin.
    const tokenOut = await tctl(['tokens', 'add', '--type=db']);
    expect(tokenOut.code, tokenOut.stderr).toBe(0);
    const token = /--token=([0-9a-f]+)/.exec(tokenOut.stdout)?.[1] ?? /^([0-9a-f]{32})$/m.exec(tokenOut.stdout)?.[1];
    expect(token, tokenOut.stdout).toBeDefined();
    agentConfig = path.join(cluster.dir, 'agent.yaml');
    const roach = roachService({ port: pg.port, caFile: path.join(certs, 'ca.crt'), labels: { env: 'dev' } });
    const orders = ['  - name: pg', '    description: Orders', '    protocol: postgres', `    uri: localhost:${pg.port}`, '    static_labels:', '      env: dev'];
    await writeFile(agentConfig, [...agentConfigLines({ name: 'db-agent', dataDir: path.join(cluster.dir, 'agent-data'), services: [...roach, ...orders] }), ''].join('\n'));
    agentArgs = ['start', '--roles=db', `--auth-server=${cluster.proxyAddr}`, `--ca-pin=${pin}`, '-c', agentConfig];
    agent = await startDaemon([...agentArgs, `--token=${token}`]);

    // Roles for the refusals: a role for another environment, and one allowing one db user and one db name.
    const roles = path.join(cluster.dir, 'roles.yaml');
    await writeFile(
      roles,
      [
        'kind: role',
        'version: v7',
        'metadata:',
        '  name: prod-only',
        'spec:',
        '  allow:',
        '    db_labels:',
        '      env: prod',
        "    db_users: ['*']",
        "    db_names: ['*']",
        '---',
        'kind: role',
        'version: v7',
        'metadata:',
        '  name: dev-app',
        'spec:',
        '  allow:',
        '    db_labels:',
        '      env: dev',
        '    db_users: [bob]',
        '    db_names: [app]',
        '',
      ].join('\n'),
    );
    const created = await tctl(['create', roles]);
    expect(created.code, created.stderr).toBe(0);

    await addUserAndLogin('alice', ['--roles=access', "--db-users=*", "--db-names=*"]);
    await addUserAndLogin('bob', ['--roles=dev-app']);
    await addUserAndLogin('carol', ['--roles=prod-only']);
  }, 180_000);

  afterAll(async () => {
    await agent?.stop();
    await pg?.destroy();
    await cluster?.stop();
  });

  it('lists the databases the user may reach, with their labels and allowed users', async () => {
    const out = await waitForList('alice', (s) => s.includes('roach') && s.includes('pg'), 20_000);
    const lines = out.split('\n');
    expect(lines[0]).toMatch(/^Name +Description +Allowed Users +Labels +Connect +$/);
    expect(lines[1]).toMatch(/^-+ -+ -+ -+ -+ $/);
    // alice holds the preset access role, with db_users and db_names traits of '*'.
    expect(lines.find((l) => l.startsWith('roach '))).toMatch(/^roach +\[\*\] +env=dev +$/);
    expect(lines.find((l) => l.startsWith('pg '))).toMatch(/^pg +Orders +\[\*\] +env=dev +$/);

    const json = await tsh('alice', ['db', 'ls', '--insecure', '--format=json']);
    const dbs = JSON.parse(json.stdout) as { metadata: { name: string; labels: Record<string, string> }; spec: { protocol: string } }[];
    expect(dbs.map((d) => [d.metadata.name, d.spec.protocol, d.metadata.labels['env']])).toEqual([
      ['pg', 'postgres', 'dev'],
      ['roach', 'cockroachdb', 'dev'],
    ]);
    expect((await tsh('alice', ['db', 'ls', 'env=prod', '--insecure'])).stdout.split('\n').slice(2).filter((l) => l.trim() !== '')).toEqual([]);
  });

  it('connects psql through the chain: echo "select current_user" | tsh db connect --db-user=alice roach', async () => {
    const res = await tsh('alice', ['db', 'connect', '--insecure', '--db-user=alice', 'roach'], 'select current_user\n');
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/current_user\s*\n-+\s*\n alice\s*\n\(1 row\)/);
    // The certificate stayed in the profile, in Teleport's layout.
    const certFile = path.join(homes['alice']!, 'keys', '127.0.0.1', 'alice-db', 'e2e.example.com', 'roach-x509.pem');
    expect(await readFile(certFile, 'utf8')).toContain('BEGIN CERTIFICATE');
    const ls = await tsh('alice', ['db', 'ls', '--insecure']);
    expect(ls.stdout).toMatch(/^> roach \(user: alice\) +.*env=dev +tsh db connect --insecure roach +$/m);
    // The client's exit code is tsh's.
    const failing = await tsh('alice', ['db', 'connect', '--insecure', 'roach'], 'select nonsense_column;\n\\q\n');
    expect(failing.stdout).toBe('');
    const strict = await tsh('alice', ['db', 'connect', '--insecure', 'roach'], '\\set ON_ERROR_STOP on\nselect nonsense_column;\n');
    expect(strict.code).toBe(3);
    expect(strict.stderr).toContain('column "nonsense_column" does not exist');
  });

  it('tctl lock --user=alice refuses her tsh db connect with Teleport\'s message; tctl rm locks/<name> lets her in again', async () => {
    const connect = () => tsh('alice', ['db', 'connect', '--insecure', '--db-user=alice', 'roach'], 'select current_user\n');
    // A database certificate from before the lock: the agent is what refuses it.
    const before = await tsh('alice', ['db', 'login', '--insecure', '--db-user=alice', 'roach']);
    expect(before.code, before.stderr).toBe(0);
    const created = await tctl(['lock', '--user=alice', '--message=incident 42', '--ttl=1h']);
    expect(created.code, created.stderr).toBe(0);
    const name = /^Created a lock with name "([0-9a-f-]{36})"\.\n$/.exec(created.stdout)?.[1];
    expect(name, created.stdout).toBeDefined();
    try {
      const listed = await tctl(['get', 'locks']);
      expect(listed.stdout).toMatch(/kind: lock/);
      expect(listed.stdout).toMatch(/user: alice/);
      // The agent picks the lock up within its refresh (2 s).
      let refused = await connect();
      for (let i = 0; i < 40 && refused.code === 0; i++) {
        await new Promise((r) => setTimeout(r, 250));
        refused = await connect();
      }
      expect(refused.code).not.toBe(0);
      // Refused by the agent (psql: FATAL), the proxy, or already by the auth API tsh calls first (ERROR), whichever
      // has seen the lock first: the message is the same.
      expect(refused.stderr).toMatch(/(FATAL: |ERROR:) lock targeting User:"alice" is in force: incident 42/);
      expect(refused.stdout).not.toContain('alice');
      // Nor can she get a new database certificate.
      const login = await tsh('alice', ['db', 'login', '--insecure', '--db-user=alice', 'roach']);
      expect(login.code).toBe(1);
      expect(login.stderr).toBe('ERROR: lock targeting User:"alice" is in force: incident 42\n');
    } finally {
      const removed = await tctl(['rm', `locks/${name}`]);
      expect(removed.stdout).toBe(`lock "${name}" has been deleted\n`);
    }
    let back = await connect();
    for (let i = 0; i < 40 && back.code !== 0; i++) {
      await new Promise((r) => setTimeout(r, 250));
      back = await connect();
    }
    expect(back.stdout).toContain(' alice\n');
  });

  it('logs in to a database with Teleport texts, and asks for --db-user/--db-name when more than one is allowed', async () => {
    const noUser = await tsh('alice', ['db', 'login', '--insecure', 'pg']);
    expect(noUser).toMatchObject({ code: 1, stdout: '' });
    expect(noUser.stderr).toBe('ERROR: please provide the database user using the --db-user flag, allowed database users for pg: [*]\n');
    const noName = await tsh('alice', ['db', 'login', '--insecure', '--db-user=alice', 'pg']);
    expect(noName.stderr).toBe('ERROR: please provide the database name using the --db-name flag, allowed database names for pg: [*]\n');
    const login = await tsh('alice', ['db', 'login', '--insecure', '--db-user=alice', '--db-name=app', 'pg']);
    expect(login.stderr).toBe('');
    expect(login.stdout).toBe(
      [
        'Connection information for database "pg" has been saved.',
        '',
        'You can now connect to it using the following command:',
        '',
        '  tsh db connect --insecure pg',
        '',
        'You can start a local proxy for database GUI clients:',
        '',
        '  tsh proxy db --tunnel --insecure pg',
        '',
        '',
      ].join('\n'),
    );
    const connect = await tsh('alice', ['db', 'connect', '--insecure', 'pg'], 'select current_user, current_database()\n');
    expect(connect.stdout).toMatch(/ alice +\| app\s*\n/);
    // bob's role names one user and one name: tsh reads the roles bob holds and picks them, as Teleport's does.
    const bob = await tsh('bob', ['db', 'login', '--insecure', 'pg']);
    expect(bob.stdout).toContain('  tsh db connect --insecure pg\n');
    const bobLs = await tsh('bob', ['db', 'ls', '--insecure']);
    expect(bobLs.stdout).toMatch(/^> pg \(user: bob, db: app\) +Orders +\[bob\] +env=dev +tsh db connect --insecure pg +$/m);

    const env = await tsh('alice', ['db', 'env', '--insecure', 'pg']);
    expect(env.code).toBe(1);
    expect(env.stderr).toContain('ERROR: "tsh db env" is not supported when:\n  - cluster e2e.example.com proxy is using TLS routing.\n');
    expect(env.stderr).toContain('    tsh proxy db --tunnel --insecure pg\n');

    expect((await tsh('alice', ['db', 'logout', 'pg'])).stdout).toBe('Logged out of database pg\n');
    expect((await tsh('alice', ['db', 'ls', '--insecure'])).stdout).toMatch(/^pg /m);
  });

  it('refuses a db name outside db_names (postgres enforces them), a db user outside db_users, and databases outside db_labels', async () => {
    const otherName = await tsh('bob', ['db', 'connect', '--insecure', '--db-user=bob', '--db-name=other', 'pg'], 'select 1\n');
    expect(otherName.code).not.toBe(0);
    expect(otherName.stderr).toMatch(/access to db denied/);
    const app = await tsh('bob', ['db', 'connect', '--insecure', '--db-user=bob', '--db-name=app', 'pg'], 'select current_user\n');
    expect(app.stdout).toContain(' bob\n');

    const otherUser = await tsh('bob', ['db', 'connect', '--insecure', '--db-user=alice', 'roach'], 'select current_user\n');
    expect(otherUser.code).not.toBe(0);
    expect(otherUser.stderr).toMatch(/access to db denied: db user "alice" is not allowed/);
    expect(otherUser.stdout).not.toContain('alice');

    const carolLs = await tsh('carol', ['db', 'ls', '--insecure']);
    expect(carolLs.code).toBe(0);
    expect(carolLs.stdout).not.toContain('roach');
    const carol = await tsh('carol', ['db', 'connect', '--insecure', '--db-user=alice', 'roach'], 'select 1\n');
    expect(carol.code).toBe(1);
    expect(carol.stderr).toBe(`ERROR: database "roach" not found, use 'tsh db ls' to see registered databases\n`);
  });

  it('refuses carol at the agent even with a certificate routed to roach', async () => {
    // tsh never offers roach to carol; present a routed certificate anyway, as a hand-made client could.
    const home = homes['carol']!;
    const dir = path.join(home, 'keys', '127.0.0.1');
    const { newAuthClient, AUTH_VIA_PROXY_ALPN } = await import('@teleport-ts/core/api');
    const { createPublicKey } = await import('node:crypto');
    const key = await readFile(path.join(dir, 'carol.key'), 'utf8');
    const cert = await readFile(path.join(dir, 'carol-x509.pem'), 'utf8');
    const ca = await readFile(path.join(dir, 'cas', 'e2e.example.com.pem'), 'utf8');
    const client = newAuthClient({ addr: cluster.proxyAddr, identity: { key, cert, caCerts: [ca] }, alpnProtocols: AUTH_VIA_PROXY_ALPN });
    let dbCert: string;
    try {
      dbCert = (
        await client.generateUserCerts({
          user: 'carol',
          sshPublicKey: (await readFile(path.join(dir, 'carol.pub'), 'utf8')).trim(),
          tlsPublicKey: createPublicKey(key).export({ type: 'spki', format: 'pem' }) as string,
          routeToDatabase: { serviceName: 'roach', protocol: 'cockroachdb', username: 'alice' },
        })
      ).tlsCert;
    } catch (err) {
      // Refusing to issue it is a refusal too.
      expect(String(err)).toMatch(/denied|not found/i);
      return;
    } finally {
      await client.close();
    }
    const [host, port] = cluster.proxyAddr.split(':');
    const socket = tls.connect({ host, port: Number(port), ALPNProtocols: ['teleport-postgres'], cert: dbCert, key, rejectUnauthorized: false });
    const parser = newBackendParser();
    const messages: BackendMessage[] = [];
    socket.on('data', (b: Buffer) => messages.push(...parser.push(b).flatMap((s) => (s.kind === 'message' ? [s.message] : []))));
    socket.on('error', () => {});
    await new Promise<void>((r) => socket.once('secureConnect', () => r()));
    socket.write(serializeStartupMessage({ parameters: { user: 'alice', database: 'alice' } }));
    await new Promise<void>((r) => socket.once('close', () => r()));
    const error = messages.find((m) => m.type === 'errorResponse') as { fields: { message: string } } | undefined;
    expect(error?.fields.message).toMatch(/access to db denied/);
    expect(messages.some((m) => m.type === 'readyForQuery')).toBe(false);
  });

  it('cancels pg_sleep(30) through tsh proxy db --tunnel within 2 s', async () => {
    const tunnel = await startProxyDb(homes['alice']!, ['--tunnel', '--db-user=alice', 'roach']);
    try {
      expect(tunnel.banner).toContain(`Started authenticated tunnel for the CockroachDB database "roach" in cluster "e2e.example.com" on 127.0.0.1:${tunnel.port}.\n`);
      expect(tunnel.banner).toContain('Use the following command to connect to the database or to the address above using other database GUI/CLI clients:\n');
      expect(tunnel.banner).toContain(`  $ psql "postgres://alice@127.0.0.1:${tunnel.port}"\n`);
      const session = pgSession(tunnel.port, { user: 'alice', database: 'alice' });
      const key = (await session.until((m) => m.type === 'backendKeyData')) as Extract<BackendMessage, { type: 'backendKeyData' }>;
      await session.until((m) => m.type === 'readyForQuery');
      session.socket.write(serializeQuery('select pg_sleep(30)'));
      await new Promise((r) => setTimeout(r, 300));
      const started = Date.now();
      const cancel = net.connect({ host: '127.0.0.1', port: tunnel.port });
      cancel.on('error', () => {});
      cancel.once('connect', () => cancel.end(serializeCancelRequest(key)));
      const error = await session.until((m) => m.type === 'errorResponse', 10_000);
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(error).toMatchObject({ fields: { code: '57014' } });
      session.socket.destroy();
    } finally {
      expect(await tunnel.stop()).toBe(0);
    }
  });

  it('--insecure is not remembered (as in Teleport): without it every command fails before starting anything, with the hint of tsh login', async () => {
    for (const args of [
      ['db', 'ls'],
      ['db', 'login', '--db-user=alice', 'roach'],
      ['db', 'connect', '--db-user=alice', 'roach'],
      ['proxy', 'db', '--tunnel', '--db-user=alice', 'roach'],
    ]) {
      const res = await tsh('alice', args, 'select 1\n');
      expect(res, args.join(' ')).toMatchObject({ code: 1, stdout: '' });
      expect(res.stderr).toMatch(/^ERROR: cannot verify the TLS certificate of proxy 127\.0\.0\.1:\d+ \(self-signed certificate[^)]*\); rerun with --insecure to skip the check \(only for testing\)\n$/);
    }
  });

  it('every command tsh suggests works when copied: tsh db login -> tsh db connect, tsh proxy db --tunnel -> psql', async () => {
    const login = await tsh('alice', ['db', 'login', '--insecure', '--db-user=alice', 'roach']);
    expect(login.code, login.stderr).toBe(0);
    const [connect, proxy] = [...login.stdout.matchAll(/^ {2}(tsh .*)$/gm)].map((m) => m[1]!.split(' ').slice(1));
    expect(connect).toEqual(['db', 'connect', '--insecure', 'roach']);
    const connected = await tsh('alice', connect!, 'select current_user\n');
    expect(connected.stdout).toContain(' alice\n');
    const ls = await tsh('alice', ['db', 'ls', '--insecure']);
    expect(ls.stdout).toContain(` ${connect!.join(' ')} `);

    expect(proxy).toEqual(['proxy', 'db', '--tunnel', '--insecure', 'roach']);
    const tunnel = await startProxyDb(homes['alice']!, proxy!, true);
    try {
      const client = /^ {2}\$ (.*)$/m.exec(tunnel.banner)![1]!;
      const res = await run('sh', ['-c', `echo 'select current_user' | ${client}`]);
      expect(res.stdout).toContain(' alice\n');
    } finally {
      expect(await tunnel.stop()).toBe(0);
    }
  });

  it('a partial --db-user/--db-name keeps the login\'s other value and says so; a tunnel for another --db-user leaves the login alone', async () => {
    const first = await tsh('alice', ['db', 'login', '--insecure', '--db-user=alice', '--db-name=app', 'pg']);
    expect(first.code, first.stderr).toBe(0);
    const again = await tsh('alice', ['db', 'login', '--insecure', '--db-user=alice', 'pg']);
    expect(again.code).toBe(0);
    expect(again.stderr).toBe('Keeping --db-name=app from your login to database "pg" (pass --db-name to choose another).\n');
    const connect = await tsh('alice', ['db', 'connect', '--insecure', 'pg'], 'select current_user, current_database()\n');
    expect(connect.stderr).toBe('');
    expect(connect.stdout).toMatch(/ alice +\| app\s*\n/);

    const login = await tsh('alice', ['db', 'login', '--insecure', '--db-user=alice', 'roach']);
    expect(login.code, login.stderr).toBe(0);
    const tunnel = await startProxyDb(homes['alice']!, ['--tunnel', '--db-user=bob', 'roach']);
    try {
      expect(tunnel.stderr()).toBe('Using a certificate for roach (user: bob) for this session only; your login roach (user: alice) is unchanged.\n');
      const res = await run('sh', ['-c', `echo 'select current_user' | psql "postgres://bob@127.0.0.1:${tunnel.port}/bob"`]);
      expect(res.stdout).toContain(' bob\n');
      const ls = await tsh('alice', ['db', 'ls', '--insecure']);
      expect(ls.stdout).toMatch(/^> roach \(user: alice\) /m);
    } finally {
      expect(await tunnel.stop()).toBe(0);
    }
    const back = await tsh('alice', ['db', 'connect', '--insecure', 'roach'], 'select current_user\n');
    expect(back).toMatchObject({ code: 0, stderr: '' });
    expect(back.stdout).toContain(' alice\n');
  });

  it('tctl audit events (built) prints thousands of query events and a 1 MB statement with newlines one line each, capped; --format=json keeps the text', async () => {
    const big = `a\nb${'x'.repeat(1024 * 1024)}`;
    const input = `select length('${big}') as n;\n${'select 1;\n'.repeat(3000)}`;
    const res = await tsh('alice', ['db', 'connect', '--insecure', '--db-user=alice', 'roach'], input);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain(String(big.length));
    const args = ['audit', 'events', '--type=db.session.query', '--limit=10000', '--from=1h'];
    let text = await tctl(args);
    for (let i = 0; i < 40 && (text.stdout.match(/db\.session\.query/g) ?? []).length < 3001; i++) {
      await new Promise((r) => setTimeout(r, 250));
      text = await tctl(args);
    }
    expect(text.code, text.stderr).toBe(0);
    const lines = text.stdout.split('\n').slice(0, -1);
    expect(lines.length).toBeGreaterThanOrEqual(3003);
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThan(400);
    const row = lines.find((l) => l.includes("db_query=select length('a\\nbxxx"));
    expect(row, lines.filter((l) => !l.includes('select 1;')).join('\n')).toBeDefined();
    expect(row!.trimEnd().endsWith('…')).toBe(true);
    const json = await tctl([...args, '--format=json']);
    const events = JSON.parse(json.stdout) as { db_query?: string }[];
    const stored = events.find((e) => e.db_query?.startsWith("select length('a\nbx"))!.db_query!;
    // The agent keeps the first 32 KiB of a statement (db_query_truncated); what is stored comes back whole.
    expect(stored.length).toBeGreaterThanOrEqual(32_768);
  }, 120_000);

  it('drops a killed agent from tsh db ls within the heartbeat TTL, and a restarted one (same data dir, no token) comes back', async () => {
    await agent!.stop();
    agent = undefined;
    const killedAt = Date.now();
    await waitForList('alice', (s) => !/^(> )?roach /m.test(s), 120_000);
    // The heartbeat TTL bounds it (90 s by default).
    expect(Date.now() - killedAt).toBeLessThan(105_000);
    agent = await startDaemon(agentArgs);
    await waitForList('alice', (s) => /^(> )?roach /m.test(s), 30_000);
    const res = await tsh('alice', ['db', 'connect', '--insecure', '--db-user=alice', 'roach'], 'select current_user\n');
    expect(res.stdout).toContain(' alice\n');
  }, 180_000);
});
