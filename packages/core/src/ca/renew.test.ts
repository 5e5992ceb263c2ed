import { beforeAll, describe, expect, it } from 'vitest';
import { newFakeClock } from '../clock/index.js';
import { newCertAuthority, tlsSigningKeyPair, withoutSecrets, type CertAuthority } from './authority.js';
import { generateKeyPair } from './keys.js';
import { isIssuedBy, needsReissue, nextCaCheckDelayMs, renewalDelayMs, rotationCaughtUp, rotationSeen } from './renew.js';
import { advanceAutoRotation, rotate } from './rotation.js';
import { issueHostCert } from './tlsca/issue.js';

const HOUR = 3600_000;

describe('renewal time', () => {
  const notBefore = new Date('2026-01-01T00:00:00Z');
  const notAfter = new Date(notBefore.getTime() + 30 * HOUR);

  it('is two thirds into the lifetime, jittered by at most ±5 % of it', () => {
    const at = (random: number) => renewalDelayMs({ notBefore, notAfter, nowMs: notBefore.getTime(), random });
    expect(at(0.5)).toBe(20 * HOUR);
    expect(at(0)).toBe(20 * HOUR - 0.05 * 30 * HOUR);
    expect(at(0.999999)).toBeLessThanOrEqual(20 * HOUR + 0.05 * 30 * HOUR);
    // Spread: two agents that joined together do not renew at the same moment.
    expect(new Set([0.1, 0.3, 0.7, 0.9].map(at)).size).toBe(4);
  });

  it('is now (never negative) for a certificate past its renewal time', () => {
    expect(renewalDelayMs({ notBefore, notAfter, nowMs: notAfter.getTime() + HOUR, random: 0.5 })).toBe(0);
  });
});

describe('reissue on rotation', () => {
  const clock = newFakeClock(new Date('2026-03-01T12:00:00Z'));
  let ca: CertAuthority;
  let publicKey: string;
  const issue = async (from: CertAuthority) =>
    issueHostCert({ ca: tlsSigningKeyPair(from), publicKey, hostId: 'h1', clusterName: 'example.com', systemRole: 'Db', expires: new Date(clock.now().getTime() + HOUR), clock });

  beforeAll(async () => {
    ca = await newCertAuthority({ clusterName: 'example.com', type: 'host', clock });
    publicKey = (await generateKeyPair('ecdsa-p256')).publicKeyPem;
  });

  it('keeps the certificate until update_servers, then asks for one from the new key; a rollback asks again', async () => {
    const old = await issue(ca);
    const init = await rotate(ca, { phase: 'init', mode: 'manual', clock });
    expect(needsReissue(withoutSecrets(init), old)).toBe(false);
    const clients = await rotate(init, { phase: 'update_clients', mode: 'manual', clock });
    // Servers keep what clients trust during update_clients.
    expect(needsReissue(withoutSecrets(clients), old)).toBe(false);
    const servers = await rotate(clients, { phase: 'update_servers', mode: 'manual', clock });
    expect(needsReissue(withoutSecrets(servers), old)).toBe(true);
    const renewed = await issue(servers);
    expect(isIssuedBy(renewed, tlsSigningKeyPair(servers).cert)).toBe(true);
    expect(isIssuedBy(renewed, tlsSigningKeyPair(ca).cert)).toBe(false);
    expect(needsReissue(withoutSecrets(servers), renewed)).toBe(false);
    const rollback = await rotate(servers, { phase: 'rollback', mode: 'manual', clock });
    expect(needsReissue(withoutSecrets(rollback), renewed)).toBe(true);
    expect(needsReissue(withoutSecrets(rollback), old)).toBe(false);
  });

  it('asks at once when the issuer is not trusted any more (an agent that slept through a rotation)', async () => {
    const old = await issue(ca);
    let r = await rotate(ca, { phase: 'init', mode: 'manual', clock });
    r = await rotate(r, { phase: 'update_clients', mode: 'manual', clock });
    r = await rotate(r, { phase: 'update_servers', mode: 'manual', clock });
    r = await rotate(r, { phase: 'standby', mode: 'manual', clock });
    expect(needsReissue(r, old)).toBe(true);
  });

  it('tells whether a process caught up with the rotation it reported', async () => {
    const init = await rotate(ca, { phase: 'init', mode: 'auto', gracePeriodMs: 3 * HOUR, clock });
    expect(rotationCaughtUp(init, rotationSeen(ca.spec.rotation))).toBe(false);
    expect(rotationCaughtUp(init, rotationSeen(init.spec.rotation))).toBe(true);
    expect(rotationCaughtUp(init, undefined)).toBe(false);
    expect(rotationCaughtUp(ca, { phase: 'standby' })).toBe(true);
  });
});

describe('when to look at the CAs again', () => {
  it('polls, or just after the next phase of an automatic rotation when that comes sooner', async () => {
    const clock = newFakeClock(new Date('2026-03-01T12:00:00Z'));
    const ca = await newCertAuthority({ clusterName: 'example.com', type: 'host', clock });
    const nowMs = clock.now().getTime();
    expect(nextCaCheckDelayMs([ca], { nowMs, pollMs: 10_000, slackMs: 200 })).toBe(10_000);
    const init = await rotate(ca, { phase: 'init', mode: 'auto', gracePeriodMs: 9_000, clock });
    // update_clients is due at +3 s.
    expect(nextCaCheckDelayMs([ca, init], { nowMs, pollMs: 10_000, slackMs: 200 })).toBe(3_200);
    clock.advance(3_000);
    const clients = advanceAutoRotation(init, { clock });
    expect(clients.spec.rotation.phase).toBe('update_clients');
    expect(nextCaCheckDelayMs([clients], { nowMs: clock.now().getTime(), pollMs: 10_000, slackMs: 200 })).toBe(3_200);
  });
});
