import { createPublicKey } from 'node:crypto';
import { requireTool } from '@teleport-ts/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newFakeClock } from '../clock/index.js';
import {
  CERT_AUTHORITY_TYPES,
  newCertAuthority,
  sshSigningKeyPair,
  tlsSigningKeyPair,
  withoutSecrets,
  type CertAuthority,
} from './authority.js';
import { keyAlgorithmOf } from './keys.js';
import { caPin, checkCaPin } from './pin.js';
import { makeTempDir, runTool, type TempDir } from './testing/run.js';
import { parseX509Certificate } from './tlsca/x509.js';

const openssl = requireTool('openssl', 'openssl');
const YEAR = 365 * 24 * 3600_000;

describe('newCertAuthority', () => {
  const clock = newFakeClock(new Date());
  const cas = {} as Record<(typeof CERT_AUTHORITY_TYPES)[number], CertAuthority>;

  beforeAll(async () => {
    for (const type of CERT_AUTHORITY_TYPES) cas[type] = await newCertAuthority({ clusterName: 'example.com', type, clock });
  });

  it('gives each CA type the keys it needs, with balanced-v1 algorithms', () => {
    const summary = Object.fromEntries(
      CERT_AUTHORITY_TYPES.map((type) => {
        const keys = cas[type].spec.active_keys;
        return [type, { tls: keys.tls.map((k) => keyAlgorithmOf(k.key!)), ssh: keys.ssh.map((k) => keyAlgorithmOf(k.private_key!)) }];
      }),
    );
    expect(summary).toEqual({
      host: { tls: ['ecdsa-p256'], ssh: ['ed25519'] },
      user: { tls: ['ecdsa-p256'], ssh: ['ed25519'] },
      db: { tls: ['rsa-2048'], ssh: [] },
      db_client: { tls: ['rsa-2048'], ssh: [] },
      openssh: { tls: [], ssh: ['ed25519'] },
    });
    expect(cas.host).toMatchObject({
      kind: 'cert_authority',
      sub_kind: 'host',
      version: 'v2',
      metadata: { name: 'example.com' },
      spec: { cluster_name: 'example.com', type: 'host', additional_trusted_keys: { ssh: [], tls: [] }, rotation: { state: 'standby', phase: 'standby' } },
    });
    expect(cas.user.spec.active_keys.ssh[0]!.public_key).toMatch(/^ssh-ed25519 AAAA/);
  });

  it('accepts ECDSA for the database CAs', async () => {
    const db = await newCertAuthority({ clusterName: 'example.com', type: 'db', clock, algorithms: { tls: 'ecdsa-p256' } });
    expect(keyAlgorithmOf(tlsSigningKeyPair(db).key)).toBe('ecdsa-p256');
  });

  it('writes a CA certificate: CN = O = cluster, 10 years from one minute ago, matching its key', () => {
    const { cert, key } = tlsSigningKeyPair(cas.user);
    const parsed = parseX509Certificate(cert);
    expect(parsed.subject).toBe('CN=example.com, O=example.com');
    expect(parsed.issuer).toBe(parsed.subject);
    const now = Math.floor(clock.now().getTime() / 1000) * 1000;
    expect(parsed.notBefore.getTime()).toBe(now - 60_000);
    expect(parsed.notAfter.getTime()).toBe(now + 10 * YEAR);
    expect(Buffer.from(parsed.publicKey.rawData).equals(createPublicKey(key).export({ type: 'spki', format: 'der' }))).toBe(true);
  });

  it('refuses an unknown type and a missing cluster name', async () => {
    await expect(newCertAuthority({ clusterName: 'example.com', type: 'jwt' as never, clock })).rejects.toMatchObject({ kind: 'bad-parameter' });
    await expect(newCertAuthority({ clusterName: '', type: 'host', clock })).rejects.toMatchObject({ kind: 'bad-parameter' });
  });

  it('strips secrets for sharing, and then refuses to sign', () => {
    const shared = withoutSecrets(cas.host);
    expect(JSON.stringify(shared)).not.toContain('PRIVATE KEY');
    expect(shared.spec.active_keys.tls[0]!.cert).toBe(cas.host.spec.active_keys.tls[0]!.cert);
    expect(() => tlsSigningKeyPair(shared)).toThrow(/without its TLS private key/);
    expect(() => sshSigningKeyPair(shared)).toThrow(/without its SSH private key/);
    expect(() => sshSigningKeyPair(cas.db)).toThrow(/has no SSH key/);
    expect(() => tlsSigningKeyPair(cas.openssh)).toThrow(/has no TLS key/);
  });

  it('computes the CA pin and checks it', () => {
    const cert = tlsSigningKeyPair(cas.host).cert;
    const pin = caPin(cert);
    expect(pin).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(() => checkCaPin(cert, ['sha256:00', pin.toUpperCase().replace('SHA256', 'sha256')])).not.toThrow();
    expect(() => checkCaPin(cert, [caPin(tlsSigningKeyPair(cas.user).cert)])).toThrow(
      expect.objectContaining({ kind: 'access-denied', code: 'ERR_TP_CA_PIN_MISMATCH' }),
    );
  });

  describe.skipIf(!openssl.available)('checked by openssl', () => {
    let dir: TempDir;
    beforeAll(async () => {
      dir = await makeTempDir();
    });
    afterAll(() => dir?.remove());

    it('shows a CA certificate with CA:TRUE and keyCertSign|cRLSign, both critical', async () => {
      for (const type of ['user', 'db'] as const) {
        const path = await dir.write(`${type}.pem`, tlsSigningKeyPair(cas[type]).cert);
        const res = await runTool('openssl', ['x509', '-text', '-noout', '-in', path]);
        expect(res.code).toBe(0);
        expect(res.stdout).toContain('Issuer: CN = example.com, O = example.com');
        expect(res.stdout).toContain('Subject: CN = example.com, O = example.com');
        expect(res.stdout).toMatch(/X509v3 Basic Constraints: critical\s+CA:TRUE\n/);
        expect(res.stdout).toMatch(/X509v3 Key Usage: critical\s+Certificate Sign, CRL Sign\n/);
        expect(res.stdout).toContain('X509v3 Subject Key Identifier');
        expect(res.stdout).toContain(type === 'db' ? 'Public-Key: (2048 bit)' : 'NIST CURVE: P-256');
        // Self-signed and valid for itself.
        expect((await runTool('openssl', ['verify', '-CAfile', path, path])).code).toBe(0);
      }
    });

    it('matches the pin computed by openssl from the public key', async () => {
      const cert = tlsSigningKeyPair(cas.host).cert;
      const pub = await runTool('openssl', ['x509', '-pubkey', '-noout', '-in', await dir.write('host.pem', cert)]);
      const der = await runTool('openssl', ['pkey', '-pubin', '-outform', 'DER', '-out', `${dir.path}/spki.der`, '-in', await dir.write('pub.pem', pub.stdout)]);
      expect(der.code).toBe(0);
      const digest = await runTool('openssl', ['dgst', '-sha256', '-r', `${dir.path}/spki.der`]);
      expect(caPin(cert)).toBe(`sha256:${digest.stdout.split(' ')[0]}`);
    });
  });
});
