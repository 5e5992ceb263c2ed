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
