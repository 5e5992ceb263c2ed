import { describe, expect, it } from 'vitest';
import { asciiTable, headlessTable } from './table.js';

describe('asciiTable', () => {
  it("pads every cell, the last included, as Go's tabwriter does (minwidth 5, padding 1)", () => {
    expect(asciiTable(['User', 'Roles'], [['alice', 'access,editor'], ['bob', 'auditor']])).toBe(
      'User  Roles         \n' + '----- ------------- \n' + 'alice access,editor \n' + 'bob   auditor       \n',
    );
  });

  it('makes the separator as wide as the widest cell and keeps short columns at the minimum width', () => {
    expect(asciiTable(['A', 'B'], [['x', 'y']])).toBe('A    B    \n-    -    \nx    y    \n');
  });

  it('counts runes, not UTF-16 code units', () => {
    expect(asciiTable(['Name'], [['日本語テキスト']])).toBe('Name    \n------- \n日本語テキスト \n');
  });

  it('prints a header and separator even with no rows', () => {
    expect(asciiTable(['Token', 'Type'], [])).toBe('Token Type \n----- ---- \n');
  });
});

describe('headlessTable', () => {
  it('aligns key/value rows without a header', () => {
    expect(headlessTable([['Cluster:', 'example.com'], ['Version:', '1.0.0'], ['CA pins:', 'sha256:ab']])).toBe(
      'Cluster: example.com \n' + 'Version: 1.0.0       \n' + 'CA pins: sha256:ab   \n',
    );
  });
});
