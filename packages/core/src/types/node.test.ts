import { describe, expect, it } from 'vitest';
import { resourceFromYaml, resourceToYaml } from './yaml.js';
import { nodeLabels, nodeToWire, parseNode } from './node.js';

describe('node resources', () => {
  it("reads Teleport's node YAML (agentless openssh) and writes it back", () => {
    const text = [
      'kind: node',
      'sub_kind: openssh',
      'version: v2',
      'metadata:',
      '  name: 7d1c4e2a-3b5f-4a6d-8e9f-0a1b2c3d4e5f',
      '  namespace: default',
      '  labels:',
      '    env: dev',
      'spec:',
      '  addr: 10.0.0.7:22',
      '  hostname: db1',
      '  public_addrs: []',
      '',
    ].join('\n');
    const [node] = resourceFromYaml(text);
    expect(node).toMatchObject({ kind: 'node', sub_kind: 'openssh', metadata: { labels: { env: 'dev' } }, spec: { addr: '10.0.0.7:22', hostname: 'db1' } });
    expect(resourceToYaml([node!])).toContain('sub_kind: openssh');
  });

  it('merges command labels over static ones', () => {
    const node = parseNode({
      kind: 'node',
      metadata: { name: 'n', labels: { env: 'dev', arch: 'static' } },
      spec: { hostname: 'h', cmd_labels: { arch: { period: '1m0s', command: ['uname', '-m'], result: 'x86_64' } } },
    });
    expect(nodeLabels(node)).toEqual({ env: 'dev', arch: 'x86_64' });
    expect(nodeToWire(node)).toMatchObject({ spec: { cmd_labels: { arch: { command: ['uname', '-m'], result: 'x86_64' } } } });
  });

  it('refuses an openssh node without an address, a bad address, a missing hostname and an unknown field', () => {
    const base = { kind: 'node', metadata: { name: 'n' } };
    expect(() => parseNode({ ...base, sub_kind: 'openssh', spec: { hostname: 'h' } })).toThrow('node "n": spec.addr is required for an OpenSSH node');
    expect(() => parseNode({ ...base, spec: { hostname: 'h', addr: 'nohost' } })).toThrow('node "n": spec.addr must be host:port');
    expect(() => parseNode({ ...base, spec: { addr: '1.2.3.4:22' } })).toThrow('node "n": spec.hostname is required');
    expect(() => parseNode({ ...base, spec: { hostname: 'h', adr: 'x' } })).toThrow('spec.adr is not a known field');
    expect(() => parseNode({ ...base, sub_kind: 'kube', spec: { hostname: 'h' } })).toThrow('sub_kind');
  });
});
