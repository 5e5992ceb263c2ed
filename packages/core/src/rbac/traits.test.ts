import { describe, expect, it } from 'vitest';
import type { Traits } from '../types/index.js';
import { applyTraits, applyTraitsToLabels, applyTraitsToList } from './traits.js';

const traits: Traits = {
  logins: ['alice', 'ubuntu'],
  db_users: ['alice'],
  db_names: [],
  team: ['blue', ''],
  'http://schemas/claims/group': ['admins'],
  env: ['dev', 'staging'],
};

describe('applyTraits', () => {
  it.each([
    ['root', ['root']],
    ['{{internal.logins}}', ['alice', 'ubuntu']],
    ['{{external.logins}}', ['alice', 'ubuntu']],
    ['{{internal.db_users}}', ['alice']],
    ['{{internal.db_names}}', []],
    ['{{internal.windows_logins}}', []],
    ['{{external.missing}}', []],
    ['{{external.team}}', ['blue']],
    ['team-{{external.team}}-ro', ['team-blue-ro']],
    ['{{external["http://schemas/claims/group"]}}', ['admins']],
    ['{{external.toString}}', []],
    ['{{broken', []],
  ])('%j -> %j', (value, expected) => {
    expect(applyTraits(value, traits)).toEqual(expected);
  });

  it('expands and deduplicates lists', () => {
    expect(applyTraitsToList(['{{internal.logins}}', 'alice', 'root', '{{external.nope}}'], traits)).toEqual(['alice', 'ubuntu', 'root']);
  });
});

describe('applyTraitsToLabels', () => {
  it.each([
    [{ '*': ['*'] }, { '*': ['*'] }],
    [{ env: ['{{external.env}}'] }, { env: ['dev', 'staging'] }],
    [{ env: ['{{external.nope}}'] }, { env: [] }],
    [{ '{{external.team}}': ['yes'] }, { blue: ['yes'] }],
    [{ '{{external.nope}}': ['yes'], env: ['dev'] }, {}],
    [{ '{{internal.logins}}': ['x'] }, { alice: ['x'] }],
  ])('%j -> %j', (selector, expected) => {
    expect(applyTraitsToLabels(selector, traits)).toEqual(expected);
  });
});
