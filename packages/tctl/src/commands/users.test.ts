import { describe, expect, it } from 'vitest';
import { newFakeAuth } from '../testing/fake-auth.js';
import { add, list, remove, renderAdd, renderList, renderRemove, renderReset, renderUpdate, reset, update } from './users.js';

const now = () => new Date('2026-05-01T10:00:00Z');

describe('tctl users add', () => {
  it("creates the user with its traits and prints Teleport's invite text", async () => {
    const api = newFakeAuth(now);
    const result = await add(api, 'alice', { roles: ['access,editor'], logins: ['root', 'alice'], dbUsers: ['*'], dbNames: ['*'] }, now);
    expect(api.users.get('alice')!.spec.traits).toEqual({ logins: ['root', 'alice'], db_users: ['*'], db_names: ['*'] });
    expect(api.users.get('alice')!.spec.roles).toEqual(['access', 'editor']);
    expect(renderAdd(result)).toBe(
      'User "alice" has been created but requires a password. Share this URL with the user to complete user setup, link is valid for 1h:\n' +
        `https://proxy.example.com:3080/web/invite/${'f'.repeat(32)}\n\n` +
        'NOTE: Make sure proxy.example.com:3080 points at a Teleport proxy which users can access.\n',
    );
  });

  it('prints the requested lifetime even when the server answered slowly', async () => {
    const api = newFakeAuth(() => new Date('2026-05-01T10:00:02Z'));
    const result = await add(api, 'bob', { roles: ['access'], ttl: '2h' }, now);
    expect(renderAdd(result)).toContain('link is valid for 2h:');
  });

  it('refuses an unknown role before creating anything', async () => {
    const api = newFakeAuth(now);
    await expect(add(api, 'alice', { roles: ['access', 'nope'] }, now)).rejects.toThrow('role "nope" is not found');
    expect(api.calls).toEqual([]);
  });

  it('needs --roles, and a TTL of at most 48h', async () => {
    const api = newFakeAuth(now);
    await expect(add(api, 'alice', {}, now)).rejects.toThrow('required flag --roles not provided');
    await expect(add(api, 'alice', { roles: ['access'], ttl: '49h' }, now)).rejects.toThrow('--ttl must not be longer than 48h');
  });

  it('hints at users update when the user exists', async () => {
    const api = newFakeAuth(now);
    await add(api, 'alice', { roles: ['access'] }, now);
    await expect(add(api, 'alice', { roles: ['editor'] }, now)).rejects.toMatchObject({
      message: 'user "alice" already exists',
      hint: 'To update an existing local user:\n> tctl users update alice --set-roles editor # replace roles',
    });
  });
});

describe('tctl users ls / rm / reset / update', () => {
  it('lists users with their roles', async () => {
    const api = newFakeAuth(now);
    expect(renderList(await list(api))).toBe('No users found\n');
    await add(api, 'alice', { roles: ['access'] }, now);
    await add(api, 'bob', { roles: ['editor,auditor'] }, now);
    expect(renderList(await list(api))).toBe('User  Roles          \n----- -------------- \nalice access         \nbob   editor,auditor \n\n');
    expect(JSON.parse(renderList(await list(api), 'json'))).toHaveLength(2);
  });

  it('removes a comma-separated list of users', async () => {
    const api = newFakeAuth(now);
    await add(api, 'alice', { roles: ['access'] }, now);
    await add(api, 'bob', { roles: ['access'] }, now);
    expect(renderRemove(await remove(api, 'alice,bob'))).toBe('User "alice" has been deleted\nUser "bob" has been deleted\n');
    await expect(remove(api, 'carol')).rejects.toThrow('user "carol" is not found');
  });

  it("prints Teleport's reset text, valid for 8h by default", async () => {
    const api = newFakeAuth(now);
    await add(api, 'alice', { roles: ['access'] }, now);
    const text = renderReset(await reset(api, 'alice', {}, now));
    expect(text).toBe(
      'User "alice" has been reset. Share this URL with the user to complete password reset, link is valid for 8h:\n' +
        `https://proxy.example.com:3080/web/reset/${'f'.repeat(32)}\n\n` +
        'NOTE: Make sure proxy.example.com:3080 points at a Teleport proxy which users can access.\n',
    );
  });

  it('replaces roles and traits, checking roles first', async () => {
    const api = newFakeAuth(now);
    await add(api, 'alice', { roles: ['access'], logins: ['alice'] }, now);
    const result = await update(api, 'alice', { setRoles: ['editor'], setDbUsers: ['postgres'] });
    expect(renderUpdate(result)).toBe('User alice has been updated:\n\tNew roles: editor\n\tNew database users: postgres\n');
    expect(api.users.get('alice')!.spec.traits).toEqual({ logins: ['alice'], db_users: ['postgres'] });
    await expect(update(api, 'alice', { setRoles: ['ghost'] })).rejects.toThrow('role "ghost" is not found');
    await expect(update(api, 'alice', {})).rejects.toThrow('Nothing to update. Please provide at least one --set flag.');
  });
});

describe('tctl users add/reset --ttl', () => {
  it('refuses lifetimes past Teleport\'s limits (48h invites, 24h resets) in one line', async () => {
    const api = newFakeAuth(() => new Date());
    await expect(add(api, 'zed', { roles: ['access'], ttl: '999999h' })).rejects.toThrow(/^--ttl must not be longer than 48h$/);
    await expect(reset(api, 'zed', { ttl: '999999h' })).rejects.toThrow(/^--ttl must not be longer than 24h$/);
  });
});
