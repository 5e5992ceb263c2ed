import { describe, expect, it } from 'vitest';
import { isKind } from '../errors/index.js';
import { parseWith, v } from './index.js';

const Role = v.strictObject({
  spec: v.strictObject({ allow: v.strictObject({ logins: v.optional(v.array(v.string())) }) }),
  version: v.optional(v.picklist(['v7', 'v8'])),
  ttl: v.optional(v.pipe(v.number(), v.check((n) => n > 0, 'must be positive'))),
});

function messageOf(input: unknown): string {
  try {
    parseWith(Role, input, 'role "dev"');
  } catch (err) {
    expect(isKind(err, 'bad-parameter')).toBe(true);
    return (err as Error).message;
  }
  throw new Error('parse succeeded');
}

describe('parseWith', () => {
  it('returns the typed value', () => {
    expect(parseWith(Role, { spec: { allow: { logins: ['root'] } } }, 'role')).toEqual({ spec: { allow: { logins: ['root'] } } });
  });

  it('names the path and the expected type in one line', () => {
    expect(messageOf({ spec: { allow: { logins: 'root' } } })).toBe('role "dev": spec.allow.logins must be a list');
    expect(messageOf({ spec: { allow: { logins: ['a', 7] } } })).toBe('role "dev": spec.allow.logins[1] must be a string');
    expect(messageOf({ spec: {} , ttl: -1 })).toBe('role "dev": spec.allow is required');
    expect(messageOf({ spec: { allow: 3 } })).toBe('role "dev": spec.allow must be a mapping');
  });

  it('refuses unknown keys and uses a schema message as given', () => {
    expect(messageOf({ spec: { allow: {} }, sepc: 1 })).toBe('role "dev": sepc is not a known field');
    expect(messageOf({ spec: { allow: {} }, ttl: -1 })).toBe('role "dev": ttl must be positive');
  });

  it('never quotes the value it refused', () => {
    const secret = 'hunter2-secret-token';
    expect(messageOf({ spec: { allow: {} }, version: secret })).not.toContain(secret);
    expect(messageOf({ spec: { allow: { logins: secret } } })).not.toContain(secret);
  });
});

describe('parseWith at a path', () => {
  const Section = v.strictObject({
    listen_addr: v.optional(v.pipe(v.string(), v.check((s) => s.includes(':'), ': invalid address, use host:port'))),
    tls: v.optional(v.strictObject({ mode: v.optional(v.string()) })),
  });
  it('prefixes the path the input sits at, and joins a message starting with ":" to the path', () => {
    expect(() => parseWith(Section, { tls: { mode: 1 } }, { at: 'db_service.databases[0]' })).toThrow(/^db_service\.databases\[0\]\.tls\.mode must be a string$/);
    expect(() => parseWith(Section, { listen_addr: 'x' }, { at: 'auth_service' })).toThrow(/^auth_service\.listen_addr: invalid address, use host:port$/);
    expect(() => parseWith(Section, 3, { at: 'proxy_service' })).toThrow(/^proxy_service must be a mapping$/);
    expect(() => parseWith(Section, { tls: 1 }, { at: '' })).toThrow(/^tls must be a mapping$/);
  });
});
