import { beforeAll, describe, expect, it } from 'vitest';
import { newFakeClock } from '../clock/index.js';
import { newCertAuthority, sshSigningKeyPair, tlsSigningKeyPair, type CertAuthority, type RotationPhase } from './authority.js';
import { generateKeyPair, keyAlgorithmOf, type KeyPairPem } from './keys.js';
import { advanceAutoRotation, rotate, trustedSshKeys, trustedTlsCerts } from './rotation.js';
import { issueSshUserCert } from './sshca/issue.js';
import { verifySshCert } from './sshca/verify.js';
import { issueUserCert } from './tlsca/issue.js';
import { verifyTlsCert } from './tlsca/verify.js';

const HOUR = 3600_000;

describe('CA rotation', () => {
  const clock = newFakeClock(new Date('2026-03-01T12:00:00Z'));
  let ca: CertAuthority;
  let tlsKeys: KeyPairPem;
  let sshKeys: KeyPairPem;

  beforeAll(async () => {
    [ca, tlsKeys, sshKeys] = await Promise.all([
      newCertAuthority({ clusterName: 'example.com', type: 'user', clock }),
      generateKeyPair('ecdsa-p256'),
      generateKeyPair('ed25519'),
    ]);
  });

  /** Issues a TLS + SSH pair with whatever key the CA signs with now. */
  const issuePair = async (from: CertAuthority) => {
    const expires = new Date(clock.now().getTime() + 24 * HOUR);
    const [tls, ssh] = await Promise.all([
      issueUserCert({
        ca: tlsSigningKeyPair(from),
        publicKey: tlsKeys.publicKeyPem,
        identity: { username: 'alice', roles: ['access'], logins: ['root'], traits: {}, expires },
        clock,
      }),
      issueSshUserCert({ ca: sshSigningKeyPair(from).private_key, publicKey: sshKeys.sshPublicKey, username: 'alice', logins: ['root'], roles: ['access'], expires, clock }),
    ]);
    return { tls, ssh: ssh.blob };
  };
  const trusts = (by: CertAuthority, pair: { tls: string; ssh: Buffer }) => {
    const results = { tls: true, ssh: true };
    try {
      verifyTlsCert(pair.tls, { trustedCaCerts: trustedTlsCerts(by), clock });
    } catch {
      results.tls = false;
    }
    try {
      verifySshCert(pair.ssh, { trustedCaKeys: trustedSshKeys(by), certType: 'user', principal: 'root', clock });
    } catch {
      results.ssh = false;
    }
    return results;
  };
  const both = { tls: true, ssh: true };
  const neither = { tls: false, ssh: false };

  it('runs init -> update_clients -> update_servers -> standby, trusting old and new keys in between', async () => {
    const before = await issuePair(ca);
    const oldTls = tlsSigningKeyPair(ca).cert;
    const oldSsh = sshSigningKeyPair(ca).public_key;

    const init = await rotate(ca, { phase: 'init', mode: 'manual', gracePeriodMs: 6 * HOUR, clock });
    expect(init.spec.rotation).toMatchObject({ state: 'in_progress', phase: 'init', mode: 'manual', grace_period: 6 * HOUR, started: clock.now().toISOString() });
    expect(init.spec.rotation.current_id).toMatch(/^[0-9a-f-]{36}$/);
    // New keys are trusted but the old ones still sign.
    expect(tlsSigningKeyPair(init).cert).toBe(oldTls);
    expect(sshSigningKeyPair(init).public_key).toBe(oldSsh);
    expect(trustedTlsCerts(init)).toHaveLength(2);
    expect(trustedSshKeys(init)).toHaveLength(2);
    const newTls = init.spec.additional_trusted_keys.tls[0]!.cert;
    const newSsh = init.spec.additional_trusted_keys.ssh[0]!.public_key;
    expect(newTls).not.toBe(oldTls);
    expect(trusts(init, before)).toEqual(both);
    // The input resource is left untouched.
    expect(ca.spec.rotation.phase).toBe('standby');
    expect(ca.spec.additional_trusted_keys.tls).toHaveLength(0);

    clock.advance(HOUR);
    const clients = await rotate(init, { phase: 'update_clients', mode: 'manual', clock });
    expect(tlsSigningKeyPair(clients).cert).toBe(newTls);
    expect(sshSigningKeyPair(clients).public_key).toBe(newSsh);
    expect(trustedTlsCerts(clients).sort()).toEqual([oldTls, newTls].sort());
    const after = await issuePair(clients);
    expect(trusts(clients, before)).toEqual(both);
    expect(trusts(clients, after)).toEqual(both);
    // A server that has not picked up the rotation yet (still on the standby CA) does not trust the new certs...
    expect(trusts(ca, after)).toEqual(neither);
    // ...which is why servers already trust the new keys from "init" on.
    expect(trusts(init, after)).toEqual(both);

    clock.advance(HOUR);
    const servers = await rotate(clients, { phase: 'update_servers', mode: 'manual', clock });
    expect(trusts(servers, before)).toEqual(both);
    expect(trusts(servers, after)).toEqual(both);

    clock.advance(HOUR);
    const done = await rotate(servers, { phase: 'standby', mode: 'manual', clock });
    expect(done.spec.rotation).toEqual({ state: 'standby', phase: 'standby', current_id: init.spec.rotation.current_id, last_rotated: clock.now().toISOString() });
    expect(trustedTlsCerts(done)).toEqual([newTls]);
    expect(trustedSshKeys(done)).toEqual([newSsh]);
    expect(trusts(done, after)).toEqual(both);
    expect(trusts(done, before)).toEqual(neither);
  });

  it('rolls back from every in-progress phase: old keys sign again, new keys stay trusted until standby', async () => {
    for (const stopAt of ['init', 'update_clients', 'update_servers'] as const) {
      const before = await issuePair(ca);
      let current = await rotate(ca, { phase: 'init', mode: 'manual', clock });
      const newTls = current.spec.additional_trusted_keys.tls[0]!.cert;
      let during = await issuePair(current);
      for (const phase of ['update_clients', 'update_servers'] as const) {
        if (stopAt === 'init' || (stopAt === 'update_clients' && phase === 'update_servers')) break;
        current = await rotate(current, { phase, mode: 'manual', clock });
        during = await issuePair(current);
      }
      const rolledBack = await rotate(current, { phase: 'rollback', mode: 'manual', clock });
      expect(rolledBack.spec.rotation).toMatchObject({ state: 'in_progress', phase: 'rollback' });
      expect(tlsSigningKeyPair(rolledBack).cert).toBe(tlsSigningKeyPair(ca).cert);
      expect(sshSigningKeyPair(rolledBack).public_key).toBe(sshSigningKeyPair(ca).public_key);
      expect(trustedTlsCerts(rolledBack)).toContain(newTls);
      expect(JSON.stringify(rolledBack.spec.additional_trusted_keys)).not.toContain('PRIVATE KEY');
      expect(trusts(rolledBack, before)).toEqual(both);
      expect(trusts(rolledBack, during)).toEqual(both);

      const standby = await rotate(rolledBack, { phase: 'standby', mode: 'manual', clock });
      expect(standby.spec.rotation).toMatchObject({ state: 'standby', phase: 'standby' });
      expect(standby.spec.rotation.last_rotated).toBe(ca.spec.rotation.last_rotated);
      expect(trustedTlsCerts(standby)).toEqual([tlsSigningKeyPair(ca).cert]);
      expect(trusts(standby, before)).toEqual(both);
      if (stopAt !== 'init') expect(trusts(standby, during)).toEqual(neither);
    }
  });

  it('refuses bad transitions with a clear message', async () => {
    const expectBad = async (from: CertAuthority, phase: RotationPhase, message: RegExp) =>
      expect(rotate(from, { phase, mode: 'manual', clock })).rejects.toMatchObject({ kind: 'bad-parameter', message: expect.stringMatching(message) });
    await expectBad(ca, 'update_clients', /from "standby" to "update_clients": no rotation is in progress; start one with phase "init"/);
    await expectBad(ca, 'rollback', /no rotation is in progress/);
    await expectBad(ca, 'standby', /no rotation is in progress/);
    const init = await rotate(ca, { phase: 'init', mode: 'manual', clock });
    await expectBad(init, 'init', /from "init" to "init": from "init" the rotation can move to "update_clients" or "rollback"/);
    await expectBad(init, 'update_servers', /can move to "update_clients" or "rollback"/);
    await expectBad(init, 'standby', /can move to "update_clients" or "rollback"/);
    const rollback = await rotate(init, { phase: 'rollback', mode: 'manual', clock });
    await expectBad(rollback, 'update_clients', /from "rollback" the rotation can move to "standby"/);
    await expect(rotate(ca, { mode: 'manual', clock })).rejects.toThrow(/needs a target phase/);
    await expect(rotate(init, { phase: 'update_clients', mode: 'auto', clock })).rejects.toThrow(/can only be started/);
    await expect(rotate(ca, { phase: 'init', mode: 'manual', gracePeriodMs: 0, clock })).rejects.toThrow(/grace period must be positive/);
  });

  it('in auto mode, advances through the phases on schedule, one phase per call', async () => {
    const start = clock.now().getTime();
    const init = await rotate(ca, { mode: 'auto', gracePeriodMs: 3 * HOUR, clock });
    expect(init.spec.rotation).toMatchObject({
      phase: 'init',
      mode: 'auto',
      schedule: {
        update_clients: new Date(start + HOUR).toISOString(),
        update_servers: new Date(start + 2 * HOUR).toISOString(),
        standby: new Date(start + 3 * HOUR).toISOString(),
      },
    });
    expect(advanceAutoRotation(init, { clock })).toBe(init);
    clock.advance(HOUR);
    const clients = advanceAutoRotation(init, { clock });
    expect(clients.spec.rotation.phase).toBe('update_clients');
    expect(tlsSigningKeyPair(clients).cert).toBe(init.spec.additional_trusted_keys.tls[0]!.cert);
    clock.advance(5 * HOUR); // overdue: still one step at a time
    const servers = advanceAutoRotation(clients, { clock });
    expect(servers.spec.rotation.phase).toBe('update_servers');
    const done = advanceAutoRotation(servers, { clock });
    expect(done.spec.rotation).toMatchObject({ state: 'standby', phase: 'standby', last_rotated: clock.now().toISOString() });
    expect(trustedTlsCerts(done)).toEqual([tlsSigningKeyPair(clients).cert]);
    expect(advanceAutoRotation(done, { clock })).toBe(done);
    // A manual rotation is never advanced automatically.
    const manual = await rotate(ca, { phase: 'init', mode: 'manual', clock });
    clock.advance(100 * HOUR);
    expect(advanceAutoRotation(manual, { clock })).toBe(manual);
  });

  it('rotates TLS-only and SSH-only CAs, keeping their algorithms', async () => {
    const db = await newCertAuthority({ clusterName: 'example.com', type: 'db', clock });
    const dbInit = await rotate(db, { phase: 'init', mode: 'manual', clock });
    expect(dbInit.spec.additional_trusted_keys.ssh).toHaveLength(0);
    expect(dbInit.spec.additional_trusted_keys.tls[0]!.key).toMatch(/PRIVATE KEY/);
    expect(keyAlgorithmOf(dbInit.spec.additional_trusted_keys.tls[0]!.key!)).toBe('rsa-2048');
    const openssh = await newCertAuthority({ clusterName: 'example.com', type: 'openssh', clock });
    const opensshInit = await rotate(openssh, { phase: 'init', mode: 'manual', clock });
    expect(opensshInit.spec.additional_trusted_keys.tls).toHaveLength(0);
    expect(trustedSshKeys(opensshInit)).toHaveLength(2);
    await expect(rotate(db, { phase: 'init', mode: 'manual', clock, newKeys: opensshInit.spec.additional_trusted_keys })).rejects.toThrow(
      /must hold exactly the key kinds of a db CA/,
    );
  });
});
