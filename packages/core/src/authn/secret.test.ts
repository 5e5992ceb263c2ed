import { describe, expect, it } from 'vitest';
import { constantTimeEqual, maskSecret, newSecretToken } from './secret.js';

describe('newSecretToken', () => {
  it('returns 16 random bytes as 32 hex characters by default', () => {
    const tokens = new Set(Array.from({ length: 100 }, () => newSecretToken()));
    expect(tokens.size).toBe(100);
    for (const t of tokens) expect(t).toMatch(/^[0-9a-f]{32}$/);
  });

  it('takes a larger size', () => {
    expect(newSecretToken(32)).toMatch(/^[0-9a-f]{64}$/);
  });

  it.each([0, 8, 15, 16.5, 2048, Number.NaN])('refuses size %d', (bytes) => {
    expect(() => newSecretToken(bytes)).toThrow(TypeError);
  });
});

describe('constantTimeEqual', () => {
  it.each([
    ['abc', 'abc', true],
    ['abc', 'abd', false],
    ['abc', 'abcd', false],
    ['', '', true],
    ['', 'a', false],
    ['ü', 'u\u0308', false],
  ])('%j vs %j -> %s', (a, b, expected) => {
    expect(constantTimeEqual(a, b)).toBe(expected);
  });

  it('compares bytes and strings alike', () => {
    expect(constantTimeEqual(Buffer.from('token'), 'token')).toBe(true);
    expect(constantTimeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2, 0]))).toBe(false);
  });
});

describe('maskSecret', () => {
  it('hides the first three quarters of a long token, and all of a short one', () => {
    expect(maskSecret('0123456789abcdef0123456789abcdef')).toBe(`${'*'.repeat(24)}89abcdef`);
    // A short token's tail is a large part of it: none of it is shown (it showed '***d').
    expect(maskSecret('abcd')).toBe('****');
    expect(maskSecret('static-token-123')).toBe('************-123');
    expect(maskSecret('static-token-12')).toBe('*'.repeat(15));
    expect(maskSecret('a')).toBe('*');
  });
});
