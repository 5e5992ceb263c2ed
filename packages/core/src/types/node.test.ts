import { describe, expect, it } from 'vitest';
import { BadParameterError } from '../errors/index.js';
import { resourceFromYaml, resourceToYaml } from './yaml.js';
import { nodeLabels, nodeToWire, parseListedNode, parseNode } from './node.js';

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

describe('parseListedNode', () => {
  const UUID = '7d1c4e2a-3b5f-4a6d-8e9f-0a1b2c3d4e5f';
  /** A node as the auth server lists it: parsed, then written back. */
  const canonical = (raw: Record<string, unknown>): Record<string, unknown> => nodeToWire(parseNode(raw));
  const listed = (overrides: Record<string, unknown>): Record<string, unknown> => ({
    kind: 'node',
    version: 'v2',
    metadata: { name: UUID },
    spec: { addr: '', hostname: 'web1' },
    ...overrides,
  });
  const messageOf = (parse: () => unknown): string => {
    try {
      parse();
    } catch (err) {
      return (err as Error).message;
    }
    throw new Error('did not throw');
  };

  it('returns a tunnel node already in canonical form as the same object', () => {
    const wire = canonical({ kind: 'node', sub_kind: 'teleport', metadata: { name: UUID }, spec: { hostname: 'web1', use_tunnel: true, version: '16.4.0' } });
    expect(parseListedNode(wire)).toBe(wire);
    expect(parseListedNode(wire)).toEqual(parseNode(wire));
  });

  it('returns an openssh node with its address as the same object', () => {
    const wire = canonical({ kind: 'node', sub_kind: 'openssh', metadata: { name: UUID }, spec: { addr: '10.0.0.7:22', hostname: 'db1' } });
    expect(parseListedNode(wire)).toBe(wire);
    expect(parseListedNode(wire)).toEqual(parseNode(wire));
  });

  it('returns a node with labels, expires, description and revision as the same object', () => {
    const wire = canonical({
      kind: 'node',
      metadata: { name: UUID, description: 'web server', labels: { env: 'prod', team: 'web' }, expires: '2030-01-31T12:00:00Z', revision: 'r1' },
      spec: { addr: '[::1]:3022', hostname: 'web1' },
    });
    expect(wire['metadata']).toMatchObject({ expires: '2030-01-31T12:00:00.000Z' });
    expect(parseListedNode(wire)).toBe(wire);
    expect(parseListedNode(wire)).toEqual(parseNode(wire));
  });

  it('returns a node with command labels as the same object', () => {
    const wire = canonical({
      kind: 'node',
      metadata: { name: UUID },
      spec: { hostname: 'web1', cmd_labels: { arch: { period: '1m0s', command: ['uname', '-m'], result: 'x86_64' }, empty: { command: ['true'] } } },
    });
    expect(parseListedNode(wire)).toBe(wire);
    expect(parseListedNode(wire)).toEqual(parseNode(wire));
  });

  it.each([
    ['an ignored spec field (public_addrs)', listed({ spec: { addr: '', hostname: 'web1', public_addrs: [] } })],
    ['an ignored top-level field (id)', listed({ id: 5 })],
    ['no spec.addr', listed({ spec: { hostname: 'web1' } })],
    ['use_tunnel: false', listed({ spec: { addr: '', hostname: 'web1', use_tunnel: false } })],
    ['an empty spec.version', listed({ spec: { addr: '', hostname: 'web1', version: '' } })],
    ['empty cmd_labels', listed({ spec: { addr: '', hostname: 'web1', cmd_labels: {} } })],
    ['a command label without its period', listed({ spec: { addr: '', hostname: 'web1', cmd_labels: { a: { command: ['id'], result: 'x' } } } })],
    ['empty labels', listed({ metadata: { name: UUID, labels: {} } })],
    ['an empty description', listed({ metadata: { name: UUID, description: '' } })],
    ['expires not in toISOString form', listed({ metadata: { name: UUID, expires: '2030-01-31T12:00:00Z' } })],
    ['expires with an offset', listed({ metadata: { name: UUID, expires: '2030-01-31T14:00:00.000+02:00' } })],
    ["expires at Go's zero time", listed({ metadata: { name: UUID, expires: '0001-01-01T00:00:00.000Z' } })],
    ['metadata namespace: default', listed({ metadata: { name: UUID, namespace: 'default' } })],
    ['an empty sub_kind', listed({ sub_kind: '' })],
    ['a null sub_kind', listed({ sub_kind: null })],
    ['no version', { kind: 'node', metadata: { name: UUID }, spec: { addr: '', hostname: 'web1' } }],
  ])('normalises a node with %s as parseNode does', (_what, raw) => {
    const node = parseListedNode(raw);
    expect(node).not.toBe(raw);
    expect(node).toEqual(parseNode(raw));
  });

  it.each([
    ['a hostname that is a number', listed({ spec: { addr: '', hostname: 5 } }), 'node "7d1c4e2a-3b5f-4a6d-8e9f-0a1b2c3d4e5f": spec.hostname must be a string'],
    ['sub_kind "bogus"', listed({ sub_kind: 'bogus' }), 'sub_kind must be one of teleport, openssh'],
    ['an openssh node with an empty addr', listed({ sub_kind: 'openssh' }), 'spec.addr is required for an OpenSSH node (the proxy dials it)'],
    ['a malformed addr', listed({ spec: { addr: 'nohost', hostname: 'web1' } }), 'spec.addr must be host:port'],
    ['an empty hostname', listed({ spec: { addr: '', hostname: '' } }), 'spec.hostname is required'],
    ['a name with a slash', listed({ metadata: { name: 'a/b' } }), 'node: metadata.name "a/b" must not contain "/", control characters or surrounding spaces'],
    ['a label value that is a number', listed({ metadata: { name: UUID, labels: { env: 1 } } }), 'metadata.labels["env"] must be a string'],
    ['an unknown spec field', listed({ spec: { addr: '', hostname: 'web1', adr: 'x' } }), 'spec.adr is not a known field'],
    ['kind "db"', listed({ kind: 'db' }), 'kind must be "node"'],
    ['a list', [], 'node must be a mapping'],
  ])('refuses a node with %s with the message of parseNode', (_what, raw, message) => {
    const got = messageOf(() => parseListedNode(raw));
    expect(got).toBe(messageOf(() => parseNode(raw)));
    expect(got).toContain(message);
    expect(() => parseListedNode(raw)).toThrow(BadParameterError);
  });
});
