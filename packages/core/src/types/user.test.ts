import { describe, expect, it } from 'vitest';
import { isKind } from '../errors/index.js';
import { parseUser, userToWire } from './user.js';

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw');
}

describe('parseUser', () => {
  it('fills defaults', () => {
    expect(parseUser({ kind: 'user', metadata: { name: 'alice' } })).toEqual({
      kind: 'user',
      version: 'v2',
      metadata: { name: 'alice' },
      spec: { roles: [], traits: {} },
      status: { is_locked: false },
    });
  });

  it('parses roles, traits, created_by and a lock, frozen', () => {
    const u = parseUser({
      kind: 'user',
      version: 'v2',
      metadata: { name: 'alice@example.com' },
      spec: {
        roles: ['access', 'editor'],
        traits: { logins: ['alice', 'ubuntu'], db_users: ['alice'], db_names: [], team: ['blue'] },
        created_by: { time: '2025-01-02T03:04:05Z', user: { name: 'admin' } },
      },
      status: { is_locked: true, locked_until: '2025-01-02T04:00:00Z', lock_reason: 'too many attempts' },
    });
    expect(u.spec.roles).toEqual(['access', 'editor']);
    expect(u.spec.traits).toEqual({ logins: ['alice', 'ubuntu'], db_users: ['alice'], db_names: [], team: ['blue'] });
    expect(u.spec.created_by).toEqual({ time: '2025-01-02T03:04:05.000Z', user: { name: 'admin' } });
    expect(u.status).toEqual({ is_locked: true, locked_until: '2025-01-02T04:00:00.000Z', lock_reason: 'too many attempts' });
    expect(Object.isFrozen(u.spec.traits['logins'])).toBe(true);
  });

  it("reads Teleport's spec.status layout", () => {
    const u = parseUser({
      kind: 'user',
      metadata: { name: 'bob' },
      spec: {
        roles: ['access'],
        expires: '0001-01-01T00:00:00Z',
        status: { is_locked: true, locked_message: 'locked by admin', lock_expires: '2030-01-01T00:00:00Z', locked_time: '2029-12-31T00:00:00Z' },
      },
    });
    expect(u.spec).not.toHaveProperty('expires');
    expect(u.status).toEqual({
      is_locked: true,
      locked_until: '2030-01-01T00:00:00.000Z',
      lock_reason: 'locked by admin',
      locked_time: '2029-12-31T00:00:00.000Z',
    });
  });

  it('drops lock details of an unlocked user', () => {
    expect(parseUser({ metadata: { name: 'a' }, status: { is_locked: false, lock_reason: 'old' } }).status).toEqual({ is_locked: false });
  });

  it.each([
    [{ metadata: { name: 'a' }, spec: { roles: 'access' } }, 'user "a": spec.roles must be a list of strings'],
    [{ metadata: { name: 'a' }, spec: { roles: [''] } }, 'user "a": spec.roles must not contain empty strings'],
    [{ metadata: { name: 'a' }, spec: { traits: { logins: 'alice' } } }, 'user "a": spec.traits["logins"] must be a list of strings'],
    [{ metadata: { name: 'a' }, spec: { traits: ['logins'] } }, 'user "a": spec.traits must be a mapping'],
    [{ metadata: { name: 'a' }, spec: { local_auth: { password_hash: 'x' } } }, 'user "a": spec.local_auth is not accepted'],
    [{ metadata: { name: 'a' }, status: { is_locked: 'yes' } }, 'user "a": status.is_locked must be true or false'],
    [{ metadata: { name: 'a' }, status: { locked_until: 'soon', is_locked: true } }, 'user "a": status.locked_until must be an RFC 3339 timestamp'],
    [{ metadata: { name: 'a' }, spec: { created_by: { user: 'admin' } } }, 'user "a": spec.created_by.user must be a mapping'],
    [{ metadata: { name: 'a' }, version: 'v3' }, 'user "a": version "v3" is not supported, use v2'],
    [{ metadata: { name: ' a' } }, 'user: metadata.name " a" must not contain'],
    [{ metadata: { name: 'a'.repeat(300) } }, 'is longer than 255 characters'],
  ])('rejects %j', (input, message) => {
    const err = errorOf(() => parseUser(input));
    expect(isKind(err, 'bad-parameter')).toBe(true);
    expect(err.message).toContain(message);
  });

  it('round-trips through its wire form', () => {
    const u = parseUser({
      metadata: { name: 'alice', labels: { team: 'blue' } },
      spec: { roles: ['access'], traits: { logins: ['alice'] } },
      status: { is_locked: true, locked_until: '2030-01-01T00:00:00.000Z' },
    });
    expect(parseUser(userToWire(u))).toEqual(u);
  });
});
