import { describe, expect, it } from 'vitest';
import { isKind } from '../errors/index.js';
import { checkPasswordPolicy, DEFAULT_SCRYPT_PARAMS, hashPassword, passwordHashNeedsRehash, verifyPassword } from './password.js';

// Cheap parameters keep the suite fast; the default parameters get one test of their own.
const FAST = { params: { N: 1024, r: 8, p: 1 } };
const PASSWORD = 'correct horse battery';

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw');
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

describe('checkPasswordPolicy', () => {
  it.each([
    ['a'.repeat(12), null],
    ['a'.repeat(128), null],
    ['🔑'.repeat(12), null],
    ['', 'password must be at least 12 characters long'],
    ['a'.repeat(11), 'password must be at least 12 characters long'],
    ['🔑'.repeat(11), 'password must be at least 12 characters long'],
    ['a'.repeat(129), 'password must be at most 128 characters long'],
    [42 as unknown as string, 'password must be a string'],
  ])('%j', (pw, message) => {
    if (message === null) {
      expect(() => checkPasswordPolicy(pw)).not.toThrow();
      return;
    }
    const err = errorOf(() => checkPasswordPolicy(pw));
    expect(isKind(err, 'bad-parameter')).toBe(true);
    expect(err.message).toBe(message);
  });
});

describe('hashPassword / verifyPassword', () => {
  it('encodes the parameters, a 16-byte salt and the key in one string', async () => {
    const encoded = await hashPassword(PASSWORD, FAST);
    const [scheme, n, r, p, salt, key, ...rest] = encoded.split('$');
    expect([scheme, n, r, p]).toEqual(['scrypt', '1024', '8', '1']);
    expect(Buffer.from(salt ?? '', 'base64')).toHaveLength(16);
    expect(Buffer.from(key ?? '', 'base64')).toHaveLength(32);
    expect(rest).toEqual([]);
    expect(encoded).not.toContain(PASSWORD);
  });

  it('verifies the right password and refuses others', async () => {
    const encoded = await hashPassword(PASSWORD, FAST);
    expect(await verifyPassword(PASSWORD, encoded)).toBe(true);
    expect(await verifyPassword('correct horse batterY', encoded)).toBe(false);
    expect(await verifyPassword('', encoded)).toBe(false);
    expect(await verifyPassword('x'.repeat(10_000), encoded)).toBe(false);
  });

  it('salts: the same password hashes differently each time', async () => {
    const a = await hashPassword(PASSWORD, FAST);
    const b = await hashPassword(PASSWORD, FAST);
    expect(a).not.toBe(b);
    expect(await verifyPassword(PASSWORD, b)).toBe(true);
  });

  it('uses N=2^15, r=8, p=1 by default', async () => {
    const encoded = await hashPassword(PASSWORD);
    expect(encoded.startsWith(`scrypt$${DEFAULT_SCRYPT_PARAMS.N}$8$1$`)).toBe(true);
    expect(await verifyPassword(PASSWORD, encoded)).toBe(true);
    expect(passwordHashNeedsRehash(encoded)).toBe(false);
    expect(passwordHashNeedsRehash(await hashPassword(PASSWORD, FAST))).toBe(true);
  });

  it('enforces the policy before hashing, without echoing the password', async () => {
    const err = await rejection(hashPassword('hunter2', FAST));
    expect(isKind(err, 'bad-parameter')).toBe(true);
    expect(err.message).not.toContain('hunter2');
  });

  it.each([
    'bcrypt$10$abc',
    'scrypt$1024$8$1$c2FsdHNhbHRzYWx0$',
    'scrypt$1000$8$1$c2FsdHNhbHRzYWx0c2FsdA==$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5',
    'scrypt$4194304$8$1$c2FsdHNhbHRzYWx0c2FsdA==$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5',
    'scrypt$1024$99$1$c2FsdHNhbHRzYWx0c2FsdA==$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5',
    'scrypt$1024$8$1$!!$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5',
    '',
  ])('rejects the malformed stored hash %j without echoing it', async (encoded) => {
    const err = await rejection(verifyPassword(PASSWORD, encoded));
    expect(isKind(err, 'bad-parameter')).toBe(true);
    expect(err.message).toBe('stored password hash is malformed');
  });
});
