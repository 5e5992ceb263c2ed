import { describe, expect, it } from 'vitest';
import type { TlsCredentials } from '@teleport-ts/core/profile';
import { renderSshConfig } from './config.js';
import type { SshProfile } from './profile.js';

const sshProfile = (insecure: boolean) =>
  ({
    home: '/h/.tsh',
    knownHostsPath: '/h/.tsh/known_hosts',
    profile: { web_proxy_addr: 'proxy.example.com:3080', ssh_proxy_addr: 'proxy.example.com:3080', user: 'alice', site_name: 'example.com', tls_routing_enabled: true },
    paths: { sshKey: '/h/.tsh/keys/proxy.example.com/alice', sshCert: '/h/.tsh/keys/proxy.example.com/alice-ssh/example.com-cert.pub' },
    proxy: { host: 'proxy.example.com', port: 3080, addr: 'proxy.example.com:3080' },
    insecure,
    creds: {} as TlsCredentials,
  }) as unknown as SshProfile;

describe('tsh config', () => {
  it("prints Teleport's two blocks, with -l as User and -p as Port", () => {
    const text = renderSshConfig(sshProfile(false), { login: 'root', port: '22', executablePath: '/usr/bin/tsh' });
    expect(text).toContain('Host *.example.com proxy.example.com\n    UserKnownHostsFile "/h/.tsh/known_hosts"\n');
    expect(text).toContain('    User "root"\n\n# Flags for all example.com hosts except the proxy\nHost *.example.com !proxy.example.com\n    Port 22\n');
    expect(text).toContain('    ProxyCommand "/usr/bin/tsh" proxy ssh --cluster=example.com --proxy=proxy.example.com:3080 %r@%h:%p\n    User "root"\n');
    expect(renderSshConfig(sshProfile(true), { executablePath: '/usr/bin/tsh' })).toContain('--proxy=proxy.example.com:3080 --insecure %r@%h:%p\n    Port 3022'.split('\n')[0]!);
  });

  it('refuses values OpenSSH would read differently', () => {
    expect(() => renderSshConfig(sshProfile(false), { login: 'a"b', executablePath: '/usr/bin/tsh' })).toThrow('cannot be written into an OpenSSH config');
    expect(() => renderSshConfig(sshProfile(false), { executablePath: '/tmp/100%/tsh' })).toThrow('cannot be written into an OpenSSH config');
    expect(() => renderSshConfig(sshProfile(false), { port: '0', executablePath: '/usr/bin/tsh' })).toThrow('invalid --port');
  });
});
