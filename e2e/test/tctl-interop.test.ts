/**
 * What tctl writes, checked by the programs that consume it: openssl, a real PostgreSQL with TLS and client
 * certificate authentication (psql with verify-full), ssh-keygen, and a real OpenSSH sshd.
 */

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadIdentity, newAuthClient } from '@teleport-ts/core/api';
import { generateKeyPair } from '@teleport-ts/core/ca';
import { makeTestPki, requirePostgres, requireTool, startPostgres, type PostgresServer } from '@teleport-ts/testkit';
import { expectOneErrorLine, freePort, run, startCluster, type Cluster } from './tctl-harness.js';

const openssl = requireTool('openssl', 'openssl');
const psql = requireTool('psql', 'postgresql-client');
const sshKeygen = requireTool('ssh-keygen', 'openssh-client');
const ssh = requireTool('ssh', 'openssh-client');
const sshd = requireTool('sshd', 'openssh-server');
const postgres = requirePostgres();

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster({ clusterName: 'interop.example.com' });
});
afterAll(async () => {
  await cluster?.stop();
});

/** A db_client-signed certificate for a database user, issued through the typed client as the db agent would get one. */
async function databaseClientCert(dbUser: string, dir: string): Promise<{ cert: string; key: string }> {
  const keys = await generateKeyPair('rsa-2048');
  const client = newAuthClient({ addr: cluster.authAddr, identity: await loadIdentity(path.join(cluster.dataDir, 'admin')) });
  try {
    const issued = await client.generateDatabaseClientCert({ publicKey: keys.publicKeyPem, dbUser, ttl: 3_600_000 });
    const cert = path.join(dir, `${dbUser}.crt`);
    const key = path.join(dir, `${dbUser}.key`);
    await writeFile(cert, issued.cert);
    await writeFile(key, keys.privateKeyPem, { mode: 0o600 });
    return { cert, key };
  } finally {
    await client.close();
  }
}

/** psql as `user` over TLS with a client certificate, verifying the server against `rootCert`. */
function psqlAs(server: PostgresServer, user: string, files: { cert: string; key: string; rootCert: string }) {
  const conninfo = [
    'host=localhost',
    'hostaddr=127.0.0.1',
    `port=${server.port}`,
    'dbname=postgres',
    `user=${user}`,
    'sslmode=verify-full',
    `sslrootcert=${files.rootCert}`,
    `sslcert=${files.cert}`,
    `sslkey=${files.key}`,
    'connect_timeout=10',
  ].join(' ');
  return run(psql.path!, [conninfo, '-tAc', 'SELECT current_user'], { env: { ...process.env, PGPASSWORD: '', PGSERVICEFILE: '/dev/null' } });
}

/** PostgreSQL with `certFile`/`keyFile` as its server certificate and `caFile` as the client CA, `cert` auth only. */
function startTlsPostgres(tls: { certFile: string; keyFile: string; caFile: string }): Promise<PostgresServer> {
  return startPostgres({
    tls,
    hba: ['local all all trust', 'hostssl all all 127.0.0.1/32 cert', 'hostssl all all ::1/128 cert'],
  });
}

