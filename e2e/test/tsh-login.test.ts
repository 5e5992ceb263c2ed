/**
 * tsh against a real auth+proxy: lockout after failed logins, certificate TTL and `[EXPIRED]`, the TLS error for a
 * self-signed proxy without `--insecure`, the TELEPORT_* variables, `tsh env`, and a cluster without OTP.
 */

import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatSshCertificate, generateKeyPair, issueSshUserCert } from '@teleport-ts/core/ca';
import { newFakeClock } from '@teleport-ts/core/clock';
import { completeInvite, nextTotp, startCluster, type TestCluster } from './tsh-cluster.js';

const PASSWORD = 'correct horse battery staple';

describe('tsh login against auth+proxy', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('refuses a self-signed proxy without --insecure, in one line naming --insecure', async () => {
    const res = await cluster.tsh(['login', `--proxy=${cluster.proxyAddr}`, '--user=nobody']);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^ERROR: cannot verify the TLS certificate of proxy 127\.0\.0\.1:\d+ \(self-signed certificate[^)]*\); rerun with --insecure to skip the check \(only for testing\)\n$/);
    expect(res.stdout).toBe('');
  });

  it("the proxy's root page suggests tsh login with --insecure (self-signed certificate), and it works as copied", async () => {
    const https = await import('node:https');
    const html = await new Promise<string>((resolve, reject) => {
      https
        .get(`https://${cluster.proxyAddr}/`, { rejectUnauthorized: false }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve(text));
        })
        .on('error', reject);
    });
    const suggested = /Log in from a terminal: (tsh [^<]*)</.exec(html)?.[1];
    expect(suggested).toBe(`tsh login --proxy=${cluster.proxyAddr} --insecure`);
    const secret = await completeInvite(await cluster.addUser('rootpage', ['--roles=access', '--logins=rp']), PASSWORD);
    const res = await cluster.tsh([...suggested!.split(' ').slice(1), '--user=rootpage'], { input: `${PASSWORD}\n${nextTotp(secret!)}\n` });
    expect(res.stderr).not.toContain('ERROR');
    expect(res.code).toBe(0);
    await cluster.tsh(['logout']);
  });

  it('locks the user after 5 wrong passwords, and says so', async () => {
    const secret = await completeInvite(await cluster.addUser('bob', ['--roles=access', '--logins=bob']), PASSWORD);
    const login = (password: string) =>
      cluster.tsh(['login', `--proxy=${cluster.proxyAddr}`, '--user=bob', '--insecure'], { input: `${password}\n${nextTotp(secret!)}\n` });
    for (let i = 0; i < 4; i++) {
      const res = await login('wrong password!');
      expect(res.code).toBe(1);
      expect(res.stderr).toContain('ERROR: invalid username, password or second factor\n');
    }
    // The 5th wrong password locks the user, and the answer says so.
    const fifth = await login('wrong password!');
    expect(fifth.code).toBe(1);
    expect(fifth.stderr).toMatch(/ERROR: user "bob" is locked until \S+: too many failed login attempts\n/);
    const locked = await login(PASSWORD);
    expect(locked.code).toBe(1);
    expect(locked.stderr).toMatch(/ERROR: user "bob" is locked until \S+: too many failed login attempts\n/);
    expect((await cluster.tsh(['status'])).stderr).toBe('ERROR: Not logged in.\n');
  });

  it('honours TELEPORT_PROXY/TELEPORT_USER and --ttl, writes the profile, and shows EXPIRED past the TTL', async () => {
    const secret = await completeInvite(await cluster.addUser('carol', ['--roles=access,auditor', '--logins=carol', '--db-users=carol_ro']), PASSWORD);
    const env = { TELEPORT_PROXY: cluster.proxyAddr, TELEPORT_USER: 'carol' };
    const login = await cluster.tsh(['login', '--insecure', '--ttl', '1'], { input: `${PASSWORD}\n${nextTotp(secret!)}\n`, env });
    expect(login.stderr).toBe('Enter password for Teleport user carol: \nEnter an OTP code from a device: \n');
    expect(login.code).toBe(0);
    expect(login.stdout).toContain('  Roles:              access, auditor\n');
    expect(login.stdout).toContain('  Database users:     carol_ro\n');
    expect(login.stdout).toMatch(/\[valid for (1m0s|0s)\]/);

    // Teleport's layout under TELEPORT_HOME.
    const home = cluster.tshHome;
    const keys = path.join(home, 'keys', '127.0.0.1');
    expect((await readFile(path.join(home, 'current-profile'), 'utf8')).trim()).toBe('127.0.0.1');
    const profile = await readFile(path.join(home, '127.0.0.1.yaml'), 'utf8');
    expect(profile).toContain(`web_proxy_addr: ${cluster.proxyAddr}\n`);
    expect(profile).toContain('site_name: e2e.example.com\n');
    expect(await readFile(path.join(keys, 'carol'), 'utf8')).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
    expect((await stat(path.join(keys, 'carol'))).mode & 0o777).toBe(0o600);
    expect((await stat(path.join(keys, 'carol.key'))).mode & 0o777).toBe(0o600);
    expect(await readFile(path.join(keys, 'carol.pub'), 'utf8')).toMatch(/^ssh-ed25519 /);
    expect(await readFile(path.join(keys, 'carol-x509.pem'), 'utf8')).toMatch(/^-----BEGIN CERTIFICATE-----/);
    expect(await readFile(path.join(keys, 'cas', 'e2e.example.com.pem'), 'utf8')).toMatch(/^-----BEGIN CERTIFICATE-----/);
    const certPath = path.join(keys, 'carol-ssh', 'e2e.example.com-cert.pub');
    expect(await readFile(certPath, 'utf8')).toMatch(/^ssh-ed25519-cert-v01@openssh\.com /);

    const envOut = await cluster.tsh(['env']);
    expect(envOut.stdout).toBe(`export TELEPORT_PROXY=${cluster.proxyAddr}\nexport TELEPORT_CLUSTER=e2e.example.com\n`);
    expect((await cluster.tsh(['env', '--unset'])).stdout).toBe('unset TELEPORT_PROXY\nunset TELEPORT_CLUSTER\n');

    // The same identity in a certificate whose TTL has passed (status reads the certificate, it does not verify it).
    const clock = newFakeClock(new Date(Date.now() - 2 * 3600_000));
    const ca = await generateKeyPair('ed25519');
    const expired = await issueSshUserCert({
      ca: ca.privateKeyPem,
      publicKey: await readFile(path.join(keys, 'carol.pub'), 'utf8'),
      username: 'carol',
      logins: ['carol'],
      roles: ['access', 'auditor'],
      traits: {},
      expires: new Date(Date.now() - 3600_000),
      clock,
    });
    await writeFile(certPath, `${formatSshCertificate(expired)}\n`);
    const status = await cluster.tsh(['status']);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/ {2}Valid until: {8}\S+ \S+ \+0000 UTC \[EXPIRED\]\n/);
    const json = JSON.parse((await cluster.tsh(['status', '--format=json'])).stdout);
    expect(json.active).toMatchObject({ username: 'carol', cluster: 'e2e.example.com', roles: ['access', 'auditor'] });
    expect(Date.parse(json.active.valid_until)).toBeLessThan(Date.now());

    expect((await cluster.tsh(['logout'])).stdout).toBe('Logged out all users from all proxies.\n');
    expect((await cluster.tsh(['logout'])).stdout).toBe('All users logged out.\n');
    expect((await cluster.tsh(['env'])).stderr).toBe('ERROR: Not logged in.\n');
  });
});

describe('tsh login when the cluster has no second factor', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startCluster({ secondFactor: 'off' });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('asks for the password only', async () => {
    expect(await completeInvite(await cluster.addUser('dave', ['--roles=access', '--logins=dave']), PASSWORD)).toBeUndefined();
    const login = await cluster.tsh(['login', `--proxy=${cluster.proxyAddr}`, '--user=dave', '--insecure'], { input: `${PASSWORD}\n` });
    expect(login.stderr).toBe('Enter password for Teleport user dave: \n');
    expect(login.code).toBe(0);
    expect(login.stdout).toContain('  Logged in as:       dave\n');
  });
});
