import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  formatSshCertificate,
  issueDatabaseServerCert,
  issueOpenSshHostCert,
  issueSshUserCert,
  issueUserCert,
  newCertAuthority,
  parseSshCertificate,
  sshSigningKeyPair,
  tlsSigningKeyPair,
  type CertAuthority,
  type CertAuthorityType,
} from '@teleport-ts/core/ca';
import { newFakeClock } from '@teleport-ts/core/clock';
import { checkOptions, handler, render, type SignApi } from './auth-sign.js';

const clock = newFakeClock(new Date());
const cas = new Map<CertAuthorityType, CertAuthority>();
for (const type of ['host', 'user', 'db', 'db_client'] as const) {
  cas.set(type, await newCertAuthority({ clusterName: 'example.com', type, clock }));
}
const tlsCert = (type: CertAuthorityType): string => cas.get(type)!.spec.active_keys.tls[0]!.cert;
const requests: unknown[] = [];

const api: SignApi = {
  ping: async () => ({ clusterName: 'example.com', serverVersion: '0.1.0', authPreference: { type: 'local', secondFactor: 'otp' } }),
  generateDatabaseCert: async (req) => {
    requests.push(req);
    const cert = await issueDatabaseServerCert({
      ca: tlsSigningKeyPair(cas.get('db')!),
      publicKey: req.publicKey,
      hosts: req.hosts,
      expires: new Date(clock.now().getTime() + req.ttl!),
      clock,
      clientAuth: req.clientAuth === true,
    });
    return { cert, caCerts: [tlsCert('db')], clientCaCerts: [tlsCert('db_client')] };
  },
  generateHostCert: async (req) => {
    requests.push(req);
    const host = cas.get('host')!;
    const cert = await issueOpenSshHostCert({
      ca: sshSigningKeyPair(host).private_key,
      publicKey: req.sshPublicKey,
      principals: req.principals,
      clusterName: 'example.com',
      expires: new Date(clock.now().getTime() + req.ttl!),
      clock,
    });
    return { sshCert: formatSshCertificate(cert), sshCaKeys: host.spec.active_keys.ssh.map((k) => k.public_key) };
  },
  generateUserCerts: async (req) => {
    requests.push(req);
    const expires = new Date(clock.now().getTime() + req.ttl!);
    const ssh = await issueSshUserCert({
      ca: sshSigningKeyPair(cas.get('user')!).private_key,
      publicKey: req.sshPublicKey,
      username: req.user,
      logins: ['root'],
      roles: ['access'],
      expires,
      clock,
    });
    const tls = await issueUserCert({
      ca: tlsSigningKeyPair(cas.get('user')!),
      publicKey: req.tlsPublicKey,
      identity: { username: req.user, roles: ['access'], logins: ['root'], traits: {}, expires },
      clock,
    });
    const host = cas.get('host')!;
    return {
      sshCert: formatSshCertificate(ssh),
      tlsCert: tls,
      tlsCaCerts: [tlsCert('host')],
      sshCaKeys: host.spec.active_keys.ssh.map((k) => k.public_key),
    };
  },
};

const dirs: string[] = [];
afterEach(async () => {
  requests.length = 0;
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});
async function tempDir(): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), 'tctl-sign-'));
  dirs.push(d);
  return d;
}

