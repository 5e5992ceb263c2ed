import { describe, expect, it } from 'vitest';
import { isKind } from '../errors/index.js';
import { parseProvisionToken, parseSystemRoles, provisionTokenToWire } from './token.js';

const SECRET = '0123456789abcdef0123456789abcdef';

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw');
}

describe('parseSystemRoles', () => {
  it.each([
    ['node,db', ['Node', 'Db']],
    ['Node, Db ,proxy', ['Node', 'Db', 'Proxy']],
    ['NODE,node', ['Node']],
    ['windowsdesktop,trusted_cluster,app,kube', ['WindowsDesktop', 'Trusted_cluster', 'App', 'Kube']],
    [['auth', 'Instance'], ['Auth', 'Instance']],
    ['', []],
  ])('%j -> %j', (input, roles) => {
    expect(parseSystemRoles(input)).toEqual(roles);
  });

  it('rejects an unknown role with a hint', () => {
    const err = errorOf(() => parseSystemRoles('node,database'));
    expect(isKind(err, 'bad-parameter')).toBe(true);
    expect(err.message).toBe('unknown system role "database"');
    expect((err as { hint?: string }).hint).toContain('Db');
  });
});

describe('parseProvisionToken', () => {
  it('parses roles from a list or a comma string and defaults join_method', () => {
    const a = parseProvisionToken({ kind: 'token', version: 'v2', metadata: { name: SECRET, expires: '2030-01-01T00:00:00Z' }, spec: { roles: ['Node', 'Db'] } });
    expect(a).toEqual({
      kind: 'token',
      version: 'v2',
      metadata: { name: SECRET, expires: '2030-01-01T00:00:00.000Z' },
      spec: { roles: ['Node', 'Db'], join_method: 'token' },
    });
    expect(Object.isFrozen(a.spec.roles)).toBe(true);
    const b = parseProvisionToken({ metadata: { name: SECRET }, spec: { roles: 'node,db', join_method: 'token' } });
    expect(b.spec.roles).toEqual(['Node', 'Db']);
    expect(parseProvisionToken(provisionTokenToWire(a))).toEqual(a);
  });

  it.each([
    [{ spec: { roles: [] } }, 'token: spec.roles must list at least one system role'],
    [{ spec: {} }, 'token: spec.roles must be a list of system roles'],
    [{ spec: { roles: ['Admin'] } }, 'token: spec.roles must not grant Admin'],
    [{ spec: { roles: ['Bot'] } }, 'token: spec.roles must not grant Bot'],
    [{ spec: { roles: ['Nodes'] } }, 'token: spec.roles has unknown system role "Nodes"'],
    [{ spec: { roles: ['Node'], join_method: 'iam' } }, 'token: spec.join_method "iam" is not supported, use token'],
    [{ spec: { roles: ['Node'], bot_name: 'x' } }, 'token: spec.bot_name is not a known field'],
    [{ metadata: { name: SECRET, expires: 'never' }, spec: { roles: ['Node'] } }, 'token: metadata.expires must be an RFC 3339 timestamp'],
  ])('rejects %j without quoting the secret', (partial, message) => {
    const err = errorOf(() => parseProvisionToken({ kind: 'token', metadata: { name: SECRET }, ...partial }));
    expect(isKind(err, 'bad-parameter')).toBe(true);
    expect(err.message).toContain(message);
    expect(err.message).not.toContain(SECRET);
  });

  it('never quotes the secret in name errors', () => {
    const bad = `${SECRET}/x`;
    const err = errorOf(() => parseProvisionToken({ metadata: { name: bad }, spec: { roles: ['Node'] } }));
    expect(err.message).toBe('token: metadata.name must not contain "/", control characters or surrounding spaces');
    expect(errorOf(() => parseProvisionToken({ metadata: {}, spec: { roles: ['Node'] } })).message).toBe('token: metadata.name is required');
  });
});
