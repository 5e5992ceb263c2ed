/**
 * tctl against a running auth server, as an admin uses it on the auth host: the built daemon on sqlite, and
 * again on the testkit's PostgreSQL (backend and audit log both there).
 */

import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { joinCluster, loadIdentity, newAuthClient } from '@teleport-ts/core/api';
import { usePostgres } from '@teleport-ts/testkit';
import { expectOneErrorLine, run, startCluster, type Cluster } from './tctl-harness.js';

const ROLE_YAML = `kind: role
version: v7
metadata:
  name: dba
spec:
  allow:
    db_labels:
      '*': '*'
    db_users: [postgres]
    db_names: ['*']
`;

/** The shared user-facing checks, run against one storage configuration. */
function clusterSuite(getCluster: () => Cluster): void {
  it('tctl status shows the cluster, a sha256 CA pin and every CA', async () => {
    const c = getCluster();
    const r = await c.tctl(['status']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^Cluster: +${c.clusterName.replaceAll('.', '\\.')} *\n`));
    expect(r.stdout).toMatch(/\nVersion: +\S+ *\n/);
    expect(r.stdout).toMatch(/\nCA pins: +sha256:[0-9a-f]{64} *\n/);
    expect(r.stdout).toMatch(/\nauthority +rotation +protocol +status +algorithm +storage *\n/);
    for (const row of [
      /\nhost +standby \(never rotated\) +SSH +active +Ed25519 +software *\n +TLS +active +ECDSA P-256 +software *\n/,
      /\nuser +standby \(never rotated\) +SSH +active +Ed25519/,
      /\ndb +standby \(never rotated\) +TLS +active +RSA 2048/,
      /\ndb_client +standby \(never rotated\) +TLS +active +RSA 2048/,
      /\nopenssh +standby \(never rotated\) +SSH +active +Ed25519/,
    ]) {
      expect(r.stdout).toMatch(row);
    }
    const json = JSON.parse((await c.tctl(['status', '--format=json'])).stdout) as { cluster: { name: string; ca_pins: string[] } };
    expect(json.cluster.name).toBe(c.clusterName);
    expect(r.stdout).toContain(json.cluster.ca_pins[0]);
  });

  it('users add prints the invite URL, and users ls lists the user', async () => {
    const c = getCluster();
    const r = await c.tctl(['users', 'add', 'alice', '--roles=access', '--db-users=*', '--db-names=*']);
    expect(r.stderr).toBe('');
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe(
      'User "alice" has been created but requires a password. Share this URL with the user to complete user setup, link is valid for 1h:',
    );
    const url = /^https:\/\/([^/]+)\/web\/invite\/([0-9a-f]{32,})$/.exec(lines[1]!);
    expect(url, lines[1]).not.toBeNull();
    expect(lines[2]).toBe('');
    expect(lines[3]).toBe(`NOTE: Make sure ${url![1]} points at a Teleport proxy which users can access.`);
    expect(lines.slice(4)).toEqual(['']);

    const ls = await c.tctl(['users', 'ls']);
    expect(ls.stdout).toMatch(/^User +Roles *\n-+ +-+ *\n/);
    expect(ls.stdout).toMatch(/\nalice +access *\n/);
    const user = await c.tctl(['get', 'user/alice']);
    expect(user.stdout).toMatch(/traits:\n {4}db_names:\n {4}- '\*'\n {4}db_users:\n {4}- '\*'\n/);
  });

  it('get roles shows the presets', async () => {
    const r = await getCluster().tctl(['get', 'roles']);
    expect(r.code).toBe(0);
    for (const name of ['access', 'editor', 'auditor']) expect(r.stdout).toContain(`\n  name: ${name}\n`);
    expect(r.stdout).toMatch(/^kind: role\n/);
    expect(r.stdout).toContain('\n---\n');
  });

  it('create -f role.yaml and rm role/x work', async () => {
    const c = getCluster();
    const file = path.join(c.dir, 'role.yaml');
    await writeFile(file, ROLE_YAML);
    expect((await c.tctl(['create', file])).stdout).toBe('role "dba" has been created\n');
    const again = await c.tctl(['create', file]);
    expect(expectOneErrorLine({ ...again, stderr: again.stderr.split('\n')[0]! + '\n' })).toBe('ERROR: role "dba" already exists');
    expect((await c.tctl(['create', '-f', file])).stdout).toBe('role "dba" has been updated\n');
    const got = await c.tctl(['get', 'role/dba']);
    expect(got.stdout).toMatch(/\n {4}db_users:\n {4}- postgres\n/);
    expect((await c.tctl(['rm', 'role/dba'])).stdout).toBe('role "dba" has been deleted\n');
    const gone = await c.tctl(['get', 'role/dba']);
    expect(expectOneErrorLine(gone)).toMatch(/^ERROR: role "dba" (is )?not found/);
  });

  it('create user.yaml makes the user with its labels and expiry, and no invite', async () => {
    const c = getCluster();
    const file = path.join(c.dir, 'user.yaml');
    await writeFile(
      file,
      'kind: user\nversion: v2\nmetadata:\n  name: yuri\n  labels:\n    team: db\n  expires: "2099-01-01T00:00:00Z"\nspec:\n  roles: [access]\n  traits:\n    logins: [yuri]\n',
    );
    const created = await c.tctl(['create', file]);
    expect(created.stderr).toBe('');
    expect(created.stdout).toBe('user "yuri" has been created\n');
    const got = (await c.tctl(['get', 'user/yuri'])).stdout;
    expect(got).toMatch(/\n {2}labels:\n {4}team: db\n/);
    expect(got).toMatch(/\n {2}expires: ['"]?2099-01-01T00:00:00(\.000)?Z['"]?\n/);
    const events = JSON.parse((await c.tctl(['audit', 'events', '--format=json', '--type=user.create,user.update,reset_password_token.create'])).stdout) as {
      event: string;
      name?: string;
    }[];
    expect(events.filter((e) => e.name === 'yuri').map((e) => e.event)).toEqual(['user.create']);
    // The user gets a link only when asked for one.
    expect((await c.tctl(['users', 'reset', 'yuri'])).stdout).toMatch(/^User "yuri" has been reset\./);
  });

  it('tokens add --type=db prints a token an agent can join with', async () => {
    const c = getCluster();
    const r = await c.tctl(['tokens', 'add', '--type=db']);
    expect(r.stderr).toBe('');
    const token = /^The invite token: ([0-9a-f]{32})\nThis token will expire in 30 minutes\.\n/.exec(r.stdout)?.[1];
    expect(token, r.stdout).toBeDefined();
    const pin = /--ca-pin=(sha256:[0-9a-f]{64}) \\\n/.exec(r.stdout)?.[1];
    expect(pin).toBeDefined();
    expect(r.stdout).toContain(`   --token=${token} \\\n`);
    expect(r.stdout).toContain(`   --auth-server=${c.authAddr} \\\n`);
    expect(r.stdout).toContain('> teleport-ts start \\\n   --roles=db \\\n');

    const ls = await c.tctl(['tokens', 'ls']);
    expect(ls.stdout).toMatch(/^Token +Type +Labels +Expiry Time \(UTC\) *\n/);
    expect(ls.stdout).toContain(`${'*'.repeat(24)}${token!.slice(24)} Db `);
    expect(ls.stdout).not.toContain(token);

    // The printed token, pin and address are what an agent needs to join.
    const joined = await joinCluster({ authAddr: c.authAddr, token: token!, caPins: [pin!], role: 'Db', hostUuid: randomUUID(), nodename: 'db-agent' });
    expect(joined).toBeDefined();
  });

  it('tokens add --labels stores the labels, which tokens ls shows', async () => {
    const c = getCluster();
    const token = (await c.tctl(['tokens', 'add', '--type=node', '--labels=env=prod,team=db', '--format=text'])).stdout.trim();
    expect(token).toMatch(/^[0-9a-f]{32}$/);
    const ls = await c.tctl(['tokens', 'ls']);
    expect(ls.stdout).toMatch(new RegExp(`\\*{24}${token.slice(24)} Node +env=prod,team=db +\\d`));
    expect((await c.tctl(['tokens', 'ls', '--labels=team=db', '--format=text'])).stdout).toBe(`${'*'.repeat(24)}${token.slice(24)}\n`);
    expect((await c.tctl(['get', 'tokens', '--format=json'])).stdout).toContain('"env": "prod"');
    expect(expectOneErrorLine(await c.tctl(['tokens', 'add', '--type=node', '--labels=bad key=x']))).toMatch(/^ERROR: invalid label key "bad key"/);
    await c.tctl(['tokens', 'rm', token]);
  });

  it('tokens rm revokes a token', async () => {
    const c = getCluster();
    const token = (await c.tctl(['tokens', 'add', '--type=node', '--format=text'])).stdout.trim();
    expect(token).toMatch(/^[0-9a-f]{32}$/);
    expect((await c.tctl(['tokens', 'rm', token])).stdout).toBe(`Token ${token} has been deleted\n`);
    expect((await c.tctl(['tokens', 'ls', '--with-secrets'])).stdout).not.toContain(token);
  });

  it('bad input gives one ERROR line, exit 1, and creates nothing', async () => {
    const c = getCluster();
    const rolesBefore = (await c.tctl(['get', 'roles'])).stdout;
    const usersBefore = (await c.tctl(['users', 'ls'])).stdout;
    const tokensBefore = (await c.tctl(['tokens', 'ls', '--format=text'])).stdout;

    const bad = path.join(c.dir, 'bad.yaml');
    await writeFile(bad, `${ROLE_YAML.replace('name: dba', 'name: half')}---\nkind: role\nmetadata: {name: [unclosed\n`);
    expect(expectOneErrorLine(await c.tctl(['create', bad]))).toMatch(/^ERROR: document 2: malformed YAML/);

    expect(expectOneErrorLine(await c.tctl(['users', 'add', 'bob', '--roles=access,nosuchrole']))).toMatch(/^ERROR: role "nosuchrole" (is )?not found/);
    expect(expectOneErrorLine(await c.tctl(['users', 'ls', '--bogus']))).toBe("ERROR: unknown option '--bogus'");
    expect(expectOneErrorLine(await c.tctl(['tokens', 'add', '--type=teapot']))).toMatch(/^ERROR: unknown token type "teapot", use one of: /);
    expect(expectOneErrorLine(await c.tctl(['get', 'gadgets']))).toMatch(/^ERROR: unsupported resource: "gadgets"/);

    expect((await c.tctl(['get', 'roles'])).stdout).toBe(rolesBefore);
    expect((await c.tctl(['users', 'ls'])).stdout).toBe(usersBefore);
    expect((await c.tctl(['tokens', 'ls', '--format=text'])).stdout).toBe(tokensBefore);
  });

  it('users reset and update print Teleport texts; users rm deletes', async () => {
    const c = getCluster();
    await c.tctl(['users', 'add', 'carol', '--roles=access']);
    const reset = await c.tctl(['users', 'reset', 'carol']);
    expect(reset.stdout).toMatch(
      /^User "carol" has been reset\. Share this URL with the user to complete password reset, link is valid for 8h:\nhttps:\/\/[^/]+\/web\/reset\/[0-9a-f]+\n\nNOTE: /,
    );
    expect((await c.tctl(['users', 'update', 'carol', '--set-roles', 'editor,auditor'])).stdout).toBe(
      'User carol has been updated:\n\tNew roles: editor,auditor\n',
    );
    expect((await c.tctl(['users', 'ls'])).stdout).toMatch(/\ncarol +editor,auditor *\n/);
    expect((await c.tctl(['users', 'rm', 'carol'])).stdout).toBe('User "carol" has been deleted\n');
    expect((await c.tctl(['users', 'ls'])).stdout).not.toContain('carol');
  });

  it('audit events lists what tctl did', async () => {
    const c = getCluster();
    const r = await c.tctl(['audit', 'events', '--format=json', '--type=user.create']);
    expect(r.code).toBe(0);
    const events = JSON.parse(r.stdout) as { event: string; code: string; name?: string }[];
    expect(events.some((e) => e.event === 'user.create' && e.name === 'alice')).toBe(true);
    const text = await c.tctl(['audit', 'events']);
    expect(text.stdout).toMatch(/^Time +Type +Code +User +Details *\n/);
  });

  it('auth rotate moves a manual rotation through its phases, visible in status', async () => {
    const c = getCluster();
    expect((await c.tctl(['auth', 'rotate', '--type=user', '--manual', '--phase=init'])).stdout).toBe(
      "Updated rotation phase to \"init\". To check status use 'tctl status'\n",
    );
    const status = (await c.tctl(['status'])).stdout;
    expect(status).toMatch(/\nuser +in progress \(mode: manual, phase: init\) +SSH +active +Ed25519/);
    expect(status).toMatch(/\n +SSH +trusted +Ed25519 +software *\n/);
    expect((await c.tctl(['auth', 'rotate', '--type=user', '--manual', '--phase=rollback'])).code).toBe(0);
    expect((await c.tctl(['auth', 'rotate', '--type=user', '--manual', '--phase=standby'])).code).toBe(0);
    expect((await c.tctl(['status'])).stdout).toMatch(/\nuser +standby \(never rotated\) +SSH +active +Ed25519 +software *\n +TLS +active/);
    // A full rotation of a CA nothing here depends on.
    for (const phase of ['init', 'update_clients', 'update_servers', 'standby']) {
      expect((await c.tctl(['auth', 'rotate', '--type=openssh', '--manual', `--phase=${phase}`])).stderr).toBe('');
    }
    expect((await c.tctl(['status'])).stdout).toMatch(/\nopenssh +standby \(last rotated: [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d UTC\) +SSH +active +Ed25519/);
    expect(expectOneErrorLine(await c.tctl(['auth', 'rotate']))).toBe('ERROR: required flag --type not provided');
  });
}

describe('tctl against the auth server on sqlite', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  clusterSuite(() => cluster);

  it('says in one line what to do when there is no admin identity or no auth server', async () => {
    const c = cluster;
    const elsewhere = path.join(c.dir, 'other.yaml');
    await writeFile(elsewhere, `version: v3\nteleport:\n  data_dir: ${path.join(c.dir, 'empty')}\nauth_service:\n  listen_addr: ${c.authAddr}\n`);
    const noIdentity = expectOneErrorLine(await c.tctl(['-c', elsewhere, 'status'], { config: false }));
    expect(noIdentity).toBe(
      `ERROR: no admin identity found in ${path.join(c.dir, 'empty', 'admin')} (data_dir from ${elsewhere}): run tctl on the auth server after "teleport-ts start" has run once, pass -c with the auth server's teleport.yaml, or use --identity <file> with --auth-server <host:port>`,
    );
    const closed = expectOneErrorLine(await c.tctl(['--auth-server', '127.0.0.1:1', 'status']));
    expect(closed).toBe(
      'ERROR: cannot reach the auth server at 127.0.0.1:1 (connection refused): is "teleport-ts start" running there? Point tctl at it with -c <teleport.yaml> or --auth-server <host:port>',
    );
  });

  it('an identity file from auth sign --format=file connects with -i and --auth-server', async () => {
    const c = cluster;
    // An admin-capable user: the editor preset may list users.
    await c.tctl(['users', 'add', 'ed', '--roles=editor']);
    const out = path.join(c.dir, 'ed.identity');
    expect((await c.tctl(['auth', 'sign', '--user=ed', `--out=${out}`, '--ttl=1h'])).stdout).toBe(`\nThe credentials have been written to ${out}\n`);
    const r = await c.tctl(['-i', out, '--auth-server', c.authAddr, 'users', 'ls'], { config: false });
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/\ned +editor *\n/);
    // The admin identity and the typed client agree on what tctl printed.
    const client = newAuthClient({ addr: c.authAddr, identity: await loadIdentity(path.join(c.dataDir, 'admin')) });
    try {
      expect((await client.getUser('ed')).spec.roles).toEqual(['editor']);
    } finally {
      await client.close();
    }
    expect(await readFile(out, 'utf8')).toMatch(/^-----BEGIN EC PRIVATE KEY-----\n/);
  });
});

