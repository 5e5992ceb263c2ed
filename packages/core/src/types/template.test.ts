import { describe, expect, it } from 'vitest';
import { isKind } from '../errors/index.js';
import { parseTraitTemplate } from './template.js';

describe('parseTraitTemplate', () => {
  it.each([
    ['ubuntu', null],
    ['*', null],
    ['^prod-.*$', null],
    ['{{internal.logins}}', { namespace: 'internal', name: 'logins', prefix: '', suffix: '' }],
    ['{{ internal.db_users }}', { namespace: 'internal', name: 'db_users', prefix: '', suffix: '' }],
    ['{{external.team}}', { namespace: 'external', name: 'team', prefix: '', suffix: '' }],
    ['{{external["http://schemas/claims/group"]}}', { namespace: 'external', name: 'http://schemas/claims/group', prefix: '', suffix: '' }],
    ['admin-{{external.team}}-ro', { namespace: 'external', name: 'team', prefix: 'admin-', suffix: '-ro' }],
  ])('%j', (value, expected) => {
    expect(parseTraitTemplate(value)).toEqual(expected);
  });

  it.each([
    ['{{internal.logins', 'uses template brackets'],
    ['internal.logins}}', 'uses template brackets'],
    ['{{a}}{{b}}', 'uses template brackets'],
    ['{{logins}}', 'is not a trait reference'],
    ['{{internal.nope}}', 'unknown internal trait "nope"'],
    ['{{email.local(external.email)}}', 'template functions are not supported'],
    ['{{regexp.replace(external.groups, "^(.*)$", "$1")}}', 'template functions are not supported'],
  ])('rejects %j', (value, message) => {
    let err: unknown;
    try {
      parseTraitTemplate(value);
    } catch (e) {
      err = e;
    }
    expect(isKind(err, 'bad-parameter')).toBe(true);
    expect((err as Error).message).toContain(message);
  });
});
