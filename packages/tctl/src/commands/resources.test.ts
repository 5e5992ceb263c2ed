import { describe, expect, it } from 'vitest';
import { newFakeAuth } from '../testing/fake-auth.js';
import { create, get, parseRef, parseRefs, remove, renderCreate, renderGet, renderRemove } from './resources.js';

const now = () => new Date('2026-05-01T10:00:00Z');

const ROLE = `kind: role
version: v7
metadata:
  name: dba
spec:
  allow:
    logins: [postgres]
    db_labels:
      '*': '*'
    db_users: ['*']
`;

describe('resource references', () => {
  it("accepts Teleport's shortcuts and kind/name", () => {
    expect(parseRef('roles')).toEqual({ kind: 'role' });
    expect(parseRef('role/dba')).toEqual({ kind: 'role', name: 'dba' });
    expect(parseRef('cap')).toEqual({ kind: 'cluster_auth_preference' });
    expect(parseRefs('role/a,users')).toEqual([{ kind: 'role', name: 'a' }, { kind: 'user' }]);
    expect(() => parseRef('gadgets')).toThrow(`unsupported resource: "gadgets" - resources should be expressed as 'type/name', for example 'role/editor'`);
  });
});

describe('tctl get', () => {
  it('prints roles as YAML documents separated by ---', async () => {
    const api = newFakeAuth(now);
    const text = renderGet(await get(api, parseRefs('roles')), {});
    expect(text).toMatch(/^kind: role\nmetadata:\n/);
    expect(text.split('---\n').length).toBe(api.roles.size);
    for (const preset of ['access', 'editor', 'auditor']) expect(text).toContain(`  name: ${preset}\n`);
  });

  it('prints JSON and text tables', async () => {
    const api = newFakeAuth(now);
    await create(api, ROLE, {});
    const json = JSON.parse(renderGet(await get(api, parseRefs('role/dba')), { format: 'json' })) as { metadata: { name: string } }[];
    expect(json.map((r) => r.metadata.name)).toEqual(['dba']);
    expect(renderGet(await get(api, parseRefs('role/dba')), { format: 'text' })).toMatch(/^Role +Allowed to login as +Node Labels +Access to resources +\n-+ .*\ndba +postgres /);
    expect(renderGet(await get(api, parseRefs('cap')), { format: 'text' })).toBe('Type  Second Factor \n----- ------------- \nlocal otp           \n');
  });

  it('fails for a missing resource', async () => {
    await expect(get(newFakeAuth(now), parseRefs('role/nope'))).rejects.toThrow('role "nope" is not found');
  });
});