describe('tctl auth sign --format=db', () => {
  it('writes key, certificate and client CA, and prints the PostgreSQL next step', async () => {
    const dir = await tempDir();
    const out = path.join(dir, 'server');
    const result = await handler(api, { host: 'localhost,127.0.0.1', out, format: 'db', ttl: '24h' });
    expect(result.files).toEqual([`${out}.key`, `${out}.crt`, `${out}.cas`]);
    expect(requests[0]).toMatchObject({ hosts: ['localhost', '127.0.0.1'], ttl: 24 * 3_600_000, clientAuth: true });
    const key = await readFile(`${out}.key`, 'utf8');
    expect(key).toMatch(/^-----BEGIN RSA PRIVATE KEY-----\n/);
    expect((await stat(`${out}.key`)).mode & 0o777).toBe(0o600);
    const cert = new X509Certificate(await readFile(`${out}.crt`));
    expect(cert.subject).toBe('CN=localhost');
    expect(cert.subjectAltName).toBe('DNS:localhost, IP Address:127.0.0.1');
    expect(cert.verify(new X509Certificate(tlsCert('db')).publicKey)).toBe(true);
    expect(cert.checkPrivateKey(createPrivateKey(key))).toBe(true);
    expect(await readFile(`${out}.cas`, 'utf8')).toBe(tlsCert('db_client'));
    const text = render(result);
    expect(text).toContain(`Database credentials have been written to ${out}.key, ${out}.crt, ${out}.cas.\n`);
    expect(text).toContain(`ssl_cert_file = '/path/to/${out}.crt'\nssl_key_file = '/path/to/${out}.key'\nssl_ca_file = '/path/to/${out}.cas'\n`);
    expect(text).toContain('hostssl all             all             ::/0                    cert\n');
  });

  it('refuses to overwrite existing files unless --overwrite, writing nothing', async () => {
    const dir = await tempDir();
    const out = path.join(dir, 'server');
    await handler(api, { host: 'localhost', out, format: 'db' });
    const before = await readFile(`${out}.crt`, 'utf8');
    await expect(handler(api, { host: 'localhost', out, format: 'db' })).rejects.toThrow(/^refusing to overwrite existing file\(s\) .*server\.key, .*server\.crt, .*server\.cas: pass --overwrite/);
    expect(await readFile(`${out}.crt`, 'utf8')).toBe(before);
    await handler(api, { host: 'localhost', out, format: 'db', overwrite: true });
    expect(await readFile(`${out}.crt`, 'utf8')).not.toBe(before);
    expect(await readdir(dir)).toEqual(['server.cas', 'server.crt', 'server.key']);
  });

  it('needs --host', async () => {
    await expect(handler(api, { out: '/nonexistent/x', format: 'db' })).rejects.toThrow('at least one hostname must be specified via --host flag');
  });
});

describe('tctl auth sign --format=cockroachdb', () => {
  it('writes the certs directory cockroach expects, with node as the common name', async () => {
    const dir = await tempDir();
    const out = path.join(dir, 'certs');
    const result = await handler(api, { host: 'roach.example.com,localhost', out, format: 'cockroachdb' });
    expect(result.files).toEqual(['node.crt', 'node.key', 'ca.crt', 'ca-client.crt'].map((f) => path.join(out, f)));
    const cert = new X509Certificate(await readFile(path.join(out, 'node.crt')));
    expect(cert.subject).toBe('CN=node');
    expect(cert.subjectAltName).toBe('DNS:node, DNS:roach.example.com, DNS:localhost');
    // Nodes present node.crt to each other, so it is a client certificate too.
    expect(requests[0]).toMatchObject({ hosts: ['node', 'roach.example.com', 'localhost'], clientAuth: true });
    expect(await readFile(path.join(out, 'ca.crt'), 'utf8')).toBe(tlsCert('db'));
    expect(await readFile(path.join(out, 'ca-client.crt'), 'utf8')).toBe(tlsCert('db_client'));
    expect((await stat(path.join(out, 'node.key'))).mode & 0o777).toBe(0o600);
    expect(render(result)).toContain(`cockroach start \\\n  --certs-dir=${out} \\\n`);
  });
});

