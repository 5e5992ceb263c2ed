import { createPrivateKey, sign } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { newFakeClock } from '../../clock/index.js';
import { generateKeyPair, type KeyPairPem } from '../keys.js';
import { parseSshCertificate, signSshCertificate, sshCaSigner, type SshCertificate, type SshCertificateTemplate } from './certificate.js';
import { issueSshHostCert, issueSshUserCert } from './issue.js';
import { parseSshPublicKey } from './publickey.js';
import { verifySshCert, type VerifySshCertOptions } from './verify.js';
import { sshString } from './wire.js';

const HOUR = 3600_000;
const T0 = new Date('2026-03-01T12:00:00Z');

/** Replaces a certificate's signature with an arbitrary one (to forge what a hostile or old signer might send). */
function withSignature(cert: SshCertificate, algorithm: string, blob: Buffer): Buffer {
  return Buffer.concat([cert.signedBytes, sshString(Buffer.concat([sshString(algorithm), sshString(blob)]))]);
}

describe('verifySshCert', () => {
  const clock = newFakeClock(T0);
  let ca: KeyPairPem;
  let otherCa: KeyPairPem;
  let rsaCa: KeyPairPem;
  let ecdsaCa: KeyPairPem;
  let key: KeyPairPem;
  let userCert: SshCertificate;

  const options = (over: Partial<VerifySshCertOptions> = {}): VerifySshCertOptions => ({
    trustedCaKeys: [ca.sshPublicKey],
    certType: 'user',
    principal: 'root',
    clock,
    ...over,
  });
  const template = (over: Partial<SshCertificateTemplate> = {}): SshCertificateTemplate => ({
    certType: 'user',
    publicKey: parseSshPublicKey(key.sshPublicKey),
    keyId: 'alice',
    validPrincipals: ['root'],
    validAfter: BigInt(T0.getTime() / 1000 - 60),
    validBefore: BigInt(T0.getTime() / 1000 + 3600),
    ...over,
  });

  beforeAll(async () => {
    [ca, otherCa, rsaCa, ecdsaCa, key] = await Promise.all([
      generateKeyPair('ed25519'),
      generateKeyPair('ed25519'),
      generateKeyPair('rsa-2048'),
      generateKeyPair('ecdsa-p256'),
      generateKeyPair('ed25519'),
    ]);
    userCert = await issueSshUserCert({
      ca: ca.privateKeyPem,
      publicKey: key.sshPublicKey,
      username: 'alice',
      logins: ['root', 'alice'],
      roles: ['access'],
      expires: new Date(T0.getTime() + HOUR),
      clock,
    });
  });

  it('accepts a good certificate and says which CA signed it', () => {
    const { certificate, caKey } = verifySshCert(userCert.blob, options({ trustedCaKeys: [otherCa.sshPublicKey, ca.sshPublicKey] }));
    expect(certificate.keyId).toBe('alice');
    expect(caKey.blob.equals(parseSshPublicKey(ca.sshPublicKey).blob)).toBe(true);
    expect(verifySshCert(userCert, options({ principal: null })).certificate.validPrincipals).toEqual(['root', 'alice']);
  });

  it('refuses a certificate from a CA that is not trusted', () => {
    expect(() => verifySshCert(userCert.blob, options({ trustedCaKeys: [otherCa.sshPublicKey] }))).toThrow(
      expect.objectContaining({ kind: 'access-denied', code: 'ERR_TP_SSH_UNTRUSTED_CA' }),
    );
    expect(() => verifySshCert(userCert.blob, options({ trustedCaKeys: [] }))).toThrow(/not signed by a trusted/);
  });

  it('refuses expired and not-yet-valid certificates', () => {
    const after = newFakeClock(new Date(T0.getTime() + HOUR));
    expect(() => verifySshCert(userCert.blob, options({ clock: after }))).toThrow(expect.objectContaining({ code: 'ERR_TP_SSH_CERT_EXPIRED' }));
    const justBefore = newFakeClock(new Date(T0.getTime() + HOUR - 1000));
    expect(verifySshCert(userCert.blob, options({ clock: justBefore })).certificate.keyId).toBe('alice');
    const before = newFakeClock(new Date(T0.getTime() - 61_000));
    expect(() => verifySshCert(userCert.blob, options({ clock: before }))).toThrow(
      expect.objectContaining({ code: 'ERR_TP_SSH_CERT_NOT_YET_VALID' }),
    );
  });

  it('refuses a principal that is not listed, and an empty principal list', () => {
    expect(() => verifySshCert(userCert.blob, options({ principal: 'admin' }))).toThrow(
      expect.objectContaining({ code: 'ERR_TP_SSH_PRINCIPAL' }),
    );
    const noPrincipals = signSshCertificate(template({ validPrincipals: [] }), sshCaSigner(ca.privateKeyPem));
    expect(() => verifySshCert(noPrincipals.blob, options())).toThrow(expect.objectContaining({ code: 'ERR_TP_SSH_PRINCIPAL' }));
  });

  it('refuses the wrong certificate type', async () => {
    const hostCert = await issueSshHostCert({
      ca: ca.privateKeyPem,
      publicKey: key.sshPublicKey,
      hostId: 'h1',
      clusterName: 'example.com',
      systemRole: 'Node',
      additionalPrincipals: ['root'],
      clock,
    });
    expect(() => verifySshCert(hostCert.blob, options())).toThrow(expect.objectContaining({ code: 'ERR_TP_SSH_CERT_TYPE' }));
    expect(() => verifySshCert(userCert.blob, options({ certType: 'host' }))).toThrow(expect.objectContaining({ code: 'ERR_TP_SSH_CERT_TYPE' }));
    expect(verifySshCert(hostCert.blob, options({ certType: 'host', principal: 'h1.example.com' })).certificate.certType).toBe('host');
  });

  it('refuses unknown critical options, and any critical option on a host certificate', () => {
    const signer = sshCaSigner(ca.privateKeyPem);
    const unknown = signSshCertificate(template({ criticalOptions: { 'verify-required': '' } }), signer);
    expect(() => verifySshCert(unknown.blob, options())).toThrow(expect.objectContaining({ code: 'ERR_TP_SSH_CRITICAL_OPTION' }));
    const vendor = signSshCertificate(template({ criticalOptions: { 'x-unknown@example.com': 'yes' } }), signer);
    expect(() => verifySshCert(vendor.blob, options())).toThrow(/unsupported critical option "x-unknown@example.com"/);
    const host = signSshCertificate(template({ certType: 'host', criticalOptions: { 'force-command': '/bin/true' } }), signer);
    expect(() => verifySshCert(host.blob, options({ certType: 'host' }))).toThrow(expect.objectContaining({ code: 'ERR_TP_SSH_CRITICAL_OPTION' }));
    // Unknown extensions, unlike critical options, are ignored.
    const ext = signSshCertificate(template({ extensions: { 'x-whatever@example.com': 'v' }, criticalOptions: { 'force-command': 'ls' } }), signer);
    expect(verifySshCert(ext.blob, options()).certificate.criticalOptions).toEqual({ 'force-command': 'ls' });
  });

  it('enforces source-address against the client address, and refuses when none is known', () => {
    const cert = signSshCertificate(template({ criticalOptions: { 'source-address': '10.0.0.0/8,2001:db8::/32,192.168.1.7' } }), sshCaSigner(ca.privateKeyPem));
    expect(verifySshCert(cert.blob, options({ clientAddress: '10.1.2.3' })).certificate.keyId).toBe('alice');
    expect(verifySshCert(cert.blob, options({ clientAddress: '::ffff:192.168.1.7' })).certificate.keyId).toBe('alice');
    expect(verifySshCert(cert.blob, options({ clientAddress: '2001:db8::1' })).certificate.keyId).toBe('alice');
    expect(() => verifySshCert(cert.blob, options({ clientAddress: '192.168.1.8' }))).toThrow(
      expect.objectContaining({ code: 'ERR_TP_SSH_SOURCE_ADDRESS' }),
    );
    expect(() => verifySshCert(cert.blob, options())).toThrow(/no client address is known/);
  });

  it('refuses a tampered certificate (bad signature)', () => {
    const tampered = Buffer.from(userCert.blob);
    const at = tampered.indexOf(Buffer.from('alice'));
    tampered[at] = 'm'.charCodeAt(0);
    expect(() => verifySshCert(tampered, options())).toThrow(expect.objectContaining({ code: 'ERR_TP_SSH_BAD_SIGNATURE' }));
  });

  it('refuses a signature algorithm that does not match the CA key type', async () => {
    // An Ed25519 CA signature relabelled as ECDSA, and an ECDSA CA signature relabelled as Ed25519.
    const ed = withSignature(userCert, 'ecdsa-sha2-nistp256', Buffer.alloc(72));
    expect(() => verifySshCert(ed, options())).toThrow(expect.objectContaining({ code: 'ERR_TP_SSH_SIGNATURE_ALGORITHM' }));
    const ecCert = signSshCertificate(template(), sshCaSigner(ecdsaCa.privateKeyPem));
    const relabelled = withSignature(ecCert, 'ssh-ed25519', Buffer.alloc(64));
    expect(() => verifySshCert(relabelled, options({ trustedCaKeys: [ecdsaCa.sshPublicKey] }))).toThrow(
      expect.objectContaining({ code: 'ERR_TP_SSH_SIGNATURE_ALGORITHM' }),
    );
    // An RSA CA's rsa-sha2-512 signature relabelled rsa-sha2-256 does not verify.
    const rsaCert = signSshCertificate(template(), sshCaSigner(rsaCa.privateKeyPem));
    const blob = parseSshCertificate(rsaCert.blob).signature.subarray(4 + 'rsa-sha2-512'.length + 4);
    expect(() => verifySshCert(withSignature(rsaCert, 'rsa-sha2-256', blob), options({ trustedCaKeys: [rsaCa.sshPublicKey] }))).toThrow(
      expect.objectContaining({ code: 'ERR_TP_SSH_BAD_SIGNATURE' }),
    );
    expect(verifySshCert(rsaCert.blob, options({ trustedCaKeys: [rsaCa.sshPublicKey] })).certificate.keyId).toBe('alice');
  });

  it('refuses a valid SHA-1 "ssh-rsa" signature', () => {
    const rsaCert = signSshCertificate(template(), sshCaSigner(rsaCa.privateKeyPem));
    const sha1 = sign('sha1', rsaCert.signedBytes, createPrivateKey(rsaCa.privateKeyPem));
    expect(() => verifySshCert(withSignature(rsaCert, 'ssh-rsa', sha1), options({ trustedCaKeys: [rsaCa.sshPublicKey] }))).toThrow(
      expect.objectContaining({ code: 'ERR_TP_SSH_SHA1_SIGNATURE' }),
    );
  });
});
