import { describe, expect, it } from 'vitest';
import { newMemoryBackend } from '../backend/memory/index.js';
import { newFakeClock } from '../clock/index.js';
import { recordLoginFailure } from '../authn/lockout.js';
import { parseProvisionToken, parseRole, parseUser } from '../types/index.js';
import { newAccessService, newIdentityService, newProvisioningService, updateWithRetry, type UserToken } from './index.js';

/** The error `p` rejects with. */
async function errorOf(p: Promise<unknown>): Promise<Error> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: unknown) => err as Error,
  );
}

function setup() {
  const clock = newFakeClock(new Date('2026-01-01T00:00:00Z'));
  const backend = newMemoryBackend({ clock });
  return { clock, backend, identity: newIdentityService({ backend, clock }) };
}

const alice = parseUser({ metadata: { name: 'alice' }, spec: { roles: ['access'], traits: { logins: ['alice'] } } });
const token = (id: string, user = 'alice', expires = '2026-01-01T01:00:00.000Z'): UserToken => ({
  id,
  user,
  kind: 'invite',
  created: '2026-01-01T00:00:00.000Z',
  expires,
});

describe('identity service', () => {
  it('creates a user and its invite atomically; a second create changes nothing', async () => {
    const { identity } = setup();
    await identity.createUser(alice, { token: token('t1') });
    await expect(identity.createUser(alice, { token: token('t2') })).rejects.toMatchObject({ kind: 'already-exists' });
    await expect(identity.getUserToken('t2')).rejects.toMatchObject({ kind: 'not-found', code: 'ERR_TP_USER_TOKEN_NOT_FOUND' });
    expect((await identity.getUserToken('t1')).user).toBe('alice');
    const stored = await identity.getUser('alice');
    expect(stored.spec.traits).toEqual({ logins: ['alice'] });
    expect(stored.metadata.revision).toBeDefined();
  });

  it('uses a token once: the atomic completion deletes it and sets the credentials', async () => {
    const { identity } = setup();
    await identity.createUser(alice, { token: token('t1') });
    const t = await identity.getUserToken('t1');
    await identity.completeUserToken(t, { passwordHash: 'scrypt$hash', totp: { secret: 'ABC', added: 'now', lastUsedStep: 7 } });
    await expect(identity.completeUserToken(t, { passwordHash: 'other' })).rejects.toMatchObject({ kind: 'not-found' });
    expect(await identity.getPasswordHash('alice')).toBe('scrypt$hash');
    expect((await identity.getTotpDevice('alice'))?.device).toEqual({ secret: 'ABC', added: 'now', lastUsedStep: 7 });
  });

  it('hides expired tokens, and never quotes an impossible token id', async () => {
    const { identity, clock } = setup();
    await identity.createUser(alice, { token: token('t1') });
    clock.advance(3_600_000);
    await expect(identity.getUserToken('t1')).rejects.toMatchObject({ kind: 'not-found' });
    const err = await errorOf(identity.getUserToken('a/secret'));
    expect(err.message).not.toContain('secret');
  });

  it('derives the lock status from login attempts, so it lapses with the clock', async () => {
    const { identity, clock } = setup();
    await identity.createUser(alice);
    for (let i = 0; i < 5; i++) await identity.updateLoginAttempts('alice', (a) => recordLoginFailure(a, clock));
    expect((await identity.getUser('alice')).status).toMatchObject({ is_locked: true, locked_until: '2026-01-01T00:30:00.000Z' });
    expect((await identity.getUsers())[0]!.status.is_locked).toBe(true);
    clock.advance(30 * 60_000);
    expect((await identity.getUser('alice')).status).toEqual({ is_locked: false });
  });

  it('lists users from one range read, without mixing up names that prefix each other', async () => {
    const { identity } = setup();
    await identity.createUser(alice);
    await identity.createUser(parseUser({ metadata: { name: 'alice2' }, spec: { roles: ['editor'] } }));
    await identity.completeUserToken({ ...token('x'), revision: 'none' }, { passwordHash: 'h' }).catch(() => undefined);
    expect((await identity.getUsers()).map((u) => [u.metadata.name, u.spec.roles])).toEqual([
      ['alice', ['access']],
      ['alice2', ['editor']],
    ]);
    await identity.deleteUser('alice');
    expect((await identity.getUsers()).map((u) => u.metadata.name)).toEqual(['alice2']);
  });

  it('keeps one live token per user and deletes a user\'s tokens with the user', async () => {
    const { identity } = setup();
    await identity.createUser(alice, { token: token('t1') });
    await identity.createUserToken({ ...token('t2'), kind: 'reset' });
    await expect(identity.getUserToken('t1')).rejects.toMatchObject({ kind: 'not-found' });
    await identity.deleteUser('alice');
    expect(await identity.getUserTokens()).toEqual([]);
  });
});

