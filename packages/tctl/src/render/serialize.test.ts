import { describe, expect, it } from 'vitest';
import { toJson, toYaml } from './serialize.js';

describe('toYaml', () => {
  it('sorts keys and does not indent sequences under their key', () => {
    expect(toYaml({ token: 'abc', roles: ['Node', 'Db'], expires: '2026-01-01T00:00:00Z' })).toBe(
      "expires: '2026-01-01T00:00:00Z'\nroles:\n- Node\n- Db\ntoken: abc\n",
    );
  });

  it('nests mappings inside sequences and mappings', () => {
    expect(toYaml({ authorities: [{ type: 'host', keys: [{ protocol: 'SSH' }] }], cluster: { name: 'c' } })).toBe(
      'authorities:\n- keys:\n  - protocol: SSH\n  type: host\ncluster:\n  name: c\n',
    );
  });

  it('quotes strings a YAML 1.1 reader would misread', () => {
    expect(toYaml({ a: 'off', b: 'yes', c: '123', d: '', e: '- x', f: 'a: b', g: 'plain text' })).toBe(
      "a: 'off'\nb: 'yes'\nc: '123'\nd: ''\ne: '- x'\nf: 'a: b'\ng: plain text\n",
    );
  });

  it('prints empty collections inline and drops undefined fields', () => {
    expect(toYaml({ a: [], b: {}, c: undefined, d: null, e: 1, f: true })).toBe('a: []\nb: {}\nd: null\ne: 1\nf: true\n');
  });
});

describe('toJson', () => {
  it('indents with four spaces and ends with a newline', () => {
    expect(toJson({ a: [1] })).toBe('{\n    "a": [\n        1\n    ]\n}\n');
  });
});