describe.skipIf(!openssl.available)('auth sign --format=db with openssl', () => {
  it('issues a server certificate openssl verifies against the exported db CA', async () => {
    const dir = cluster.dir;
    const out = path.join(dir, 'verify', 'server');
    const signed = await cluster.tctl(['auth', 'sign', '--format=db', '--host=localhost,127.0.0.1', `--out=${out}`, '--ttl=24h']);
    expect(signed.stderr).toBe('');
    expect(signed.stdout).toMatch(/^Database credentials have been written to .*server\.key, .*server\.crt, .*server\.cas\.\n/);
    expect(signed.stdout).toContain(`ssl_cert_file = '/path/to/${out}.crt'`);
    expect(signed.stdout).toContain('hostssl all             all             ::/0                    cert');
    expect((await stat(`${out}.key`)).mode & 0o777).toBe(0o600);
    // Teleport's tlsca issues both extended key usages.
    const text = await run(openssl.path!, ['x509', '-in', `${out}.crt`, '-noout', '-text']);
    expect(text.stdout).toMatch(/X509v3 Extended Key Usage: *\n\s*TLS Web Server Authentication, TLS Web Client Authentication\n/);

    const dbCa = path.join(dir, 'verify', 'db-ca.pem');
    const exported = await cluster.tctl(['auth', 'export', '--type=db', `--out=${dbCa}`]);
    expect(exported.code).toBe(0);
    const verify = await run(openssl.path!, ['verify', '-CAfile', dbCa, `${out}.crt`]);
    expect(verify.stdout).toBe(`${out}.crt: OK\n`);
    // The .cas file is the db_client CA, which signs what clients present: not the server's issuer.
    const wrong = await run(openssl.path!, ['verify', '-CAfile', `${out}.cas`, `${out}.crt`]);
    expect(wrong.code).not.toBe(0);
    const clientCa = await cluster.tctl(['auth', 'export', '--type=db-client']);
    expect(clientCa.stdout.trimEnd()).toBe((await readFile(`${out}.cas`, 'utf8')).trimEnd());

    // DER, to a file or raw on stdout, is the same certificate.
    const derFile = path.join(dir, 'verify', 'db-ca.der');
    expect((await cluster.tctl(['auth', 'export', '--type=db-der', `--out=${derFile}`])).code).toBe(0);
    const fingerprint = async (file: string, form: string) =>
      (await run(openssl.path!, ['x509', '-inform', form, '-in', file, '-noout', '-fingerprint', '-sha256'])).stdout;
    const pemPrint = await fingerprint(dbCa, 'PEM');
    expect(pemPrint).toMatch(/^sha256 Fingerprint=/i);
    expect(await fingerprint(derFile, 'DER')).toBe(pemPrint);
    const stdoutDer = await cluster.tctl(['auth', 'export', '--type=db-der']);
    expect(stdoutDer.raw.equals(await readFile(derFile))).toBe(true);
  });

  it('refuses to overwrite existing files without --overwrite, writing nothing', async () => {
    const out = path.join(cluster.dir, 'verify', 'again');
    await cluster.tctl(['auth', 'sign', '--format=db', '--host=localhost', `--out=${out}`]);
    const before = await readFile(`${out}.crt`, 'utf8');
    const refused = await cluster.tctl(['auth', 'sign', '--format=db', '--host=localhost', `--out=${out}`]);
    expect(expectOneErrorLine(refused)).toMatch(/^ERROR: refusing to overwrite existing file\(s\) .*again\.key, .*again\.crt, .*again\.cas: pass --overwrite/);
    expect(await readFile(`${out}.crt`, 'utf8')).toBe(before);
    expect((await cluster.tctl(['auth', 'sign', '--format=db', '--host=localhost', `--out=${out}`, '--overwrite'])).code).toBe(0);
    expect(await readFile(`${out}.crt`, 'utf8')).not.toBe(before);
  });
});

