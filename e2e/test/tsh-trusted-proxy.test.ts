/**
 * A proxy serving the operator's certificate (`proxy_service.https_keypairs`, here issued by a throwaway openssl CA):
 * tsh logs in without `--insecure` once it trusts that CA (node:https honours NODE_EXTRA_CA_CERTS), and refuses the
 * proxy when it does not.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestPki, requireTool, type TestPki } from '@teleport-ts/testkit';
import { completeInvite, startCluster, type TestCluster } from './tsh-cluster.js';

const PASSWORD = 'correct horse battery staple';
const openssl = requireTool('openssl', 'openssl');

describe.skipIf(!openssl.available)('tsh login against a proxy with a configured key pair', () => {
  let pkiDir: string;
  let pki: TestPki;
  let cluster: TestCluster;
  let proxy: string;

  beforeAll(async () => {
    pkiDir = await mkdtemp(path.join(os.tmpdir(), 'tp-e2e-pki-'));
    // Server certificate for localhost and 127.0.0.1.
    pki = await makeTestPki(pkiDir);
    cluster = await startCluster({
      secondFactor: 'off',
      httpsKeyPair: { keyFile: pki.serverKey, certFile: pki.serverCert },
      publicAddr: (port) => `localhost:${port}`,
    });
    proxy = `localhost:${cluster.proxyAddr.split(':')[1]}`;
  });
  afterAll(async () => {
    await cluster?.stop();
    await rm(pkiDir, { recursive: true, force: true });
  });

  it('announces a trusted certificate, and invite links on the public address', async () => {
    expect(cluster.output()).toContain(`proxy service is up on ${cluster.proxyAddr}: https://${proxy}.\n`);
    expect(cluster.output()).not.toContain('self-signed');
    expect(await cluster.addUser('tina', ['--roles=access', '--logins=tina'])).toMatch(new RegExp(`^https://${proxy}/web/invite/`));
    // The root page suggests tsh login without --insecure: the certificate is the operator's.
    const { readFile } = await import('node:fs/promises');
    const https = await import('node:https');
    const ca = await readFile(pki.caCert, 'utf8');
    const html = await new Promise<string>((resolve, reject) => {
      https
        .get(`https://${proxy}/`, { ca }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve(text));
        })
        .on('error', reject);
    });
    expect(html).toContain(`Log in from a terminal: tsh login --proxy=${proxy}</p>`);
  });

  it('logs in without --insecure when tsh trusts the CA, and refuses the proxy when it does not', async () => {
    await completeInvite(await cluster.addUser('uma', ['--roles=access', '--logins=uma']), PASSWORD);
    const untrusted = await cluster.tsh(['login', `--proxy=${proxy}`, '--user=uma'], { input: `${PASSWORD}\n`, env: { NODE_EXTRA_CA_CERTS: '' } });
    expect(untrusted.code).toBe(1);
    expect(untrusted.stderr).toMatch(/^ERROR: cannot verify the TLS certificate of proxy localhost:\d+ \([^)]*\); rerun with --insecure/);

    const login = await cluster.tsh(['login', `--proxy=${proxy}`, '--user=uma'], { input: `${PASSWORD}\n`, env: { NODE_EXTRA_CA_CERTS: pki.caCert } });
    expect(login.stderr).toBe('Enter password for Teleport user uma: \n');
    expect(login.code).toBe(0);
    expect(login.stdout).toContain('  Logged in as:       uma\n');
    expect((await cluster.tsh(['status'], { env: { NODE_EXTRA_CA_CERTS: pki.caCert } })).stdout).toContain(`> Profile URL:        https://${proxy}\n`);
  });
});
