/**
 * `POST /v1/certs/openssh` against a real auth server: the Proxy, in front of an agentless OpenSSH node, gets a
 * short-lived certificate from the `openssh` CA for one login of a user whose own valid SSH certificate it shows.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newAuthClient, type AuthClient } from '@teleport-ts/core/api';
import { BALANCED_V1, generateKeyPair, parseSshCertificate, trustedSshKeys, verifySshCert, issueSshUserCert, formatSshCertificate } from '@teleport-ts/core/ca';
import { parseLock } from '@teleport-ts/core/types';
import { issueLocalHostIdentity } from '../src/roles/auth/index.js';
import { rejection, startTestAuth, type TestAuth } from './auth-helpers.js';

describe('openssh CA certificates for agentless nodes', () => {
  let t: TestAuth;
  let proxy: AuthClient;
  let aliceCert: string;

  beforeAll(async () => {
    t = await startTestAuth();
    proxy = newAuthClient({ addr: t.auth.dialAddr, identity: await issueLocalHostIdentity(t.auth.context, 'Proxy', t.auth.dialAddr) });
    await t.admin.createUser({ name: 'alice', roles: ['access'], logins: ['root'] });
    const [tls, ssh] = await Promise.all([generateKeyPair(BALANCED_V1['tls-user']), generateKeyPair(BALANCED_V1['ssh-user'])]);
    aliceCert = (await t.admin.generateUserCerts({ user: 'alice', tlsPublicKey: tls.publicKeyPem, sshPublicKey: ssh.sshPublicKey, ttl: 3_600_000 })).sshCert;
  });

  afterAll(async () => {
    await proxy?.close();
    await t?.close();
  });

  it('issues a 5-minute certificate for the one login, signed by the openssh CA only, and audits it', async () => {
    const key = await generateKeyPair('ed25519');
    const { sshCert } = await proxy.generateOpenSshCert({ userCert: aliceCert, login: 'root', sshPublicKey: key.sshPublicKey });
    const [opensshCa] = await t.admin.getCertAuthorities('openssh');
    const [userCa] = await t.admin.getCertAuthorities('user');
    const { certificate } = verifySshCert(sshCert, { trustedCaKeys: trustedSshKeys(opensshCa!), certType: 'user', principal: 'root', clock: t.clock });
    expect(certificate.keyId).toBe('alice');
    expect(certificate.validPrincipals).toEqual(['root']);
    expect(Number(certificate.validBefore) * 1000 - t.clock.now().getTime()).toBeLessThanOrEqual(5 * 60_000);
    expect(certificate.extensions['permit-pty']).toBe('');
    expect(() => verifySshCert(sshCert, { trustedCaKeys: trustedSshKeys(userCa!), certType: 'user', principal: 'root', clock: t.clock })).toThrow(/not signed by a trusted/);
    const events = await t.audit.search({ from: new Date(0), to: new Date(t.clock.now().getTime() + 60_000), eventTypes: ['cert.create'], limit: 50, order: 'asc' });
    expect(events.events.some((e) => e['cert_type'] === 'openssh' && (e['identity'] as { user?: string }).user === 'alice')).toBe(true);
  });

  it('refuses a login the user certificate does not list, a certificate from another CA, a locked user, and callers other than the Proxy', async () => {
    const key = await generateKeyPair('ed25519');
    const nobody = await rejection(proxy.generateOpenSshCert({ userCert: aliceCert, login: 'nobody', sshPublicKey: key.sshPublicKey }));
    expect(nobody).toMatchObject({ kind: 'access-denied', message: 'access denied: the user certificate cannot be used: SSH certificate is not valid for principal "nobody"' });

    const rogueCa = await generateKeyPair('ed25519');
    const forged = formatSshCertificate(await issueSshUserCert({ ca: rogueCa.privateKeyPem, publicKey: key.sshPublicKey, username: 'alice', logins: ['root'], roles: ['access'], expires: new Date(t.clock.now().getTime() + 3_600_000), clock: t.clock }));
    expect((await rejection(proxy.generateOpenSshCert({ userCert: forged, login: 'root', sshPublicKey: key.sshPublicKey }))).message).toMatch(/not signed by a trusted certificate authority/);

    expect((await rejection(t.admin.generateOpenSshCert({ userCert: aliceCert, login: 'root', sshPublicKey: key.sshPublicKey }))).message).toBe('access denied: only Proxy may do this');
    const user = await t.userClient('ann', ['access']);
    expect((await rejection(user.generateOpenSshCert({ userCert: aliceCert, login: 'root', sshPublicKey: key.sshPublicKey }))).kind).toBe('access-denied');

    await t.admin.upsertLock(parseLock({ kind: 'lock', version: 'v2', metadata: { name: 'l1' }, spec: { target: { user: 'alice' }, message: 'incident 9' } }));
    expect((await rejection(proxy.generateOpenSshCert({ userCert: aliceCert, login: 'root', sshPublicKey: key.sshPublicKey }))).message).toMatch(/lock targeting User:"alice" is in force: incident 9/);
  });

  it('lets the Proxy ask for host certificates (what it presents for an agentless node)', async () => {
    const key = await generateKeyPair('ed25519');
    const res = await proxy.generateHostCert({ sshPublicKey: key.sshPublicKey, principals: ['agentless-1', 'agentless-1.test.example.com'] });
    expect(parseSshCertificate(res.sshCert).validPrincipals).toEqual(['agentless-1', 'agentless-1.test.example.com']);
  });
});