describe.skipIf(!postgres || !psql.available || !openssl.available)('a real PostgreSQL configured from tctl auth sign', () => {
  it('--format=db: accepts psql with a db_client certificate for alice (verify-full against the db CA) and refuses another CA', async () => {
    const dir = path.join(cluster.dir, 'pg-db');
    const out = path.join(dir, 'server');
    expect((await cluster.tctl(['auth', 'sign', '--format=db', '--host=localhost,127.0.0.1', `--out=${out}`])).code).toBe(0);
    const dbCa = path.join(dir, 'db-ca.pem');
    await writeFile(dbCa, (await cluster.tctl(['auth', 'export', '--type=db'])).stdout);
    const server = await startTlsPostgres({ certFile: `${out}.crt`, keyFile: `${out}.key`, caFile: `${out}.cas` });
    try {
      await server.query('CREATE ROLE alice LOGIN');
      const alice = await databaseClientCert('alice', dir);
      const ok = await psqlAs(server, 'alice', { ...alice, rootCert: dbCa });
      expect(ok.stderr).toBe('');
      expect(ok.stdout).toBe('alice\n');

      const other = await makeTestPki(path.join(dir, 'other-ca'), { clientCommonName: 'alice' });
      const refused = await psqlAs(server, 'alice', { cert: other.clientCert, key: other.clientKey, rootCert: dbCa });
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toMatch(/certificate|SSL|alert/i);

      // verify-full checks the server against the db CA: trusting another CA fails.
      const untrusted = await psqlAs(server, 'alice', { ...alice, rootCert: other.caCert });
      expect(untrusted.code).not.toBe(0);
    } finally {
      await server.destroy();
    }
  });

  it('--format=cockroachdb: node.crt/node.key serve TLS and ca-client.crt authenticates clients', async () => {
    const dir = path.join(cluster.dir, 'pg-roach');
    const out = path.join(dir, 'certs');
    const signed = await cluster.tctl(['auth', 'sign', '--format=cockroachdb', '--host=localhost,127.0.0.1', `--out=${out}`]);
    expect(signed.stdout).toBe(
      `Database credentials have been written to ${out}/node.crt, ${out}/node.key, ${out}/ca.crt, ${out}/ca-client.crt.\n\n` +
        'To enable mutual TLS on your CockroachDB server, point it to the certs\ndirectory using --certs-dir flag:\n\n' +
        `cockroach start \\\n  --certs-dir=${out} \\\n  # other flags...\n`,
    );
    const subject = await run(openssl.path!, ['x509', '-in', path.join(out, 'node.crt'), '-noout', '-subject', '-ext', 'subjectAltName']);
    expect(subject.stdout).toMatch(/subject=CN ?= ?node\n/);
    expect(subject.stdout).toContain('DNS:node, DNS:localhost, IP Address:127.0.0.1');
    // Nodes dial each other with node.crt: it must pass as a TLS client and a TLS server certificate.
    const text = await run(openssl.path!, ['x509', '-in', path.join(out, 'node.crt'), '-noout', '-text']);
    expect(text.stdout).toMatch(/X509v3 Extended Key Usage: *\n\s*TLS Web Server Authentication, TLS Web Client Authentication\n/);
    const purpose = await run(openssl.path!, ['x509', '-in', path.join(out, 'node.crt'), '-noout', '-purpose']);
    expect(purpose.stdout).toMatch(/^SSL client : Yes$/m);
    expect(purpose.stdout).toMatch(/^SSL server : Yes$/m);
    const server = await startTlsPostgres({ certFile: path.join(out, 'node.crt'), keyFile: path.join(out, 'node.key'), caFile: path.join(out, 'ca-client.crt') });
    try {
      await server.query('CREATE ROLE alice LOGIN');
      const alice = await databaseClientCert('alice', dir);
      const ok = await psqlAs(server, 'alice', { ...alice, rootCert: path.join(out, 'ca.crt') });
      expect(ok.stderr).toBe('');
      expect(ok.stdout).toBe('alice\n');
      const other = await makeTestPki(path.join(dir, 'other-ca'), { clientCommonName: 'alice' });
      expect((await psqlAs(server, 'alice', { cert: other.clientCert, key: other.clientKey, rootCert: path.join(out, 'ca.crt') })).code).not.toBe(0);
    } finally {
      await server.destroy();
    }
  });
});