describe('tctl create', () => {
  it('creates several resources, roles before the users that need them', async () => {
    const api = newFakeAuth(now);
    const text = `kind: user\nversion: v2\nmetadata:\n  name: carol\nspec:\n  roles: [dba]\n---\n${ROLE}`;
    const created = await create(api, text, {});
    expect(renderCreate(created)).toBe('role "dba" has been created\nuser "carol" has been created\n');
    expect(api.calls).toEqual(['createRole dba', 'createUser carol (no invite)']);
  });

  it('creates a user with its labels, description and expiry in one call, without an invite', async () => {
    const api = newFakeAuth(now);
    const text = 'kind: user\nversion: v2\nmetadata:\n  name: erin\n  description: on call\n  labels:\n    team: db\nspec:\n  roles: [access]\n  expires: "2027-01-01T00:00:00Z"\n';
    expect(renderCreate(await create(api, text, {}))).toBe('user "erin" has been created\n');
    expect(api.calls).toEqual(['createUser erin (no invite)']);
    expect(api.users.get('erin')!.metadata).toEqual({ name: 'erin', description: 'on call', labels: { team: 'db' }, expires: '2027-01-01T00:00:00.000Z' });
  });

  it('refuses an existing resource without -f, and updates it with -f', async () => {
    const api = newFakeAuth(now);
    await create(api, ROLE, {});
    await expect(create(api, ROLE, {})).rejects.toMatchObject({ message: 'role "dba" already exists', hint: 'use -f or --force flag to overwrite' });
    expect(renderCreate(await create(api, ROLE, { force: true }))).toBe('role "dba" has been updated\n');
  });

  it('creates nothing when any document is malformed', async () => {
    const api = newFakeAuth(now);
    await expect(create(api, `${ROLE}---\nkind: role\nmetadata: [oops\n`, {})).rejects.toThrow(/^document 2: malformed YAML/);
    expect(api.calls).toEqual([]);
  });

  it('creates nothing when a user names a role that does not exist', async () => {
    const api = newFakeAuth(now);
    const text = `${ROLE}---\nkind: user\nversion: v2\nmetadata:\n  name: dave\nspec:\n  roles: [ghost]\n`;
    await expect(create(api, text, {})).rejects.toThrow('role "ghost" is not found');
    expect(api.calls).toEqual([]);
  });

  it('creates tokens with their expiry and never prints the secret', async () => {
    const api = newFakeAuth(now);
    const text = 'kind: token\nversion: v2\nmetadata:\n  name: s3cr3t-token-value\n  expires: "2026-05-01T12:00:00Z"\nspec:\n  roles: [Node]\n';
    expect(renderCreate(await create(api, text, {}, now))).toBe('token has been created\n');
    expect(api.tokens.get('s3cr3t-token-value')!.metadata.expires).toBe('2026-05-01T12:00:00.000Z');
    await expect(create(api, text, {}, now)).rejects.toThrow(/^token already exists$/);
    const labelled = text.replace('s3cr3t-token-value', 'labelled-token-value').replace('  expires:', '  labels:\n    env: prod\n  expires:');
    await create(api, labelled, {}, now);
    expect(api.tokens.get('labelled-token-value')!.metadata.labels).toEqual({ env: 'prod' });
  });
});

describe('tctl rm', () => {
  it('deletes a named resource', async () => {
    const api = newFakeAuth(now);
    await create(api, ROLE, {});
    expect(renderRemove(await remove(api, parseRef('role/dba')))).toBe('role "dba" has been deleted\n');
    await expect(remove(api, parseRef('role/dba'))).rejects.toThrow('role "dba" is not found');
    await expect(remove(api, parseRef('roles'))).rejects.toThrow('provide a full resource name to delete, for example: tctl rm role/example');
  });
});

const LOCK = `kind: lock
version: v2
metadata:
  name: incident-42
spec:
  target:
    user: mallory
    login: root
  message: Investigating incident 42
  expires: "2026-05-02T00:00:00Z"
`;

