import { describe, expect, it } from 'vitest';
import { newFakeClock } from '../clock/index.js';
import { isKind } from '../errors/index.js';
import { base32Decode, base32Encode, generateTotp, newTotpSecret, totpStep, totpUrl, validateTotp } from './totp.js';

/** RFC 6238 appendix B: the SHA-1 seed is the ASCII string "12345678901234567890". */
const RFC_SECRET = base32Encode(Buffer.from('12345678901234567890', 'ascii'));

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw');
}

describe('base32', () => {
  it.each([
    ['', ''],
    ['f', 'MY'],
    ['fo', 'MZXQ'],
    ['foo', 'MZXW6'],
    ['foob', 'MZXW6YQ'],
    ['fooba', 'MZXW6YTB'],
    ['foobar', 'MZXW6YTBOI'],
  ])('RFC 4648 vector %j -> %s (unpadded)', (plain, encoded) => {
    expect(base32Encode(Buffer.from(plain))).toBe(encoded);
    if (encoded !== '') expect(base32Decode(encoded).toString()).toBe(plain);
  });

  it('encodes the RFC 6238 seed as the well-known secret', () => {
    expect(RFC_SECRET).toBe('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ');
  });

  it('decodes leniently: lower case, spaces, padding', () => {
    expect(base32Decode('mzxw 6ytb oi======').toString()).toBe('foobar');
  });

  it('refuses non-base32 without quoting the secret', () => {
    const err = errorOf(() => base32Decode('SECRET1!'));
    expect(isKind(err, 'bad-parameter')).toBe(true);
    expect(err.message).toBe('TOTP secret is not valid base32');
  });
});

describe('generateTotp', () => {
  // RFC 6238 appendix B, SHA-1 column; the 6-digit codes are the same HOTP values mod 10^6.
  it.each([
    [59, 1, '94287082', '287082'],
    [1111111109, 0x23523ec, '07081804', '081804'],
    [1111111111, 0x23523ed, '14050471', '050471'],
    [1234567890, 0x273ef07, '89005924', '005924'],
    [2000000000, 0x3f940aa, '69279037', '279037'],
    [20000000000, 0x27bc86aa, '65353130', '353130'],
  ])('T=%d (step %d): %s / %s', (seconds, step, eight, six) => {
    const time = new Date(seconds * 1000);
    expect(totpStep(time)).toBe(step);
    expect(generateTotp(RFC_SECRET, time, { digits: 8 })).toBe(eight);
    expect(generateTotp(RFC_SECRET, time)).toBe(six);
    expect(generateTotp(RFC_SECRET, seconds * 1000)).toBe(six);
  });
});

describe('newTotpSecret / totpUrl', () => {
  it('makes 20-byte base32 secrets, different each time', () => {
    const a = newTotpSecret();
    expect(a).toMatch(/^[A-Z2-7]{32}$/);
    expect(base32Decode(a)).toHaveLength(20);
    expect(newTotpSecret()).not.toBe(a);
  });

  it('builds the otpauth URL authenticator apps scan', () => {
    expect(totpUrl({ secret: RFC_SECRET, issuer: 'teleport.example.com', account: 'alice' })).toBe(
      'otpauth://totp/teleport.example.com:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=teleport.example.com&algorithm=SHA1&digits=6&period=30',
    );
    const url = new URL(totpUrl({ secret: RFC_SECRET, issuer: 'My Cluster', account: 'bob@example.com' }));
    expect(url.protocol).toBe('otpauth:');
    expect(url.host).toBe('totp');
    expect(decodeURIComponent(url.pathname)).toBe('/My Cluster:bob@example.com');
    expect(url.searchParams.get('issuer')).toBe('My Cluster');
  });
});

describe('validateTotp', () => {
  const start = new Date(1_700_000_010_000); // 10 s into a 30 s step
  const codeAt = (offsetSteps: number): string => generateTotp(RFC_SECRET, start.getTime() + offsetSteps * 30_000);
  const currentStep = totpStep(start);

  it.each([
    [-2, false],
    [-1, true],
    [0, true],
    [1, true],
    [2, false],
  ])('code from step offset %d accepted: %s', (offset, accepted) => {
    const clock = newFakeClock(start);
    const code = codeAt(offset);
    if (accepted) expect(validateTotp({ secret: RFC_SECRET, code, clock })).toBe(currentStep + offset);
    else expect(errorOf(() => validateTotp({ secret: RFC_SECRET, code, clock })).message).toBe('invalid one-time code');
  });

  it('refuses reuse: a code whose step is <= lastUsedStep', () => {
    const clock = newFakeClock(start);
    const code = codeAt(0);
    const step = validateTotp({ secret: RFC_SECRET, code, clock });
    const err = errorOf(() => validateTotp({ secret: RFC_SECRET, code, clock, lastUsedStep: step }));
    expect(isKind(err, 'access-denied')).toBe(true);
    expect(err.message).toBe('one-time code has already been used, wait for the next one');
    // An older code is refused too, the next one is accepted.
    expect(() => validateTotp({ secret: RFC_SECRET, code: codeAt(-1), clock, lastUsedStep: step })).toThrow(/already been used/);
    clock.advance(30_000);
    expect(validateTotp({ secret: RFC_SECRET, code: codeAt(1), clock, lastUsedStep: step })).toBe(step + 1);
  });

  it('follows the clock', () => {
    const clock = newFakeClock(start);
    const code = codeAt(0);
    clock.advance(30_000);
    expect(validateTotp({ secret: RFC_SECRET, code, clock })).toBe(currentStep);
    clock.advance(30_000);
    expect(() => validateTotp({ secret: RFC_SECRET, code, clock })).toThrow('invalid one-time code');
  });

  it.each(['', '12345', '1234567', 'abcdef', '12 34 5x', '１２３４５６'])('refuses malformed code %j with a fixed message', (code) => {
    const err = errorOf(() => validateTotp({ secret: RFC_SECRET, code, clock: newFakeClock(start) }));
    expect(isKind(err, 'access-denied')).toBe(true);
    expect(err.message).toBe('invalid one-time code');
  });

  it('accepts a code typed with spaces', () => {
    const code = codeAt(0);
    expect(validateTotp({ secret: RFC_SECRET, code: `${code.slice(0, 3)} ${code.slice(3)}`, clock: newFakeClock(start) })).toBe(currentStep);
  });

  it('never puts the secret or the code in a message', () => {
    const code = codeAt(5);
    const err = errorOf(() => validateTotp({ secret: RFC_SECRET, code, clock: newFakeClock(start) }));
    expect(err.message).not.toContain(code);
    expect(err.message).not.toContain(RFC_SECRET);
  });
});
