import { describe, expect, it } from 'vitest';
import { asciiTable, asciiTableLines, headlessTable, MAX_CELL_WIDTH, tableCell, writeRendered } from './table.js';

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

describe('cells that would break a line', () => {
  it('escapes newlines, tabs, control and bidirectional characters, so every row stays one line', () => {
    expect(tableCell('select 1;\nselect 2;\r\tx')).toBe('select 1;\\nselect 2;\\r\\tx');
    expect(tableCell('a\u001b[31mred\u007f\u0085')).toBe('a\\u001b[31mred\\u007f\\u0085');
    expect(tableCell('admin\u202egnp.exe')).toBe('admin\\u202egnp.exe');
    expect(tableCell('日本語')).toBe('日本語');
    expect(asciiTable(['Statement'], [['a\nb']])).toBe('Statement \n--------- \na\\nb      \n');
  });

  it('cuts a wide cell with an ellipsis at the cap, never inside an escape, counting runes', () => {
    expect(tableCell('x'.repeat(10), 10)).toBe('x'.repeat(10));
    expect(tableCell('x'.repeat(11), 10)).toBe(`${'x'.repeat(9)}…`);
    expect(tableCell('12345678\n9', 10)).toBe('12345678…');
    expect(tableCell('😀'.repeat(20), 10)).toBe(`${'😀'.repeat(9)}…`);
    expect([...tableCell('y'.repeat(10_000))]).toHaveLength(MAX_CELL_WIDTH);
  });

  it('sizes columns from the capped cells and yields one line at a time', () => {
    const rows = [['a', 'x'.repeat(1_000_000)], ['b', 'short']];
    const lines = [...asciiTableLines(['K', 'V'], rows, { maxCellWidth: 20 })];
    expect(lines).toHaveLength(4);
    expect(lines.every((l) => l.endsWith('\n') && l.indexOf('\n') === l.length - 1)).toBe(true);
    expect(lines[2]).toBe(`a    ${'x'.repeat(19)}… \n`);
    expect(lines[3]).toBe(`b    short${' '.repeat(16)}\n`);
  });

  it('writes lines in chunks and strings as they are', () => {
    const chunks: string[] = [];
    writeRendered(asciiTableLines(['N'], Array.from({ length: 20_000 }, (_, i) => [String(i)])), (c) => chunks.push(String(c)));
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.length).toBeLessThan(10);
    expect(chunks.join('').split('\n')).toHaveLength(20_003);
    const one: string[] = [];
    writeRendered('text\n', (c) => one.push(String(c)));
    writeRendered('', (c) => one.push(String(c)));
    expect(one).toEqual(['text\n']);
  });
});
