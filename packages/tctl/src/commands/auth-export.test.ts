import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { newCertAuthority, type CertAuthority, type CertAuthorityType } from '@teleport-ts/core/ca';
import { newFakeClock } from '@teleport-ts/core/clock';
import { handler, render, type ExportApi } from './auth-export.js';

const clock = newFakeClock(new Date('2026-01-02T03:04:05Z'));

const cas = new Map<CertAuthorityType, CertAuthority>();
for (const type of ['host', 'user', 'db', 'db_client', 'openssh'] as const) {
  cas.set(type, await newCertAuthority({ clusterName: 'example.com', type, clock }));
}
const api: ExportApi = {
  ping: async () => ({ clusterName: 'example.com', serverVersion: '0.1.0', authPreference: { type: 'local', secondFactor: 'otp' } }),
  getCertAuthorities: async (type) => [cas.get(type)!],
};
const sshKey = (type: CertAuthorityType): string => cas.get(type)!.spec.active_keys.ssh[0]!.public_key.split(' ').slice(0, 2).join(' ');

describe('tctl auth export', () => {
  it('exports host and user SSH CAs by default, in known_hosts and authorized_keys form', async () => {
    const out = render(await handler(api, {}), { toFile: false });
    expect(out).toBe(
      `@cert-authority example.com,*.example.com ${sshKey('host')} type=host\n` +
        `cert-authority ${sshKey('user')} clustername=example.com&type=user\n\n`,
    );
  });

  it('exports one SSH CA type', async () => {
    expect(render(await handler(api, { type: 'user' }), { toFile: true })).toBe(`cert-authority ${sshKey('user')} clustername=example.com&type=user\n`);
    expect(render(await handler(api, { type: 'openssh' }), { toFile: true })).toBe(
      `cert-authority ${sshKey('openssh')} clustername=example.com&type=user\n`,
    );
  });

  it('exports TLS CAs as PEM and DER', async () => {
    const pem = render(await handler(api, { type: 'db' }), { toFile: true }) as string;
    expect(pem).toBe(cas.get('db')!.spec.active_keys.tls[0]!.cert);
    const der = render(await handler(api, { type: 'db-client-der' }), { toFile: true }) as Buffer;
    expect(new X509Certificate(der).fingerprint256).toBe(new X509Certificate(cas.get('db_client')!.spec.active_keys.tls[0]!.cert).fingerprint256);
    expect(render(await handler(api, { type: 'tls-host' }), { toFile: false })).toBe(`${cas.get('host')!.spec.active_keys.tls[0]!.cert}\n`);
  });

  it('refuses an unknown type in one line', async () => {
    await expect(handler(api, { type: 'bogus' })).rejects.toThrow('unsupported --type "bogus", use one of: user, host, tls, tls-host');
  });
});
