import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadIdentity, writeIdentity, type Identity } from './identity.js';

const CERT = (n: number): string => `-----BEGIN CERTIFICATE-----\n${Buffer.from(`certificate ${n}`).toString('base64')}\n-----END CERTIFICATE-----\n`;

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

describe('identity files', () => {
  it('writes keys 0600 in a 0700 directory and reads back the same identity', async () => {
    const base = await mkdtemp(path.join(tmpdir(), 'tp-identity-'));
    dirs.push(base);
    const dir = path.join(base, 'admin');
    const identity: Identity = {
      key: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n',
      cert: CERT(1),
      caCerts: [CERT(2), CERT(3)],
      sshKey: '-----BEGIN OPENSSH PRIVATE KEY-----\nBBBB\n-----END OPENSSH PRIVATE KEY-----\n',
      sshCert: 'ssh-ed25519-cert-v01@openssh.com AAAA host',
      sshCaKeys: ['ssh-ed25519 AAAA ca1', 'ssh-ed25519 BBBB ca2'],
      clusterName: 'example.com',
      authServers: ['127.0.0.1:3025'],
    };
    await writeIdentity(dir, identity);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(path.join(dir, 'key.pem'))).mode & 0o777).toBe(0o600);
    expect((await stat(path.join(dir, 'ssh_key'))).mode & 0o777).toBe(0o600);
    expect((await stat(path.join(dir, 'cert.pem'))).mode & 0o777).toBe(0o644);
    expect(await loadIdentity(dir)).toEqual(identity);

    // Rewriting without the SSH parts removes them: a directory never mixes two identities.
    await writeIdentity(dir, { key: identity.key, cert: CERT(4), caCerts: [CERT(2)] });
    expect(await loadIdentity(dir)).toEqual({ key: identity.key, cert: CERT(4), caCerts: [CERT(2)] });
    expect((await readdir(dir)).sort()).toEqual(['ca.pem', 'cert.pem', 'identity.json', 'key.pem']);
  });

  it('reports a missing identity as not-found, and a CA file without certificates', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'tp-identity-'));
    dirs.push(dir);
    await expect(loadIdentity(dir)).rejects.toMatchObject({ kind: 'not-found' });
    await writeFile(path.join(dir, 'key.pem'), 'k');
    await writeFile(path.join(dir, 'cert.pem'), 'c');
    await writeFile(path.join(dir, 'ca.pem'), 'nothing here');
    await expect(loadIdentity(dir)).rejects.toMatchObject({ kind: 'bad-parameter' });
  });
});
