import { userInfo } from 'node:os';
import { requireTool } from '@teleport-ts/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newFakeClock, systemClock } from '../../clock/index.js';
import { generateKeyPair, type KeyAlgorithm, type KeyPairPem } from '../keys.js';
import { makeTempDir, runTool, type TempDir } from '../testing/run.js';
import { startSshd, type RunningSshd } from '../testing/sshd.js';
import { formatSshCertificate, sshCaSigner } from './certificate.js';
import { issueSshHostCert, issueSshUserCert, type SshCaInput } from './issue.js';
import { toOpenSshPrivateKey } from './privatekey.js';
import { parseSshPublicKey, sshFingerprint } from './publickey.js';

const sshd = requireTool('/usr/sbin/sshd', 'openssh-server');
const ssh = requireTool('ssh', 'openssh-client');

const HOUR = 3600_000;
/** As root, sshd can log anyone in and `root` always exists; otherwise sshd runs as us and only we can log in. */
const LOGIN = process.getuid?.() === 0 ? 'root' : userInfo().username;

interface LoginAttempt {
  dir: TempDir;
  port: number;
  key: KeyPairPem;
  cert: string;
  /** Default: no host key checking. */
  knownHosts?: string;
  login?: string;
}

let attempt = 0;

async function sshLogin(a: LoginAttempt) {
  const n = attempt++;
  const keyPath = await a.dir.write(`id-${n}`, toOpenSshPrivateKey(a.key.privateKeyPem));
  const certPath = await a.dir.write(`id-${n}-cert.pub`, a.cert + '\n');
  const hostChecking = a.knownHosts
    ? ['-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${await a.dir.write(`known_hosts-${n}`, a.knownHosts + '\n')}`]
    : ['-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null'];
  return runTool('ssh', [
    '-F', '/dev/null',
    '-i', keyPath,
    '-o', `CertificateFile=${certPath}`,
    '-o', 'IdentitiesOnly=yes',
    '-o', 'IdentityAgent=none',
    '-o', 'BatchMode=yes',
    '-o', 'PreferredAuthentications=publickey',
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'ConnectTimeout=10',
    '-o', 'LogLevel=ERROR',
    ...hostChecking,
    '-p', String(a.port),
    `${a.login ?? LOGIN}@127.0.0.1`,
    'true',
  ]);
}

describe.skipIf(!sshd.available || !ssh.available)('OpenSSH sshd and ssh accept our certificates', () => {
  const clock = systemClock;
  let dir: TempDir;
  const cas = {} as Record<KeyAlgorithm | 'other', KeyPairPem>;
  const keys = {} as Record<KeyAlgorithm, KeyPairPem>;
  let hostKey: KeyPairPem;
  let userSshd: RunningSshd;

  beforeAll(async () => {
    dir = await makeTempDir('tp-sshd-');
    [cas.ed25519, cas['ecdsa-p256'], cas['rsa-2048'], cas.other, keys.ed25519, keys['ecdsa-p256'], keys['rsa-2048'], hostKey] =
      await Promise.all([
        generateKeyPair('ed25519'),
        generateKeyPair('ecdsa-p256'),
        generateKeyPair('rsa-2048'),
        generateKeyPair('ed25519'),
        generateKeyPair('ed25519'),
        generateKeyPair('ecdsa-p256'),
        generateKeyPair('rsa-2048'),
        generateKeyPair('ed25519'),
      ]);
    userSshd = await startSshd({
      sshd: sshd.path!,
      dir,
      name: 'user',
      hostKey: toOpenSshPrivateKey(hostKey.privateKeyPem),
      trustedUserCaKeys: [cas.ed25519.sshPublicKey, cas['ecdsa-p256'].sshPublicKey, cas['rsa-2048'].sshPublicKey],
    });
  });
  afterAll(async () => {
    await userSshd?.stop();
    await dir?.remove();
  });

  const userCert = async (ca: SshCaInput, key: KeyPairPem, over: { logins?: string[]; clock?: typeof clock; ttl?: number } = {}) => {
    const at = over.clock ?? clock;
    const cert = await issueSshUserCert({
      ca,
      publicKey: key.sshPublicKey,
      username: 'alice',
      logins: over.logins ?? [LOGIN],
      roles: ['access'],
      traits: { logins: [LOGIN] },
      expires: new Date(at.now().getTime() + (over.ttl ?? HOUR)),
      clock: at,
    });
    return formatSshCertificate(cert);
  };

  const cases: Array<[KeyAlgorithm, KeyAlgorithm, 'rsa-sha2-256' | 'rsa-sha2-512' | undefined]> = [
    ['ed25519', 'ed25519', undefined],
    ['ecdsa-p256', 'rsa-2048', undefined],
    ['rsa-2048', 'ecdsa-p256', undefined],
    ['ed25519', 'rsa-2048', 'rsa-sha2-256'],
  ];
  for (const [keyAlg, caAlg, rsaSignatureAlgorithm] of cases) {
    it(`sshd accepts a ${keyAlg} key with a user certificate from a ${caAlg} CA${rsaSignatureAlgorithm ? ` (${rsaSignatureAlgorithm})` : ''}`, async () => {
      const ca = sshCaSigner(cas[caAlg].privateKeyPem, rsaSignatureAlgorithm ? { rsaSignatureAlgorithm } : {});
      const res = await sshLogin({ dir, port: userSshd.port, key: keys[keyAlg], cert: await userCert(ca, keys[keyAlg]) });
      expect(res.code, res.stderr).toBe(0);
      const caFingerprint = sshFingerprint(ca.publicKey.blob);
      expect(userSshd.log()).toMatch(new RegExp(`Accepted publickey for ${LOGIN} from 127\\.0\\.0\\.1 .* ID alice \\(serial 0\\) CA \\w+ ${caFingerprint.replace(/[+/]/g, '\\$&')}`));
    });
  }

  it('sshd refuses a user certificate from a CA it does not trust', async () => {
    const res = await sshLogin({ dir, port: userSshd.port, key: keys.ed25519, cert: await userCert(cas.other.privateKeyPem, keys.ed25519) });
    expect(res.code).toBe(255);
    expect(res.stderr).toMatch(/Permission denied \(publickey\)/);
    expect(userSshd.log()).toContain(`Failed publickey for ${LOGIN} from 127.0.0.1`);
    expect(userSshd.log()).toContain(`CA ED25519 ${sshFingerprint(parseSshPublicKey(cas.other.sshPublicKey).blob)}`);
  });

  it('sshd refuses an expired user certificate', async () => {
    const past = newFakeClock(new Date(Date.now() - 3 * HOUR));
    const res = await sshLogin({ dir, port: userSshd.port, key: keys.ed25519, cert: await userCert(cas.ed25519.privateKeyPem, keys.ed25519, { clock: past }) });
    expect(res.code).toBe(255);
    expect(res.stderr).toMatch(/Permission denied \(publickey\)/);
    expect(userSshd.log()).toMatch(/Certificate invalid: expired/);
  });

  it('sshd refuses a user certificate that does not list the login as a principal', async () => {
    const cert = await userCert(cas.ed25519.privateKeyPem, keys.ed25519, { logins: ['someone-else'] });
    const res = await sshLogin({ dir, port: userSshd.port, key: keys.ed25519, cert });
    expect(res.code).toBe(255);
    expect(res.stderr).toMatch(/Permission denied \(publickey\)/);
    expect(userSshd.log()).toMatch(/Certificate invalid: name is not a listed principal/);
  });

  describe('host certificates with @cert-authority', () => {
    let hostCa: KeyPairPem;
    let otherHostCa: KeyPairPem;
    const servers: RunningSshd[] = [];

    beforeAll(async () => {
      [hostCa, otherHostCa] = await Promise.all([generateKeyPair('ed25519'), generateKeyPair('ecdsa-p256')]);
    });
    afterAll(async () => {
      await Promise.all(servers.map((s) => s.stop()));
    });

    const serveWithHostCert = async (ca: KeyPairPem, principals: string[]) => {
      const hostCert = await issueSshHostCert({
        ca: ca.privateKeyPem,
        publicKey: hostKey.sshPublicKey,
        hostId: 'c0ffee00-0000-4000-8000-000000000001',
        clusterName: 'example.com',
        nodeName: 'node-1',
        systemRole: 'Node',
        additionalPrincipals: principals,
        clock,
      });
      const server = await startSshd({
        sshd: sshd.path!,
        dir,
        name: `host-${servers.length}`,
        hostKey: toOpenSshPrivateKey(hostKey.privateKeyPem),
        hostCertificate: formatSshCertificate(hostCert),
        trustedUserCaKeys: [cas.ed25519.sshPublicKey],
      });
      servers.push(server);
      return server;
    };
    const knownHosts = () => `@cert-authority [127.0.0.1]:*,127.0.0.1,localhost ${hostCa.sshPublicKey}`;

    it('ssh accepts an sshd presenting a host certificate from the trusted host CA', async () => {
      const server = await serveWithHostCert(hostCa, ['localhost', '127.0.0.1', '::1']);
      const res = await sshLogin({
        dir,
        port: server.port,
        key: keys.ed25519,
        cert: await userCert(cas.ed25519.privateKeyPem, keys.ed25519),
        knownHosts: knownHosts(),
      });
      expect(res.code, res.stderr).toBe(0);
    });

    it('ssh refuses an sshd whose host certificate is signed by another CA', async () => {
      const server = await serveWithHostCert(otherHostCa, ['localhost', '127.0.0.1', '::1']);
      const res = await sshLogin({
        dir,
        port: server.port,
        key: keys.ed25519,
        cert: await userCert(cas.ed25519.privateKeyPem, keys.ed25519),
        knownHosts: knownHosts(),
      });
      expect(res.code).toBe(255);
      expect(res.stderr).toMatch(/Host key verification failed/);
    });

    it('ssh refuses a host certificate that does not name the host', async () => {
      const server = await serveWithHostCert(hostCa, ['elsewhere.example.com']);
      const res = await sshLogin({
        dir,
        port: server.port,
        key: keys.ed25519,
        cert: await userCert(cas.ed25519.privateKeyPem, keys.ed25519),
        knownHosts: knownHosts(),
      });
      expect(res.code).toBe(255);
      expect(res.stderr).toMatch(/Host key verification failed/);
    });
  });
});
