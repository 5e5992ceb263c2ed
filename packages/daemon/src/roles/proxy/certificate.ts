/**
 * The proxy's web TLS certificate: the operator's `proxy_service.https_keypairs`, else a self-signed one kept in
 * the data dir (Teleport's `webproxy_{cert,key}.pem`), so clients then need `--insecure`, as with Teleport.
 */

import { randomUUID } from 'node:crypto';
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

/** Loads configured key pairs; the first is served (SNI selection across several is future work). */
export async function loadHttpsKeyPairs(pairs: readonly HttpsKeyPair[]): Promise<WebCertificate> {
  const first = pairs[0];
  if (first === undefined) throw new TypeError('loadHttpsKeyPairs: no key pairs');
  const key = await readPem(first.key_file, 'key_file');
  const cert = await readPem(first.cert_file, 'cert_file');
  try {
    createSecureContext({ key, cert });
  } catch {
    throw new BadParameterError(`proxy_service.https_keypairs: ${first.cert_file} and ${first.key_file} are not a matching certificate and key`);
  }
  return { key, cert, selfSigned: false };
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
      const { X509Certificate } = await import('node:crypto');
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