describe('tctl against the auth server on PostgreSQL (backend and audit log)', () => {
  const pg = usePostgres();
  let cluster: Cluster;
  beforeAll(async () => {
    await pg.server.createDatabase('teleport_backend');
    await pg.server.createDatabase('teleport_audit');
    cluster = await startCluster({
      storage: [
        'type: postgres',
        `conn_string: ${pg.server.url('teleport_backend', { sslmode: 'disable' })}`,
        `audit_events_uri: ['${pg.server.url('teleport_audit', { sslmode: 'disable' })}']`,
      ],
    });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  clusterSuite(() => cluster);

  it('keeps resources and audit events in PostgreSQL', async () => {
    const sql = async (db: string, query: string): Promise<string> => {
      const r = await run('psql', ['-h', pg.server.socketDir, '-p', String(pg.server.port), '-U', pg.server.user, '-d', db, '-tAc', query]);
      expect(r.stderr).toBe('');
      return r.stdout.trim();
    };
    expect(await sql('teleport_backend', "SELECT count(*) FROM kv WHERE convert_from(key, 'UTF8') LIKE '%/alice/%'")).not.toBe('0');
    expect(await sql('teleport_audit', "SELECT count(*) FROM audit_events WHERE event_type = 'user.create' AND event_data->>'name' = 'alice'")).toBe('1');
  });
});
