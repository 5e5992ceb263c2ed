import { describe, expect, it } from 'vitest';
import { parseFlatYaml, toYaml } from './yaml.js';

describe('profile yaml', () => {
  it('round-trips flat profiles, quoting what YAML would misread', () => {
    const profile = { web_proxy_addr: '127.0.0.1:3080', user: 'alice', site_name: 'true', tls_routing_enabled: true, odd: 'a: b', num: '3080' };
    const text = toYaml(profile);
    expect(text).toContain('web_proxy_addr: 127.0.0.1:3080\n');
    expect(text).toContain('site_name: "true"\n');
    expect(parseFlatYaml(text)).toEqual(profile);
  });

  it('reads the profiles Teleport writes', () => {
    expect(parseFlatYaml("web_proxy_addr: proxy.example.com:443\nuser: alice # me\nsite_name: 'example.com'\ndynamic_ports:\n  - 1\n")).toEqual({
      web_proxy_addr: 'proxy.example.com:443',
      user: 'alice',
      site_name: 'example.com',
      dynamic_ports: '',
    });
  });
});
