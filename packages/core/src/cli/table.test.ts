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

describe('cell widths in runes', () => {
  it('aligns a column mixing emoji (surrogate pairs) and ASCII rows, counting each emoji as one rune', () => {
    // '🚀 rocket-🚀' is 10 runes (12 UTF-16 code units): the column is 10 wide, plus padding.
    expect(asciiTable(['Name', 'Env'], [['🚀 rocket-🚀', 'dev'], ['plain', 'prod'], ['😀', 'x']])).toBe(
      'Name       Env  \n' + '---------- ---- \n' + '🚀 rocket-🚀 dev  \n' + 'plain      prod \n' + '😀          x    \n',
    );
  });

  it('sizes a column from its widest ASCII cell when an emoji cell is shorter in runes but not in code units', () => {
    // '😀😀😀' is 6 code units but 3 runes: 'abcd' (4) is the widest.
    expect(asciiTable(['A'], [['😀😀😀'], ['abcd']])).toBe('A    \n' + '---- \n' + '😀😀😀  \n' + 'abcd \n');
  });

  it('aligns key/value rows with emoji in a headless table', () => {
    expect(headlessTable([['Cluster:', '🌍 example.com'], ['Proxy 🚀:', 'proxy:3080'], ['User:', 'alice']])).toBe(
      'Cluster: 🌍 example.com \n' + 'Proxy 🚀: proxy:3080    \n' + 'User:    alice         \n',
    );
  });
});

describe('the cap on a cell', () => {
  it('leaves a cell of exactly MAX_CELL_WIDTH ASCII characters as it is and cuts one more', () => {
    const exact = 'a'.repeat(MAX_CELL_WIDTH);
    expect(tableCell(exact)).toBe(exact);
    expect(tableCell(`${exact}b`)).toBe(`${'a'.repeat(MAX_CELL_WIDTH - 1)}…`);
    expect([...tableCell(`${exact}b`)]).toHaveLength(MAX_CELL_WIDTH);
  });

  it('leaves a cell of exactly MAX_CELL_WIDTH emoji as it is (more code units than the cap) and cuts one more', () => {
    const exact = '😀'.repeat(MAX_CELL_WIDTH);
    expect(tableCell(exact)).toBe(exact);
    expect(tableCell(`${exact}😀`)).toBe(`${'😀'.repeat(MAX_CELL_WIDTH - 1)}…`);
  });

  it('prints a cell of exactly the cap untouched in a table and cuts a longer one', () => {
    const lines = [...asciiTableLines(['K'], [['x'.repeat(8)], ['y'.repeat(9)]], { maxCellWidth: 8 })];
    expect(lines).toEqual(['K        \n', '-------- \n', `${'x'.repeat(8)} \n`, `${'y'.repeat(7)}… \n`]);
  });

  it('escapes a short cell, the escape counting toward the cap', () => {
    expect(tableCell('ab\u202ecd', 10)).toBe('ab\\u202ecd');
    expect(tableCell('ab\u202ecd', 9)).toBe('ab\\u202e…');
    expect(tableCell('ab\u202ecd', 8)).toBe('ab…');
  });
});

describe('escaping short cells', () => {
  it.each([
    ['\u0000', '\\u0000'],
    ['\u001f', '\\u001f'],
    ['\u007f', '\\u007f'],
    ['\u009f', '\\u009f'],
    ['\u202a', '\\u202a'],
    ['\u202e', '\\u202e'],
    ['\u2066', '\\u2066'],
    ['\u2069', '\\u2069'],
    ['\n', '\\n'],
  ])('escapes %j', (char, escaped) => {
    expect(tableCell(`a${char}b`)).toBe(`a${escaped}b`);
  });

  it.each([' ', '~', '\u00a0', '\u2029', '\u2065', '\u206a', '\u202f', '\u0100'])('leaves %j as it is', (char) => {
    expect(tableCell(`a${char}b`)).toBe(`a${char}b`);
  });

  it('escapes a right-to-left override in a table row, and sizes the column from the escaped text', () => {
    expect(asciiTable(['File'], [['admin\u202egnp.exe']])).toBe(`File${' '.repeat(15)}\n${'-'.repeat(18)} \nadmin\\u202egnp.exe \n`);
  });
});