describe.skipIf(!sshKeygen.available)('auth sign --format=openssh with ssh-keygen', () => {
  it('writes a user certificate ssh-keygen reads', async () => {
    await cluster.tctl(['users', 'add', 'keygen', '--roles=access', '--logins=ubuntu,root']);
    const out = path.join(cluster.dir, 'keygen', 'keygen');
    const signed = await cluster.tctl(['auth', 'sign', '--user=keygen', '--format=openssh', `--out=${out}`, '--ttl=1h']);
    expect(signed.stdout).toBe(`\nThe credentials have been written to ${out}, ${out}-cert.pub\n`);
    expect((await stat(out)).mode & 0o777).toBe(0o600);
    const listed = await run(sshKeygen.path!, ['-L', '-f', `${out}-cert.pub`]);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain('Type: ssh-ed25519-cert-v01@openssh.com user certificate');
    expect(listed.stdout).toContain('Key ID: "keygen"');
    expect(listed.stdout).toMatch(/Principals: \n\s+ubuntu\n\s+root\n/);
    // The private key is the one the certificate certifies.
    const fingerprint = /SHA256:[A-Za-z0-9+/]+/.exec((await run(sshKeygen.path!, ['-l', '-f', out])).stdout)?.[0];
    expect(fingerprint).toBeDefined();
    expect(listed.stdout).toContain(`Public key: ED25519-CERT ${fingerprint}`);
  });
});

/**
 * Runs a real sshd with `trust` lines (TrustedUserCAKeys / AuthorizedKeysFile) for the duration of `fn`; it presents
 * `host.key` (and `host.certificate`) when given, else a plain key of its own.
 */
async function withSshd(dir: string, trust: string[], fn: (port: number) => Promise<void>, host: { key?: string; certificate?: string } = {}): Promise<void> {
  const hostKey = host.key ?? path.join(dir, 'host_key');
  if (!existsSync(hostKey)) expect((await run(sshKeygen.path!, ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey])).code).toBe(0);
  const port = await freePort();
  const config = path.join(dir, `sshd_config_${port}`);
  await writeFile(
    config,
    [
      `ListenAddress 127.0.0.1:${port}`,
      `HostKey ${hostKey}`,
      ...(host.certificate ? [`HostCertificate ${host.certificate}`] : []),
      ...trust,
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      'PermitRootLogin prohibit-password',
      'StrictModes no',
      'UsePAM no',
      'UseDNS no',
      'LogLevel DEBUG1',
      `PidFile ${path.join(dir, `sshd_${port}.pid`)}`,
      '',
    ].join('\n'),
  );
  if (process.getuid?.() === 0 && !existsSync('/run/sshd')) mkdirSync('/run/sshd', { mode: 0o755, recursive: true });
  const daemon = spawn(sshd.path!, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  daemon.stderr.on('data', (b: Buffer) => (log += b.toString()));
  const exited = new Promise<void>((resolve) => daemon.once('exit', () => resolve()));
  try {
    const deadline = Date.now() + 10_000;
    while (!log.includes(`Server listening on 127.0.0.1 port ${port}`)) {
      if (daemon.exitCode !== null || Date.now() > deadline) throw new Error(`sshd did not start:\n${log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    await fn(port);
  } catch (err) {
    throw new Error(`${(err as Error).message}\nsshd log:\n${log.split('\n').filter((l) => /publickey|CA|cert|authorized|trusted/i.test(l)).join('\n')}`, { cause: err });
  } finally {
    daemon.kill('SIGTERM');
    await exited;
  }
}

describe.skipIf(!sshd.available || !ssh.available || !sshKeygen.available)('a real sshd trusting tctl auth export --type=user', () => {
  const login = os.userInfo().username;
  let dir: string;
  let key: string;
  let exported: string;
  let otherKey: string;

  beforeAll(async () => {
    dir = path.join(cluster.dir, 'sshd');
    mkdirSync(dir, { recursive: true });
    await cluster.tctl(['users', 'add', 'sshuser', '--roles=access', `--logins=${login}`]);
    key = path.join(dir, 'sshuser');
    expect((await cluster.tctl(['auth', 'sign', '--user=sshuser', '--format=openssh', `--out=${key}`])).code).toBe(0);
    exported = (await cluster.tctl(['auth', 'export', '--type=user'])).stdout;
    // A certificate for the same login from a CA the cluster never heard of.
    const otherCa = path.join(dir, 'other_ca');
    otherKey = path.join(dir, 'other');
    await run(sshKeygen.path!, ['-q', '-t', 'ed25519', '-N', '', '-f', otherCa]);
    await run(sshKeygen.path!, ['-q', '-t', 'ed25519', '-N', '', '-f', otherKey]);
    await run(sshKeygen.path!, ['-q', '-s', otherCa, '-I', 'other', '-n', login, '-V', '+1h', `${otherKey}.pub`]);
  });

  const sshTo = (port: number, identity: string) =>
    run(ssh.path!, [
      '-F', '/dev/null',
      '-i', identity,
      '-o', `CertificateFile=${identity}-cert.pub`,
      '-o', 'IdentitiesOnly=yes',
      '-o', 'StrictHostKeyChecking=no',
      '-o', `UserKnownHostsFile=${path.join(dir, 'known_hosts')}`,
      '-o', 'BatchMode=yes',
      '-o', 'PasswordAuthentication=no',
      '-p', String(port),
      `${login}@127.0.0.1`,
      'echo teleport-ts-ok',
    ]);

  it("exports the user CA in Teleport's authorized_keys form", () => {
    expect(exported).toMatch(/^cert-authority ssh-ed25519 [A-Za-z0-9+/=]+ clustername=interop\.example\.com&type=user\n\n$/);
  });

  it('TrustedUserCAKeys with the exported keys (without the authorized_keys option, as Teleport documents) accepts our certificate only', async () => {
    // sshd reads bare public keys in TrustedUserCAKeys; Teleport's guide strips the option with
    // `sed s/cert-authority\ //`, which is what this does.
    const caFile = path.join(dir, 'teleport_user_ca.pub');
    await writeFile(caFile, exported.replace(/^cert-authority /gm, ''));
    await withSshd(dir, [`TrustedUserCAKeys ${caFile}`, 'AuthorizedKeysFile none'], async (port) => {
      const ok = await sshTo(port, key);
      expect(ok.stdout, ok.stderr).toBe('teleport-ts-ok\n');
      const refused = await sshTo(port, otherKey);
      expect(refused.code).not.toBe(0);
      expect(refused.stdout).toBe('');
    });
  });

  it('the export as it is works as an authorized_keys file (cert-authority)', async () => {
    const authorizedKeys = path.join(dir, 'authorized_keys');
    await writeFile(authorizedKeys, exported);
    await withSshd(dir, [`AuthorizedKeysFile ${authorizedKeys}`], async (port) => {
      const ok = await sshTo(port, key);
      expect(ok.stdout, ok.stderr).toBe('teleport-ts-ok\n');
      expect((await sshTo(port, otherKey)).code).not.toBe(0);
    });
  });
});

