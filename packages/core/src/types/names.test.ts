import { describe, expect, it } from 'vitest';
import { checkNewName, nameProblem, quoteName } from './names.js';

describe('the name rule', () => {
  it('accepts what tctl can manage and tsh can store', () => {
    for (const name of ['alice', 'alice@example.com', 'alice+ops@example.com', 'a.b-c_d', '_svc', '@ops', '0day', 'x'.repeat(128), 'Node-01']) {
      expect(nameProblem(name), name).toBeUndefined();
    }
  });

  it('refuses paths, flags, list separators, spaces, controls and bidirectional overrides, in one line', () => {
    const refused = ['', '.', '..', '../etc', '.hidden', '-rf', 'a/b', 'a\\b', 'a,b', 'a b', ' a', 'tab\t', 'nul\u0000', 'x'.repeat(129), 'josé', 'a:b', 'a*', 'a"b'];
    for (const name of refused) expect(nameProblem(name), JSON.stringify(name)).toBeDefined();
    for (const c of ['\u200e', '\u200f', '\u202a', '\u202b', '\u202c', '\u202d', '\u202e', '\u2066', '\u2067', '\u2068', '\u2069']) {
      expect(nameProblem(`dev${c}ops`)).toBe('contains control or bidirectional-override characters');
    }
  });

  it('never echoes a bidirectional override or a secret', () => {
    expect(() => checkNewName('role', 'admin\u202enimda')).toThrow(/^role name "admin\\u202enimda" contains control or bidirectional-override characters$/);
    expect(() => checkNewName('token', 'sec ret', { secret: true })).toThrow(/^token name must be ASCII/);
    expect(quoteName('a"b\n')).toBe('"a\\"b\\u000a"');
  });
});
