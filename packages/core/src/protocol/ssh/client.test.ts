import { connect } from 'node:net';
import { userInfo } from 'node:os';
import { requireTool } from '@teleport-ts/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newFakeClock, systemClock } from '../../clock/index.js';
import { isTeleportError } from '../../errors/index.js';
import { generateKeyPair, type KeyPairPem } from '../../ca/keys.js';
import { makeTempDir, type TempDir } from '../../ca/testing/run.js';
import { startSshd, type RunningSshd } from '../../ca/testing/sshd.js';
import { formatSshCertificate } from '../../ca/sshca/certificate.js';
import { issueSshHostCert, issueSshUserCert } from '../../ca/sshca/issue.js';
import { toOpenSshPrivateKey } from '../../ca/sshca/privatekey.js';
import { connectSsh, type SshClientOptions } from './client.js';

const sshd = requireTool('/usr/sbin/sshd', 'openssh-server');
const LOGIN = process.getuid?.() === 0 ? 'root' : userInfo().username;
const HOUR = 3600_000;

function run(client: import('ssh2').Client, command: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    client.exec(command, (err, channel) => {
      if (err) return reject(err);
      let out = '';
      channel.on('data', (d: Buffer) => (out += d.toString()));
      channel.stderr.resume();
      channel.on('exit', (code: number) => channel.on('close', () => resolve({ code, out })));
    });
  });
}

describe.skipIf(!sshd.available)('connectSsh against OpenSSH sshd (user certificate, host certificate)', () => {
  let dir: TempDir;
  let userCa: KeyPairPem, hostCa: KeyPairPem, otherCa: KeyPairPem, hostKey: KeyPairPem, ed: KeyPairPem, ec: KeyPairPem;
  let server: RunningSshd;
  let bare: RunningSshd;

  beforeAll(async () => {
    dir = await makeTempDir('tp-sshclient-');
    [userCa, hostCa, otherCa, hostKey, ed, ec] = await Promise.all([
      generateKeyPair('ed25519'),
      generateKeyPair('ed25519'),
      generateKeyPair('ed25519'),
      generateKeyPair('ed25519'),
      generateKeyPair('ed25519'),
      generateKeyPair('ecdsa-p256'),
    ]);
    const hostCert = await issueSshHostCert({
      ca: hostCa.privateKeyPem, publicKey: hostKey.sshPublicKey, hostId: 'c0ffee00-0000-4000-8000-000000000002',
      clusterName: 'example.com', nodeName: 'node-1', systemRole: 'Node', additionalPrincipals: ['127.0.0.1'], clock: systemClock,
    });
    const common = { sshd: sshd.path!, dir, hostKey: toOpenSshPrivateKey(hostKey.privateKeyPem), trustedUserCaKeys: [userCa.sshPublicKey] };
    [server, bare] = await Promise.all([
      startSshd({ ...common, name: 'cert', hostCertificate: formatSshCertificate(hostCert) }),
      startSshd({ ...common, name: 'bare' }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([server?.stop(), bare?.stop()]);
    await dir?.remove();
  });

  const userCert = async (key: KeyPairPem, over: { clock?: typeof systemClock; ca?: KeyPairPem } = {}) =>
    formatSshCertificate(await issueSshUserCert({
      ca: (over.ca ?? userCa).privateKeyPem, publicKey: key.sshPublicKey, username: 'alice', logins: [LOGIN], roles: ['access'],
      expires: new Date((over.clock ?? systemClock).now().getTime() + HOUR), clock: over.clock ?? systemClock,
    }));
  const options = async (port: number, over: Partial<SshClientOptions> = {}): Promise<SshClientOptions> => ({
    sock: connect(port, '127.0.0.1'), login: LOGIN, privateKey: ed.privateKeyPem, certificate: await userCert(ed),
    hostCaKeys: [hostCa.sshPublicKey], hostPrincipal: 'node-1', ...over,
  });

  it('logs in with an Ed25519 user certificate, checks the host certificate and runs a command', async () => {
    const { client, hostCertificate } = await connectSsh(await options(server.port));
    expect(hostCertificate.validPrincipals).toContain('node-1');
    expect(await run(client, 'echo hi; exit 3')).toEqual({ code: 3, out: 'hi\n' });
    client.end();
    expect(server.log()).toMatch(new RegExp(`Accepted publickey for ${LOGIN} from 127\\.0\\.0\\.1 .*ED25519-CERT .*ID alice`));
  });

  it('logs in with an ECDSA P-256 user certificate', async () => {
    const { client } = await connectSsh(await options(server.port, { privateKey: toOpenSshPrivateKey(ec.privateKeyPem), certificate: await userCert(ec) }));
    expect((await run(client, 'true')).code).toBe(0);
    client.end();
  });

  const refusal = async (opts: SshClientOptions) => {
    const err: unknown = await connectSsh(opts).then(() => undefined, (e: unknown) => e);
    expect(isTeleportError(err)).toBe(true);
    return err as Error & { code: string };
  };

  it('refuses a host certificate from another CA, and a host principal the certificate does not list', async () => {
    expect((await refusal(await options(server.port, { hostCaKeys: [otherCa.sshPublicKey] }))).code).toBe('ERR_TP_SSH_UNTRUSTED_CA');
    const err = await refusal(await options(server.port, { hostPrincipal: 'node-2' }));
    expect([err.code, err.message]).toEqual(['ERR_TP_SSH_PRINCIPAL', 'SSH certificate is not valid for principal "node-2"']);
  });

  it('refuses a server without a host certificate (no trust on first use)', async () => {
    const err = await refusal(await options(bare.port));
    expect([err.code, err.message]).toEqual(['ERR_TP_SSH_HOST_KEY', 'ssh: the host did not present a host certificate']);
  });

  it('reports a refused user certificate', async () => {
    const past = newFakeClock(new Date(Date.now() - 3 * HOUR));
    const err = await refusal(await options(server.port, { certificate: await userCert(ed, { clock: past }) }));
    expect([err.code, err.message]).toEqual(['ERR_TP_SSH_AUTH_FAILED', `ssh: unable to authenticate as "${LOGIN}"`]);
  });
});
