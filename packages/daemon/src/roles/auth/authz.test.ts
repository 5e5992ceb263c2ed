import { X509Certificate } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { generateKeyPair, issueHostCert, newCertAuthority, tlsSigningKeyPair, trustedTlsCerts } from '@teleport-ts/core/ca';
import { newFakeClock } from '@teleport-ts/core/clock';
import type { AccessService } from '@teleport-ts/core/services';
import { newIdentifier, type ClientTrust } from './authz.js';

const HOUR = 60 * 60_000;
const CLUSTER = 'example.com';

/** A request as the router sees it, from a TLS socket that presented `certPem`. */
function requestWith(certPem: string): IncomingMessage {
  const peer = new X509Certificate(certPem);
  return { socket: { remoteAddress: '127.0.0.1', getPeerX509Certificate: () => peer } } as unknown as IncomingMessage;
}

describe('newIdentifier', () => {
  it('remembers a verified certificate until it expires or the trusted CAs change', async () => {
    const clock = newFakeClock(new Date('2026-03-01T12:00:00Z'));
    const [hostCa, userCa, keys] = await Promise.all([
      newCertAuthority({ clusterName: CLUSTER, type: 'host', clock }),
      newCertAuthority({ clusterName: CLUSTER, type: 'user', clock }),
      generateKeyPair('ecdsa-p256'),
    ]);
    const cert = await issueHostCert({
      ca: tlsSigningKeyPair(hostCa),
      publicKey: keys.publicKeyPem,
      hostId: 'agent-1',
      clusterName: CLUSTER,
      systemRole: 'Db',
      expires: new Date(clock.now().getTime() + HOUR),
      clock,
    });
    let trust: ClientTrust = { clusterName: CLUSTER, hostCaCerts: trustedTlsCerts(hostCa), userCaCerts: trustedTlsCerts(userCa) };
    const identifier = newIdentifier({ trust: () => trust, access: {} as AccessService, clock });
    const req = requestWith(cert);

    for (let i = 0; i < 3; i++) {
      await expect(identifier.identify(req)).resolves.toMatchObject({ kind: 'builtin', systemRole: 'Db', username: `agent-1.${CLUSTER}` });
    }

    // Past NotAfter the remembered verification no longer holds.
    clock.advance(HOUR + 60_000);
    await expect(identifier.identify(req)).resolves.toMatchObject({ kind: 'anonymous', reason: expect.stringMatching(/expired/) });
    clock.advance(-2 * 60_000 - HOUR);
    await expect(identifier.identify(req)).resolves.toMatchObject({ kind: 'builtin' });

    // A new trust without the CA (a rotation that dropped it): the certificate is refused at once.
    trust = { ...trust, hostCaCerts: [] };
    await expect(identifier.identify(req)).resolves.toMatchObject({ kind: 'anonymous', reason: expect.stringMatching(/not signed by a certificate authority/) });
  });
});
