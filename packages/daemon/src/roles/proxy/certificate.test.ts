import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTool } from '@teleport-ts/testkit';
import { loadHttpsKeyPairs } from './certificate.js';

const openssl = requireTool('openssl', 'openssl');
const dir = mkdtempSync(path.join(os.tmpdir(), 'keypairs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A self-signed certificate and its key made by openssl, for `algorithm` (`rsa:2048` or `ec`). */
function pair(name: string, algorithm: 'rsa' | 'ec'): { key_file: string; cert_file: string } {
  const key_file = path.join(dir, `${name}.key`);
  const cert_file = path.join(dir, `${name}.crt`);
  const newkey = algorithm === 'rsa' ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
  execFileSync(openssl.path ?? 'openssl', ['req', '-x509', ...newkey, '-nodes', '-keyout', key_file, '-out', cert_file, '-days', '1', '-subj', `/CN=${name}`], { stdio: 'ignore' });
  return { key_file, cert_file };
}

describe.skipIf(!openssl.available)('https_keypairs start-up check', () => {
  let rsa: ReturnType<typeof pair>;
  let ec: ReturnType<typeof pair>;
  let ec2: ReturnType<typeof pair>;
  beforeAll(() => {
    rsa = pair('rsa', 'rsa');
    ec = pair('ec', 'ec');
    ec2 = pair('ec2', 'ec');
  });

  it('accepts every pair whose key is its certificate\'s', async () => {
    const loaded = await loadHttpsKeyPairs([ec, rsa]);
    expect(loaded.cert).toContain('BEGIN CERTIFICATE');
  });

  it('refuses an RSA key with an ECDSA certificate in one line naming the pair', async () => {
    const err = await loadHttpsKeyPairs([{ key_file: rsa.key_file, cert_file: ec.cert_file }]).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toBe(
      `proxy_service.https_keypairs: ${ec.cert_file} and ${rsa.key_file} do not match: the certificate holds an ec key, the key file an rsa key`,
    );
  });

  it('refuses a key of the same algorithm that is not the certificate\'s, also in a later pair', async () => {
    const err = await loadHttpsKeyPairs([ec, { key_file: ec2.key_file, cert_file: ec.cert_file }]).catch((e: Error) => e);
    expect((err as Error).message).toMatch(/do not match: the key is not the certificate's key$/);
    expect((err as Error).message).not.toContain('\n');
  });
});
