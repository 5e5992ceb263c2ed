import { describe, expect, it } from 'vitest';
import { newFakeAuth } from '../testing/fake-auth.js';
import { checkLock, lock, parseRfc3339, render } from './lock.js';

const NOW = new Date('2026-05-01T10:00:00Z');
const now = () => NOW;
const NAME = '3f2b8c1e-5d4a-4e6b-9c7d-0a1b2c3d4e5f';

describe('tctl lock', () => {
  it('creates a lock named by a fresh UUID, with the target, message and an expiry from --ttl', async () => {
    const api = newFakeAuth(now);
    const created = await lock(api, { user: 'alice', message: 'x', ttl: '1h' }, now, () => NAME);
    expect(render(created)).toBe(`Created a lock with name "${NAME}".\n`);
    expect(api.calls).toEqual([`upsertLock ${NAME}`]);
    expect(api.locks.get(NAME)).toEqual({
      kind: 'lock',
      version: 'v2',
      metadata: { name: NAME },
      spec: { target: { user: 'alice' }, message: 'x', expires: '2026-05-01T11:00:00.000Z', created_at: '2026-05-01T10:00:00.000Z', created_by: 'admin' },
    });
  });

  it('uses a random UUID by default, so two runs make two locks', async () => {
    const api = newFakeAuth(now);
    const a = await lock(api, { role: 'dev' }, now);
    const b = await lock(api, { role: 'dev' }, now);
    expect(a.metadata.name).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(a.metadata.name).not.toBe(b.metadata.name);
    expect(api.locks.size).toBe(2);
  });

  it('combines target flags and reads --expires as RFC 3339', () => {
    expect(checkLock({ user: 'alice', role: 'dev', login: 'root', serverId: 'node-uuid', expires: '2026-05-02T12:30:00+02:00' }, NOW)).toEqual({
      target: { user: 'alice', role: 'dev', login: 'root', server_id: 'node-uuid' },
      expires: '2026-05-02T10:30:00.000Z',
    });
    expect(checkLock({ login: 'root' }, NOW)).toEqual({ target: { login: 'root' } });
  });

  it('refuses a lock without a target and creates nothing', async () => {
    const api = newFakeAuth(now);
    const error = 'at least one target field must be set: use --user, --role, --login or --server-id';
    await expect(lock(api, { message: 'x', ttl: '1h' }, now)).rejects.toThrow(error);
    await expect(lock(api, { user: '  ' }, now)).rejects.toThrow(error);
    expect(api.calls).toEqual([]);
    expect(api.locks.size).toBe(0);
  });

  it('refuses --ttl with --expires, and malformed or past expiries', () => {
    expect(() => checkLock({ user: 'alice', ttl: '1h', expires: '2026-05-02T00:00:00Z' }, NOW)).toThrow(/^use only one of --expires and --ttl$/);
    expect(() => checkLock({ user: 'alice', ttl: 'soon' }, NOW)).toThrow('invalid duration "soon", use a value such as 8h, 30m or 1h30m');
    expect(() => checkLock({ user: 'alice', ttl: '0' }, NOW)).toThrow(/^--ttl must be positive$/);
    expect(() => checkLock({ user: 'alice', expires: 'tomorrow' }, NOW)).toThrow(
      'invalid --expires "tomorrow", use an RFC 3339 time such as 2026-01-02T15:04:05Z',
    );
    expect(() => checkLock({ user: 'alice', expires: '2026-04-30T00:00:00Z' }, NOW)).toThrow('--expires "2026-04-30T00:00:00Z" is not in the future');
  });

  it("refuses Teleport's targets that teleport-ts cannot enforce, naming the flag", () => {
    expect(() => checkLock({ user: 'alice', mfaDevice: 'uuid' }, NOW)).toThrow(
      /^--mfa-device is not supported by teleport-ts yet, lock with --user, --role, --login or --server-id$/,
    );
    expect(() => checkLock({ joinToken: 'tok' }, NOW)).toThrow(/^--join-token is not supported by teleport-ts yet/);
  });
});

describe('RFC 3339 parsing', () => {
  it('accepts what time.RFC3339 accepts and nothing that only Date.parse would', () => {
    expect(parseRfc3339('2026-05-01T12:00:00Z', '--expires').toISOString()).toBe('2026-05-01T12:00:00.000Z');
    expect(parseRfc3339('2026-05-01T12:00:00.5-01:00', '--expires').toISOString()).toBe('2026-05-01T13:00:00.500Z');
    for (const bad of ['2026-02-30T00:00:00Z', '2026-05-01 12:00:00Z', '2026-05-01', '2026-05-01T12:00:00', '2026-05-01T24:00:00Z']) {
      expect(() => parseRfc3339(bad, '--expires'), bad).toThrow(/^invalid --expires /);
    }
  });
});

describe('tctl lock --ttl', () => {
  it('refuses a lifetime past 8760h', () => {
    expect(() => checkLock({ user: 'alice', ttl: '999999h' }, new Date())).toThrow(/^--ttl must not be longer than 8760h$/);
  });
});
