import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseAllDocumentsWithinDepth, yamlTooDeepAt } from './yaml-depth.js';

/** Inputs the library reads with errors on the first line, later lines, several documents, CRLF, a BOM, directives. */
const SAMPLES = [
  '',
  '---\n---\n',
  'kind: role\nmetadata:\n  name: dev\n',
  'kind: role\nmetadata:\n\tname: x\n',
  'kind: role\nmetadata: {name: x\nspec: [\n',
  'kind: role\nkind: user\n',
  '{a: 1\n',
  ']\n',
  'a: 1\n---\nb: [1, 2\n---\nc: *nope\n',
  'a: 1\r\nb:\r\n  - x\r\n  -y: 2\r\n',
  '\ufeffa: 1\nb: "unterminated\n',
  '%YAML 1.1\n%TAG ! tag:x,2000:\n--- !x\na: !!binary AAAA\n...\n%BAD\n',
  'a: &x 1\nb: *x\n? [k]\n: v\n- oops\n',
  'key: |\n  text\n bad\n',
  'a:\n  b:\n    c: 1\n   d: 2\n',
  '"\\q"\n',
];

function outcome(fn: () => unknown): unknown {
  try {
    return { value: fn() };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

describe('parseAllDocumentsWithinDepth', () => {
  it.each(SAMPLES)('gives what the library gives for %j: values, errors and their line and column', (text) => {
    const parsed = parseAllDocumentsWithinDepth(text, { uniqueKeys: true });
    if (!('docs' in parsed)) throw new Error('unexpectedly too deep');
    const theirs = parseAllDocuments(text, { uniqueKeys: true });
    const docs = Array.isArray(theirs) ? theirs : [];
    expect(parsed.docs.length).toBe(docs.length);
    parsed.docs.forEach((doc, i) => {
      const their = docs[i]!;
      expect(doc.errors.map((e) => [e.code, e.pos])).toEqual(their.errors.map((e) => [e.code, e.pos]));
      // The library prettifies its messages (" at line L, column C" and the quoted line); ours are the plain ones.
      doc.errors.forEach((e, j) => {
        expect(their.errors[j]!.message.startsWith(e.message)).toBe(true);
        if (e.pos[0] !== -1) expect(parsed.lines.linePos(e.pos[0])).toEqual(their.errors[j]!.linePos?.[0]);
      });
      if (doc.errors.length === 0) expect(outcome(() => doc.toJS())).toEqual(outcome(() => their.toJS()));
    });
  });

  it('refuses a deep document after a shallow one, at the same line as yamlTooDeepAt, with no document composed', () => {
    const text = `a: 1\n---\nb: ${'['.repeat(200)}${']'.repeat(200)}\n`;
    expect(parseAllDocumentsWithinDepth(text)).toEqual({ tooDeepAt: 3 });
    expect(yamlTooDeepAt(text)).toBe(3);
    const indented = `kind: role\nspec:\n${Array.from({ length: 200 }, (_, i) => `${' '.repeat(i + 1)}k${i}:`).join('\n')} 1\n`;
    expect(parseAllDocumentsWithinDepth(indented)).toEqual({ tooDeepAt: yamlTooDeepAt(indented) });
    expect(yamlTooDeepAt(indented)).toBe(131); // 129 spaces
  });

  it('still composes 128 levels', () => {
    const parsed = parseAllDocumentsWithinDepth(`${'['.repeat(128)}${']'.repeat(128)}\n`);
    expect('docs' in parsed && parsed.docs[0]!.errors).toEqual([]);
  });
});
