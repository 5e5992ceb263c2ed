import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeSshPublicKey, formatAuthorizedKey, parseSshPublicKey, sshPublicKeyFromKeyObject } from './publickey.js';
import { signSshData, verifySshSignature } from './signature.js';
import { newSshReader, sshMpint, sshString } from './wire.js';

describe('SSH public keys and signatures', () => {
  const keyPairs = {
    'ssh-ed25519': generateKeyPairSync('ed25519'),
    'ecdsa-sha2-nistp256': generateKeyPairSync('ec', { namedCurve: 'P-256' }),
    'ecdsa-sha2-nistp384': generateKeyPairSync('ec', { namedCurve: 'P-384' }),
    'ecdsa-sha2-nistp521': generateKeyPairSync('ec', { namedCurve: 'P-521' }),
    'ssh-rsa': generateKeyPairSync('rsa', { modulusLength: 2048 }),
  } as const;

  for (const [type, pair] of Object.entries(keyPairs)) {
    it(`encodes, decodes, signs and verifies ${type}`, () => {
      const encoded = sshPublicKeyFromKeyObject(pair.privateKey);
      expect(encoded.type).toBe(type);
      const decoded = parseSshPublicKey(formatAuthorizedKey(encoded, 'c'));
      expect(decoded.blob.equals(encoded.blob)).toBe(true);
      expect(decoded.key.export({ format: 'jwk' })).toEqual(pair.publicKey.export({ format: 'jwk' }));
      const data = Buffer.from('signed data');
      const signature = signSshData(pair.privateKey, data, { keyType: encoded.type });
      expect(() => verifySshSignature(decoded, signature, data)).not.toThrow();
      expect(() => verifySshSignature(decoded, signature, Buffer.from('other data'))).toThrow(/verification failed/);
    });
  }

  it('refuses RSA keys under 1024 bits, trailing data, and an off-curve ECDSA point', () => {
    const small = Buffer.concat([sshString('ssh-rsa'), sshMpint(Buffer.from([1, 0, 1])), sshMpint(Buffer.alloc(64, 0xff))]);
    expect(() => decodeSshPublicKey(small)).toThrow(/too small/);
    const ed = sshPublicKeyFromKeyObject(keyPairs['ssh-ed25519'].publicKey).blob;
    expect(() => decodeSshPublicKey(Buffer.concat([ed, Buffer.from([0])]))).toThrow(/trailing data/);
    const ec = Buffer.from(sshPublicKeyFromKeyObject(keyPairs['ecdsa-sha2-nistp256'].publicKey).blob);
    ec[ec.length - 1]! ^= 0x01;
    expect(() => decodeSshPublicKey(ec).key).toThrow(/invalid ecdsa-sha2-nistp256 public key/);
  });

  it('reads mpints strictly: negative numbers refused, redundant zeros dropped', () => {
    expect(() => newSshReader(sshString(Buffer.from([0x80]))).readUnsignedMpint()).toThrow(/malformed/);
    expect(newSshReader(sshString(Buffer.from([0, 0, 0x7f]))).readUnsignedMpint()).toEqual(Buffer.from([0x7f]));
    expect(sshMpint(Buffer.from([0, 0x80]))).toEqual(Buffer.from([0, 0, 0, 2, 0, 0x80]));
    expect(sshMpint(Buffer.from([0, 0]))).toEqual(Buffer.from([0, 0, 0, 0]));
  });
});