describe.skipIf(!sshd.available || !ssh.available || !sshKeygen.available)('auth sign --host --format=openssh: an sshd host certificate', () => {
  const login = os.userInfo().username;
  const alias = 'db1.interop.example.com';
  let dir: string;
  let userKey: string;
  let userCa: string;
  let knownHosts: string;
  let hostKey: string;

  beforeAll(async () => {
    dir = path.join(cluster.dir, 'hostcert');
    mkdirSync(dir, { recursive: true });
    await cluster.tctl(['users', 'add', 'hostcheck', '--roles=access', `--logins=${login}`]);
    userKey = path.join(dir, 'hostcheck');
    expect((await cluster.tctl(['auth', 'sign', '--user=hostcheck', '--format=openssh', `--out=${userKey}`])).code).toBe(0);
    userCa = path.join(dir, 'user_ca.pub');
    await writeFile(userCa, (await cluster.tctl(['auth', 'export', '--type=user'])).stdout.replace(/^cert-authority /gm, ''));
    // What a client puts in known_hosts, as exported.
    knownHosts = path.join(dir, 'known_hosts');
    const exported = (await cluster.tctl(['auth', 'export', '--type=host'])).stdout;
    expect(exported).toMatch(/^@cert-authority interop\.example\.com,\*\.interop\.example\.com ssh-ed25519 [A-Za-z0-9+/=]+ type=host\n/);
    await writeFile(knownHosts, exported);
    hostKey = path.join(dir, 'db1');
  });

  /** ssh with strict host key checking against the exported host CA only; the host is looked up as `hostName`. */
  const sshStrict = (port: number, hostName: string) =>
    run(ssh.path!, [
      '-F', '/dev/null',
      '-i', userKey,
      '-o', `CertificateFile=${userKey}-cert.pub`,
      '-o', 'IdentitiesOnly=yes',
      '-o', 'IdentityAgent=none',
      '-o', 'StrictHostKeyChecking=yes',
      '-o', `UserKnownHostsFile=${knownHosts}`,
      '-o', 'GlobalKnownHostsFile=/dev/null',
      '-o', `HostKeyAlias=${hostName}`,
      '-o', 'BatchMode=yes',
      '-o', 'PasswordAuthentication=no',
      '-p', String(port),
      `${login}@127.0.0.1`,
      'echo teleport-ts-ok',
    ]);

  it('writes a host key and a host certificate for the names, ssh-keygen -L shows them, and the sshd_config lines are printed', async () => {
    const signed = await cluster.tctl(['auth', 'sign', `--host=${alias},localhost,127.0.0.1`, '--format=openssh', `--out=${hostKey}`, '--ttl=1h']);
    expect(signed.stderr).toBe('');
    expect(signed.stdout).toBe(
      `\nThe credentials have been written to ${hostKey}, ${hostKey}-cert.pub\n\n` +
        'To use them with OpenSSH, copy both files to /etc/ssh/ on the host and add the following to its sshd_config:\n\n' +
        'HostKey /etc/ssh/db1\nHostCertificate /etc/ssh/db1-cert.pub\n\n' +
        'then restart sshd. Clients trust the certificate with the @cert-authority line of "tctl auth export --type=host"\nin their known_hosts file.\n',
    );
    expect((await stat(hostKey)).mode & 0o777).toBe(0o600);
    const listed = await run(sshKeygen.path!, ['-L', '-f', `${hostKey}-cert.pub`]);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain('Type: ssh-ed25519-cert-v01@openssh.com host certificate');
    expect(listed.stdout).toMatch(new RegExp(`Principals: \\n\\s+${alias.replace(/\./g, '\\.')}\\n\\s+localhost\\n\\s+127\\.0\\.0\\.1\\n`));
    // ssh-keygen prints extensions it does not know as hex: the string "Node".
    expect(listed.stdout).toContain(`x-teleport-role UNKNOWN OPTION: 00000004${Buffer.from('Node').toString('hex')}`);
    const fingerprint = /SHA256:[A-Za-z0-9+/]+/.exec((await run(sshKeygen.path!, ['-l', '-f', hostKey])).stdout)?.[0];
    expect(listed.stdout).toContain(`Public key: ED25519-CERT ${fingerprint}`);
  });

  it('ssh with StrictHostKeyChecking=yes and only the exported @cert-authority line accepts the sshd presenting it', async () => {
    await withSshd(
      dir,
      [`TrustedUserCAKeys ${userCa}`, 'AuthorizedKeysFile none'],
      async (port) => {
        const ok = await sshStrict(port, alias);
        expect(ok.stdout, ok.stderr).toBe('teleport-ts-ok\n');
        // A name the certificate does not list is refused, even under the cluster's *.interop.example.com pattern.
        const otherName = await sshStrict(port, 'db2.interop.example.com');
        expect(otherName.code).not.toBe(0);
        expect(otherName.stdout).toBe('');
      },
      { key: hostKey, certificate: `${hostKey}-cert.pub` },
    );
  });

  it('the same sshd without the certificate is refused', async () => {
    await withSshd(dir, [`TrustedUserCAKeys ${userCa}`, 'AuthorizedKeysFile none'], async (port) => {
      const refused = await sshStrict(port, alias);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toMatch(/Host key verification failed/);
    }, { key: hostKey });
  });
});