describe('updateWithRetry', () => {
  it('never loses an update when writers race', async () => {
    const { backend } = setup();
    await Promise.all(
      Array.from({ length: 20 }, () => updateWithRetry<number>(backend, '/counter', (cur) => ({ value: cur ? (JSON.parse(new TextDecoder().decode(cur.value)) as number) + 1 : 1 }))),
    );
    expect(new TextDecoder().decode((await backend.get('/counter')).value)).toBe('20');
  });
});

describe('access and provisioning services', () => {
  it('stores roles under /roles/<name>/params and tells upserts from creates', async () => {
    const { backend } = setup();
    const access = newAccessService(backend);
    await access.createRole(parseRole({ metadata: { name: 'dev' } }));
    await expect(access.createRole(parseRole({ metadata: { name: 'dev' } }))).rejects.toMatchObject({ kind: 'already-exists' });
    expect((await access.upsertRole(parseRole({ metadata: { name: 'dev' } }))).existed).toBe(true);
    expect((await access.upsertRole(parseRole({ metadata: { name: 'ops' } }))).existed).toBe(false);
    expect((await backend.get('/roles/dev/params')).key).toBe('/roles/dev/params');
    expect((await access.getRoles()).map((r) => r.metadata.name)).toEqual(['dev', 'ops']);
  });

  it('parses a stored role once per revision: reads return the same role until it is written again', async () => {
    const { backend } = setup();
    const access = newAccessService(backend);
    await access.createRole(parseRole({ metadata: { name: 'dev' }, spec: { allow: { db_users: ['alice'] } } }));
    const first = await access.getRole('dev');
    expect(await access.getRole('dev')).toBe(first);
    expect(Object.isFrozen(first.spec)).toBe(true);
    await access.upsertRole(parseRole({ metadata: { name: 'dev' }, spec: { allow: { db_users: ['bob'] } } }));
    const changed = await access.getRole('dev');
    expect(changed).not.toBe(first);
    expect(changed.spec.allow.db_users).toEqual(['bob']);
    expect((await access.getRoles())[0]).toBe(changed);
    await access.deleteRole('dev');
    await expect(access.getRole('dev')).rejects.toMatchObject({ kind: 'not-found' });
  });

  it('expires join tokens with the backend and never quotes their names', async () => {
    const { backend, clock } = setup();
    const provisioning = newProvisioningService(backend);
    await provisioning.createToken(parseProvisionToken({ metadata: { name: 'sekrit-token', expires: '2026-01-01T00:30:00Z' }, spec: { roles: ['Node'] } }));
    expect((await provisioning.findToken('sekrit-token'))?.spec.roles).toEqual(['Node']);
    const dup = await errorOf(provisioning.createToken(parseProvisionToken({ metadata: { name: 'sekrit-token' }, spec: { roles: ['Node'] } })));
    expect(dup.message).not.toContain('sekrit');
    clock.advance(30 * 60_000);
    expect(await provisioning.findToken('sekrit-token')).toBeUndefined();
    const gone = await errorOf(provisioning.deleteToken('a/sekrit'));
    expect(gone.message).not.toContain('sekrit');
  });
});
