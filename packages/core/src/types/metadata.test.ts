import { describe, expect, it } from 'vitest';
import { isCanonicalMetadata, isStringRecord } from './metadata.js';

describe('isCanonicalMetadata', () => {
  it.each([
    ['a name alone', { name: 'n1' }],
    ['every field as toMetadata writes it', { name: 'n1', description: 'd', labels: { env: 'dev' }, expires: '2030-01-31T12:00:00.000Z', revision: 'r1' }],
    ['expires just after Go zero time', { name: 'n1', expires: '0001-01-01T00:00:00.001Z' }],
    ['expires on the 31st of a long month', { name: 'n1', expires: '2030-01-31T23:59:59.999Z' }],
    ['expires on 29 February of a leap year', { name: 'n1', expires: '2028-02-29T00:00:00.000Z' }],
  ])('accepts %s', (_what, meta) => {
    expect(isCanonicalMetadata(meta)).toBe(true);
  });

  it.each([
    ['expires at Go zero time (year 0001)', { name: 'n1', expires: '0001-01-01T00:00:00.000Z' }],
    ['expires without milliseconds', { name: 'n1', expires: '2030-01-31T12:00:00Z' }],
    ['expires with an offset', { name: 'n1', expires: '2030-01-31T12:00:00.000+00:00' }],
    ['expires that is not a date', { name: 'n1', expires: '2030-13-01T00:00:00.000Z' }],
    ['expires on a day the month lacks (Date.parse rolls it over)', { name: 'n1', expires: '2030-02-30T00:00:00.000Z' }],
    ['expires at hour 24 (rolls over to the next day)', { name: 'n1', expires: '2030-01-01T24:00:00.000Z' }],
    ['an empty description', { name: 'n1', description: '' }],
    ['empty labels', { name: 'n1', labels: {} }],
    ['a label value that is a number', { name: 'n1', labels: { env: 1 } }],
    ['an empty revision', { name: 'n1', revision: '' }],
    ['an unknown key (namespace)', { name: 'n1', namespace: 'default' }],
    ['no name', { labels: { env: 'dev' } }],
    ['an empty name', { name: '' }],
    ['a name with a slash', { name: 'a/b' }],
    ['a name with surrounding spaces', { name: ' n1' }],
    ['a name longer than 255 characters', { name: 'x'.repeat(256) }],
    ['a list', [{ name: 'n1' }]],
    ['null', null],
  ])('refuses %s', (_what, meta) => {
    expect(isCanonicalMetadata(meta)).toBe(false);
  });
});

describe('isStringRecord', () => {
  it('accepts mappings of strings, the empty one included, and nothing else', () => {
    expect(isStringRecord({ a: 'x', b: '' })).toBe(true);
    expect(isStringRecord({})).toBe(true);
    expect(isStringRecord({ a: 'x', b: 2 })).toBe(false);
    expect(isStringRecord(['x'])).toBe(false);
    expect(isStringRecord(null)).toBe(false);
  });
});