describe('tctl auth sign for users', () => {
  it('--format=openssh writes an OpenSSH key and a user certificate', async () => {
    const dir = await tempDir();
    const out = path.join(dir, 'alice');
    const result = await handler(api, { user: 'alice', out, format: 'openssh', ttl: '1h' });
    expect(result.files).toEqual([out, `${out}-cert.pub`]);
    expect(await readFile(out, 'utf8')).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
    const cert = parseSshCertificate(await readFile(`${out}-cert.pub`, 'utf8'));
    expect(cert.keyId).toBe('alice');
    expect(render(result)).toBe(`\nThe credentials have been written to ${out}, ${out}-cert.pub\n`);
  });

  it('--format=file writes one identity file with key, certificates and the host CA', async () => {
    const dir = await tempDir();
    const out = path.join(dir, 'identity');
    await handler(api, { user: 'alice', out });
    const text = await readFile(out, 'utf8');
    expect(text).toMatch(/^-----BEGIN EC PRIVATE KEY-----\n[\s\S]*-----END EC PRIVATE KEY-----\necdsa-sha2-nistp256-cert-v01@openssh\.com /);
    expect(text).toContain('@cert-authority example.com,*.example.com ssh-ed25519 ');
    expect(text.match(/-----BEGIN CERTIFICATE-----/g)).toHaveLength(2);
  });

  it('--format=tls writes the user certificate and the host CA', async () => {
    const dir = await tempDir();
    const out = path.join(dir, 'alice');
    const result = await handler(api, { user: 'alice', out, format: 'tls' });
    expect(result.files).toEqual([`${out}.key`, `${out}.crt`, `${out}.cas`]);
    expect(await readFile(`${out}.cas`, 'utf8')).toBe(tlsCert('host'));
  });

  it('--host with openssh writes an OpenSSH host key and a host certificate for the names, and the sshd_config lines', async () => {
    const dir = await tempDir();
    const out = path.join(dir, 'db1');
    const result = await handler(api, { host: 'db1.example.com,10.0.0.7', out, format: 'openssh', ttl: '24h' });
    expect(requests[0]).toMatchObject({ principals: ['db1.example.com', '10.0.0.7'], ttl: 24 * 3_600_000 });
    expect(result.files).toEqual([out, `${out}-cert.pub`]);
    expect(await readFile(out, 'utf8')).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
    expect((await stat(out)).mode & 0o777).toBe(0o600);
    const cert = parseSshCertificate(await readFile(`${out}-cert.pub`, 'utf8'));
    expect(cert.certType).toBe('host');
    expect(cert.validPrincipals).toEqual(['db1.example.com', '10.0.0.7']);
    expect(render(result)).toBe(
      `\nThe credentials have been written to ${out}, ${out}-cert.pub\n\n` +
        'To use them with OpenSSH, copy both files to /etc/ssh/ on the host and add the following to its sshd_config:\n\n' +
        'HostKey /etc/ssh/db1\nHostCertificate /etc/ssh/db1-cert.pub\n\n' +
        'then restart sshd. Clients trust the certificate with the @cert-authority line of "tctl auth export --type=host"\nin their known_hosts file.\n',
    );
  });

  it('--host refuses formats other than openssh', () => {
    expect(() => checkOptions({ host: 'db1', out: 'x', format: 'file' })).toThrow('invalid --format flag "file", only "openssh" is supported with --host');
  });

  it('refuses --user and --host together, and neither', async () => {
    await expect(handler(api, { user: 'a', host: 'b', out: 'x', format: 'openssh' })).rejects.toThrow('not both');
    await expect(handler(api, { out: 'x', format: 'openssh' })).rejects.toThrow('--user or --host must be specified');
    await expect(handler(api, { user: 'a', out: 'x', format: 'pkcs12' })).rejects.toThrow('unsupported --format "pkcs12"');
  });
});

describe('tctl auth sign --ttl', () => {
  it('refuses a lifetime past 8760h', () => {
    expect(() => checkOptions({ user: 'alice', out: 'x', ttl: '999999h' })).toThrow(/^--ttl must not be longer than 8760h$/);
    expect(() => checkOptions({ host: 'db1', out: 'x', format: 'db', ttl: '999999h' })).toThrow(/^--ttl must not be longer than 8760h$/);
  });
});
