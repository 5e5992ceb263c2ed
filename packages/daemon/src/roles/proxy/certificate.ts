/**
 * The proxy's web TLS certificate: the operator's `proxy_service.https_keypairs`, else a self-signed one kept in
 * the data dir (Teleport's `webproxy_{cert,key}.pem`), so clients then need `--insecure`, as with Teleport.
 */

import { createPrivateKey, createPublicKey, randomUUID, X509Certificate } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createSecureContext } from 'node:tls';
import type { Clock } from '@teleport-ts/core/clock';
import type { HttpsKeyPair } from '@teleport-ts/core/config';
import { BadParameterError } from '@teleport-ts/core/errors';

/** One `proxy_service.https_keypairs` entry (parsed and checked by `core/config`). */
export type { HttpsKeyPair };

/** Key and certificate chain the web listener serves. */
export interface WebCertificate {
  key: string;
  cert: string;
  /** True when generated here: clients cannot verify it. */
  selfSigned: boolean;
}

/** Validity of the self-signed certificate (Teleport uses one year). */
const SELF_SIGNED_VALIDITY_MS = 365 * 24 * 3600_000;
const SELF_SIGNED_CERT_FILE = 'webproxy_cert.pem';
const SELF_SIGNED_KEY_FILE = 'webproxy_key.pem';

async function readPem(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new BadParameterError(`proxy_service.https_keypairs: cannot read ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

/**
 * Throws unless the private key is the key of the certificate (the first of a chain). OpenSSL keeps keys and
 * certificates of different algorithms in different slots, so `createSecureContext` accepts an RSA key with an
 * ECDSA certificate and every handshake fails later; comparing the public keys catches that and a plain mismatch.
 */
function checkKeyMatchesCert(pair: HttpsKeyPair, keyPem: string, certPem: string): void {
  const name = `proxy_service.https_keypairs: ${pair.cert_file} and ${pair.key_file}`;
  let certKey: Buffer;
  let privateKey: Buffer;
  let algorithms: { cert: string; key: string };
  try {
    const cert = new X509Certificate(certPem);
    const key = createPrivateKey(keyPem);
    certKey = cert.publicKey.export({ type: 'spki', format: 'der' });
    privateKey = createPublicKey(key).export({ type: 'spki', format: 'der' });
    algorithms = { cert: cert.publicKey.asymmetricKeyType ?? 'unknown', key: key.asymmetricKeyType ?? 'unknown' };
  } catch {
    throw new BadParameterError(`${name}: not a PEM certificate and private key`);
  }
  if (algorithms.cert !== algorithms.key) {
    throw new BadParameterError(`${name} do not match: the certificate holds an ${algorithms.cert} key, the key file an ${algorithms.key} key`);
  }
  if (!certKey.equals(privateKey)) throw new BadParameterError(`${name} do not match: the key is not the certificate's key`);
}

/** Loads configured key pairs and checks that each key is its certificate's; the first is served (SNI selection across several is future work). */
export async function loadHttpsKeyPairs(pairs: readonly HttpsKeyPair[]): Promise<WebCertificate> {
  if (pairs.length === 0) throw new TypeError('loadHttpsKeyPairs: no key pairs');
  const loaded: WebCertificate[] = [];
  for (const pair of pairs) {
    const key = await readPem(pair.key_file, 'key_file');
    const cert = await readPem(pair.cert_file, 'cert_file');
    checkKeyMatchesCert(pair, key, cert);
    try {
      createSecureContext({ key, cert });
    } catch {
      throw new BadParameterError(`proxy_service.https_keypairs: ${pair.cert_file} and ${pair.key_file} are not a matching certificate and key`);
    }
    loaded.push({ key, cert, selfSigned: false });
  }
  return loaded[0]!;
}

/** Host names a self-signed certificate covers: the configured public names, this host, loopback. */
export function selfSignedHosts(publicAddrs: readonly string[]): string[] {
  const hosts = new Set<string>();
  for (const a of publicAddrs) {
    const host = a.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '').replace(/^\[([^\]]+)\].*$/, '$1').replace(/:\d+$/, '');
    if (host !== '') hosts.add(host);
  }
  hosts.add(os.hostname());
  for (const h of ['localhost', '127.0.0.1', '::1']) hosts.add(h);
  return [...hosts];
}

/**
 * Returns the self-signed certificate in `dataDir` when it is still valid, else makes one (an ephemeral ECDSA
 * CA signs a leaf for `hosts`; the chain served is leaf + CA) and stores it there.
 */
export async function selfSignedCertificate(options: { dataDir?: string; hosts: readonly string[]; clock: Clock }): Promise<WebCertificate> {
  const { dataDir, hosts, clock } = options;
  if (dataDir !== undefined) {
    try {
      const [key, cert] = await Promise.all([
        readFile(path.join(dataDir, SELF_SIGNED_KEY_FILE), 'utf8'),
        readFile(path.join(dataDir, SELF_SIGNED_CERT_FILE), 'utf8'),
      ]);
      const leaf = new X509Certificate(cert);
      // Reuse while valid for another day and still covering every host name.
      const fresh = Date.parse(leaf.validTo) - clock.now().getTime() > 24 * 3600_000;
      const covers = hosts.every((h) => (h.includes(':') || /^\d+\.\d+\.\d+\.\d+$/.test(h) ? leaf.checkIP(h) : leaf.checkHost(h)) !== undefined);
      if (fresh && covers) return { key, cert, selfSigned: true };
    } catch {
      // Missing or unreadable: make a new one.
    }
  }
  const ca = await import('@teleport-ts/core/ca');
  const caKeys = await ca.generateKeyPair('ecdsa-p256');
  const caCert = await ca.generateCaCertificate({ clusterName: 'teleport-ts self-signed proxy', privateKeyPem: caKeys.privateKeyPem, clock });
  const leafKeys = await ca.generateKeyPair('ecdsa-p256');
  const leafCert = await ca.issueHostCert({
    ca: { cert: caCert, key: caKeys.privateKeyPem },
    publicKey: leafKeys.publicKeyPem,
    hostId: randomUUID(),
    clusterName: 'self-signed',
    systemRole: 'Proxy',
    ...ca.splitHosts(hosts),
    expires: new Date(clock.now().getTime() + SELF_SIGNED_VALIDITY_MS),
    clock,
  });
  const out: WebCertificate = { key: leafKeys.privateKeyPem, cert: `${leafCert.trimEnd()}\n${caCert.trimEnd()}\n`, selfSigned: true };
  if (dataDir !== undefined) {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    await writeFile(path.join(dataDir, SELF_SIGNED_KEY_FILE), out.key, { mode: 0o600 });
    await chmod(path.join(dataDir, SELF_SIGNED_KEY_FILE), 0o600);
    await writeFile(path.join(dataDir, SELF_SIGNED_CERT_FILE), out.cert, { mode: 0o644 });
  }
  return out;
}
