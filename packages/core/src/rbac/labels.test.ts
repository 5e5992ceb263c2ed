import { describe, expect, it } from 'vitest';
import { matchLabels } from './labels.js';

describe('matchLabels', () => {
  it.each([
    // Empty selector matches nothing.
    [{}, { env: 'prod' }, false],
    [{}, {}, false],
    // '*': '*' matches everything, even a resource without labels.
    [{ '*': ['*'] }, {}, true],
    [{ '*': ['*'] }, { env: 'prod' }, true],
    // Exact values; every key must match (AND), any value may (OR).
    [{ env: ['prod'] }, { env: 'prod' }, true],
    [{ env: ['prod'] }, { env: 'production' }, false],
    [{ env: ['prod'] }, { env: 'dev' }, false],
    [{ env: ['prod'] }, {}, false],
    [{ env: ['dev', 'prod'] }, { env: 'prod' }, true],
    [{ env: ['prod'], region: ['eu'] }, { env: 'prod', region: 'eu' }, true],
    [{ env: ['prod'], region: ['eu'] }, { env: 'prod', region: 'us' }, false],
    [{ env: ['prod'], region: ['eu'] }, { env: 'prod' }, false],
    // Value wildcard needs the key to exist.
    [{ env: ['*'] }, { env: 'anything' }, true],
    [{ env: ['*'] }, { region: 'eu' }, false],
    // Globs.
    [{ env: ['prod-*'] }, { env: 'prod-eu' }, true],
    [{ env: ['prod-*'] }, { env: 'xprod-eu' }, false],
    [{ host: ['db.*.example.com'] }, { host: 'db.eu.example.com' }, true],
    [{ host: ['db.example.com'] }, { host: 'dbXexample.com' }, false],
    // Anchored regular expressions.
    [{ env: ['^prod-[0-9]+$'] }, { env: 'prod-12' }, true],
    [{ env: ['^prod-[0-9]+$'] }, { env: 'prod-12a' }, false],
    [{ env: ['^(dev|staging)$'] }, { env: 'staging' }, true],
    [{ env: ['^(dev|staging)$'] }, { env: 'prod' }, false],
    // Not anchored at both ends: a glob, so the characters are literal.
    [{ env: ['^prod'] }, { env: 'prod' }, false],
    [{ env: ['^prod'] }, { env: '^prod' }, true],
    // Keys are case-sensitive.
    [{ Env: ['prod'] }, { env: 'prod' }, false],
  ])('%j vs %j -> %s', (selector, labels, expected) => {
    expect(matchLabels(selector, labels)).toBe(expected);
  });

  it('treats an invalid regular expression as the caller says (fail closed)', () => {
    expect(matchLabels({ env: ['^(prod$'] }, { env: 'prod' })).toBe(false);
    expect(matchLabels({ env: ['^(prod$'] }, { env: 'prod' }, { invalidPatternMatches: true })).toBe(true);
  });

  it('does not treat inherited properties as labels', () => {
    expect(matchLabels({ constructor: ['*'] }, {})).toBe(false);
  });
});
