import { webcrypto } from 'node:crypto';
import { generateTotp, validateTotp, newTotpSecret } from './dist/authn/index.js';
import { generateKeyPair, issueUserCert, newCertAuthority, tlsSigningKeyPair } from './dist/ca/index.js';
import { systemClock, newFakeClock } from './dist/clock/index.js';
import * as x509 from '@peculiar/x509';
import { createHmac } from 'node:crypto';

const D = 1500;
async function rate(name, op) {
  const s = performance.now(); let n = 0;
  while (performance.now() - s < D) { await op(n); n++; }
  const r = n / ((performance.now() - s) / 1000);
  console.log(name.padEnd(50), Math.round(r).toLocaleString(), '/s');
  return r;
}
const secret = newTotpSecret();
const now = new Date();
await rate('generateTotp', () => generateTotp(secret, now));
const code = generateTotp(secret, now);
await rate('validateTotp (window +-1)', () => validateTotp({ secret, code, clock: newFakeClock(now) }) );
const key = Buffer.alloc(20, 7);
await rate('floor: one HMAC-SHA1 (node:crypto)', (i) => createHmac('sha1', key).update(Buffer.alloc(8, i & 255)).digest());

const ca = await newCertAuthority({ clusterName: 'b.example.com', type: 'user', clock: systemClock });
const tlsCa = tlsSigningKeyPair(ca);
const keys = await Promise.all(Array.from({ length: 50 }, () => generateKeyPair('ecdsa-p256')));
const expires = new Date(Date.now() + 12 * 3600_000);
await rate('issueUserCert (hand-written DER)', (i) => issueUserCert({ ca: tlsCa, publicKey: keys[i % 50].publicKeyPem, identity: { username: `u${i}`, roles: ['access'], logins: ['root'], traits: {}, expires }, clock: systemClock }));

x509.cryptoProvider.set(webcrypto);
const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const caKeys = await webcrypto.subtle.generateKey(alg, false, ['sign', 'verify']);
const leafKeys = await Promise.all(Array.from({ length: 50 }, () => webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])));
await rate('@peculiar/x509 X509CertificateGenerator.create', (i) => x509.X509CertificateGenerator.create({
  serialNumber: (i + 1).toString(16).padStart(2, '0'), issuer: 'CN=b.example.com, O=b.example.com', subject: `CN=u${i}, O=access`,
  notBefore: new Date(), notAfter: expires, signingAlgorithm: alg, publicKey: leafKeys[i % 50].publicKey, signingKey: caKeys.privateKey,
  extensions: [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true), new x509.ExtendedKeyUsageExtension(['1.3.6.1.5.5.7.3.2']), new x509.BasicConstraintsExtension(false, undefined, true)],
}));
