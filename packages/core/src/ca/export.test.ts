import { describe, expect, it } from 'vitest';
import { newFakeClock } from '../clock/index.js';
import { newCertAuthority } from './authority.js';
import { hostCaLine, queryEscape, sshCaExportLines, tlsCaExportPem, userCaLine } from './export.js';

const clock = newFakeClock(new Date('2026-01-02T03:04:05Z'));

describe('CA export formats', () => {
  it("escapes cluster names as Go's url.QueryEscape", () => {
    expect(queryEscape('a b&c=d/é')).toBe('a+b%26c%3Dd%2F%C3%A9');
  });

  it('writes known_hosts and authorized_keys lines without the key comment', () => {
    expect(hostCaLine('example.com', 'ssh-ed25519 AAAA comment')).toBe('@cert-authority example.com,*.example.com ssh-ed25519 AAAA type=host\n');
    expect(userCaLine('a b', 'ssh-ed25519 AAAA comment')).toBe('cert-authority ssh-ed25519 AAAA clustername=a+b&type=user\n');
  });

  it('lists the active then the additional trusted SSH keys, and the active TLS certificates', async () => {
    const host = await newCertAuthority({ clusterName: 'example.com', type: 'host', clock });
    const other = await newCertAuthority({ clusterName: 'example.com', type: 'host', clock });
    const rotating = { ...host, spec: { ...host.spec, additional_trusted_keys: other.spec.active_keys } };
    const key = (ca: typeof host): string => ca.spec.active_keys.ssh[0]!.public_key.split(' ').slice(0, 2).join(' ');
    expect(sshCaExportLines(rotating)).toBe(
      `@cert-authority example.com,*.example.com ${key(host)} type=host\n@cert-authority example.com,*.example.com ${key(other)} type=host\n`,
    );
    expect(tlsCaExportPem(rotating)).toBe(host.spec.active_keys.tls[0]!.cert.replace(/\n?$/, '\n'));
  });
});