describe('locks', () => {
  it("accepts the lock and locks shortcuts", () => {
    expect(parseRef('locks')).toEqual({ kind: 'lock' });
    expect(parseRef('lock/incident-42')).toEqual({ kind: 'lock', name: 'incident-42' });
    expect(parseRef('locks/incident-42')).toEqual({ kind: 'lock', name: 'incident-42' });
  });

  it('creates a lock from YAML, refuses it again without -f and updates it with -f', async () => {
    const api = newFakeAuth(now);
    expect(renderCreate(await create(api, LOCK, {}, now))).toBe('lock "incident-42" has been created\n');
    expect(api.locks.get('incident-42')!.spec).toEqual({
      target: { user: 'mallory', login: 'root' },
      message: 'Investigating incident 42',
      expires: '2026-05-02T00:00:00.000Z',
      created_at: '2026-05-01T10:00:00.000Z',
      created_by: 'admin',
    });
    await expect(create(api, LOCK, {}, now)).rejects.toMatchObject({ message: 'lock "incident-42" already exists', hint: 'use -f or --force flag to overwrite' });
    const changed = LOCK.replace('Investigating incident 42', 'Still investigating');
    expect(renderCreate(await create(api, changed, { force: true }, now))).toBe('lock "incident-42" has been updated\n');
    expect(api.locks.get('incident-42')!.spec.message).toBe('Still investigating');
    expect(api.calls).toEqual(['upsertLock incident-42', 'upsertLock incident-42']);
  });

  it('gets locks as YAML and JSON, and removes them', async () => {
    const api = newFakeAuth(now);
    await create(api, LOCK, {}, now);
    const yaml = renderGet(await get(api, parseRefs('locks')), {});
    expect(yaml).toBe(
      [
        'kind: lock',
        'metadata:',
        '  name: incident-42',
        'spec:',
        "  created_at: '2026-05-01T10:00:00.000Z'",
        '  created_by: admin',
        "  expires: '2026-05-02T00:00:00.000Z'",
        '  message: Investigating incident 42',
        '  target:',
        '    login: root',
        '    user: mallory',
        'version: v2',
        '',
      ].join('\n'),
    );
    const json = JSON.parse(renderGet(await get(api, parseRefs('lock/incident-42')), { format: 'json' })) as { kind: string; spec: { target: object } }[];
    expect(json).toMatchObject([{ kind: 'lock', version: 'v2', metadata: { name: 'incident-42' }, spec: { target: { user: 'mallory', login: 'root' } } }]);
    expect(renderRemove(await remove(api, parseRef('locks/incident-42')))).toBe('lock "incident-42" has been deleted\n');
    expect(api.locks.size).toBe(0);
    expect(renderGet(await get(api, parseRefs('locks')), {})).toBe('');
    await expect(get(api, parseRefs('lock/incident-42'))).rejects.toThrow('lock "incident-42" is not found');
    await expect(remove(api, parseRef('lock/incident-42'))).rejects.toThrow('lock "incident-42" is not found');
    await expect(remove(api, parseRef('locks'))).rejects.toThrow('provide a full resource name to delete, for example: tctl rm lock/example');
  });

  it("prints Teleport's lock table", async () => {
    const api = newFakeAuth(now);
    await create(api, LOCK, {}, now);
    await create(api, 'kind: lock\nversion: v2\nmetadata:\n  name: forever\nspec:\n  target:\n    role: contractor\n', {}, now);
    expect(renderGet(await get(api, parseRefs('locks')), { format: 'text' })).toBe(
      [
        'ID          Target                      Message                   Expires              ',
        '----------- --------------------------- ------------------------- -------------------- ',
        'incident-42 User:"mallory" Login:"root" Investigating incident 42 Sat May  2 00:00 UTC ',
        'forever     Role:"contractor"                                     never                ',
        '',
      ].join('\n'),
    );
  });

  it('refuses an unknown, unsupported or empty target and creates nothing from the file', async () => {
    const api = newFakeAuth(now);
    await expect(create(api, `${ROLE}---\n${LOCK.replace('    login: root', '    hostname: db1')}`, {}, now)).rejects.toThrow(
      'lock "incident-42": spec.target.hostname is not a known field',
    );
    await expect(create(api, LOCK.replace('    login: root', '    mfa_device: abc'), {}, now)).rejects.toThrow(
      'lock "incident-42": spec.target.mfa_device is not supported by teleport-ts yet',
    );
    await expect(create(api, 'kind: lock\nversion: v2\nmetadata:\n  name: everyone\nspec:\n  target: {}\n', {}, now)).rejects.toThrow(
      /^lock "everyone": spec.target must name at least one of user, role, login, server_id/,
    );
    expect(api.calls).toEqual([]);
  });

  it('refuses a lock that has already expired before writing anything in the file', async () => {
    const api = newFakeAuth(now);
    await expect(create(api, `${ROLE}---\n${LOCK.replace('2026-05-02T00:00:00Z', '2026-05-01T09:00:00Z')}`, {}, now)).rejects.toThrow(
      'lock "incident-42" would expire at 2026-05-01T09:00:00.000Z, which is not in the future',
    );
    expect(api.calls).toEqual([]);
  });
});
