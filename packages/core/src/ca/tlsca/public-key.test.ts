import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { derToPem } from '../pem.js';
import { derTime, readDerElement } from './der.js';
import { subjectPublicKey } from './public-key.js';

const spkiPem = (key: ReturnType<typeof generateKeyPairSync>['publicKey']) => key.export({ type: 'spki', format: 'pem' }) as string;

describe('subjectPublicKey', () => {
  it('reads SPKI PEM for Ed25519, ECDSA (P-256/384/521) and RSA without changing the bytes', () => {
    const keys = [
      ['ed25519', generateKeyPairSync('ed25519').publicKey],
      ['ec', generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey],
      ['ec', generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey],
      ['ec', generateKeyPairSync('ec', { namedCurve: 'P-521' }).publicKey],
      ['rsa', generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey],
    ] as const;
    for (const [type, key] of keys) {
      const parsed = subjectPublicKey(spkiPem(key));
      expect(parsed.type).toBe(type);
      expect(parsed.spki.equals(key.export({ type: 'spki', format: 'der' }))).toBe(true);
      expect(subjectPublicKey(key).spki.equals(parsed.spki)).toBe(true);
    }
  });

  it('accepts other PEM forms through OpenSSL: PKCS#1 RSA public keys and private keys', () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pkcs1 = publicKey.export({ type: 'pkcs1', format: 'pem' }) as string;
    expect(subjectPublicKey(pkcs1).type).toBe('rsa');
    expect(subjectPublicKey(privateKey).spki.equals(publicKey.export({ type: 'spki', format: 'der' }))).toBe(true);
  });

  it('refuses small RSA keys, unsupported curves and algorithms, and broken points', () => {
    expect(() => subjectPublicKey(spkiPem(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey))).toThrow(/2048/);
    expect(() => subjectPublicKey(spkiPem(generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey))).toThrow(/invalid public key/);
    expect(() => subjectPublicKey(spkiPem(generateKeyPairSync('dsa', { modulusLength: 2048, divisorLength: 256 }).publicKey))).toThrow(
      /invalid public key/,
    );
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' });
    const compressedMarker = Buffer.from(ec);
    compressedMarker[ec.length - 65] = 0x02;
    expect(() => subjectPublicKey(derToPem(compressedMarker, 'PUBLIC KEY'))).toThrow(expect.objectContaining({ kind: 'bad-parameter' }));
    expect(() => subjectPublicKey(derToPem(ec.subarray(0, ec.length - 1), 'PUBLIC KEY'))).toThrow(expect.objectContaining({ kind: 'bad-parameter' }));
    expect(() => subjectPublicKey('not a key')).toThrow(expect.objectContaining({ kind: 'bad-parameter' }));
    // A point off the curve (its last byte of y changed), and coordinates at or above p, for every curve we certify.
    for (const namedCurve of ['P-256', 'P-384', 'P-521']) {
      const der = generateKeyPairSync('ec', { namedCurve }).publicKey.export({ type: 'spki', format: 'der' });
      expect(subjectPublicKey(derToPem(der, 'PUBLIC KEY')).type).toBe('ec');
      const offCurve = Buffer.from(der);
      offCurve[der.length - 1]! ^= 1;
      expect(() => subjectPublicKey(derToPem(offCurve, 'PUBLIC KEY')), namedCurve).toThrow(expect.objectContaining({ kind: 'bad-parameter' }));
      const maxed = Buffer.from(der);
      const coordinate = ({ 'P-256': 32, 'P-384': 48, 'P-521': 66 } as Record<string, number>)[namedCurve]!;
      maxed.fill(0xff, der.length - 2 * coordinate, der.length - coordinate);
      expect(() => subjectPublicKey(derToPem(maxed, 'PUBLIC KEY')), namedCurve).toThrow(expect.objectContaining({ kind: 'bad-parameter' }));
    }
    // Sanity: the untouched key is fine.
    expect(subjectPublicKey(derToPem(ec, 'PUBLIC KEY')).type).toBe('ec');
    expect(createPublicKey(derToPem(ec, 'PUBLIC KEY')).asymmetricKeyType).toBe('ec');
  });
});

describe('DER helpers', () => {
  it('writes UTCTime until 2049 and GeneralizedTime from 2050', () => {
    expect(derTime(new Date('2049-12-31T23:59:59Z')).toString('latin1', 2)).toBe('491231235959Z');
    expect(derTime(new Date('2049-12-31T23:59:59Z'))[0]).toBe(0x17);
    expect(derTime(new Date('2050-01-01T00:00:00Z')).toString('latin1', 2)).toBe('20500101000000Z');
    expect(derTime(new Date('2050-01-01T00:00:00Z'))[0]).toBe(0x18);
  });

  it('refuses lengths that run past the data, indefinite lengths and huge length fields', () => {
    expect(() => readDerElement(Buffer.from([0x30, 0x05, 0x01]), 0)).toThrow(/malformed DER/);
    expect(() => readDerElement(Buffer.from([0x30, 0x80, 0x00, 0x00]), 0)).toThrow(/malformed DER/);
    expect(() => readDerElement(Buffer.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), 0)).toThrow(/malformed DER/);
    expect(readDerElement(Buffer.from([0x04, 0x81, 0x01, 0xaa]), 0)).toEqual({ tag: 0x04, start: 0, contentStart: 3, end: 4 });
  });
});
