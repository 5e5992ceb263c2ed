import { describe, expect, it, vi } from 'vitest';
import { isKind } from '../errors/index.js';
import { defaultAuthPreference, parseAuthPreference } from './auth-preference.js';
import { parseRole } from './role.js';
import { parseProvisionToken } from './token.js';
import { parseUser } from './user.js';
import { resourceFromYaml, resourceToYaml } from './yaml.js';

function errorOf(fn: () => unknown): Error & { hint?: string } {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw');
}

const DEV_ROLE_YAML = `kind: role
metadata:
  name: dev
spec:
  allow:
    db_labels:
      env:
      - dev
      - staging
    db_users:
    - '{{internal.db_users}}'
    logins:
    - '{{internal.logins}}'
    node_labels:
      '*': '*'
  deny:
    logins:
    - root
  options:
    cert_format: standard
    disconnect_expired_cert: false
    forward_agent: false
    max_session_ttl: 8h0m0s
    port_forwarding: true
    record_session:
      default: best_effort
      desktop: true
    require_session_mfa: false
version: v7
`;

describe('resourceToYaml', () => {
  it('prints a role in tctl get style: sorted keys, unindented sequences, Go durations', () => {
    const role = parseRole({
      kind: 'role',
      version: 'v7',
      metadata: { name: 'dev' },
      spec: {
        allow: { logins: ['{{internal.logins}}'], node_labels: { '*': '*' }, db_labels: { env: ['dev', 'staging'] }, db_users: ['{{internal.db_users}}'] },
        deny: { logins: ['root'] },
        options: { max_session_ttl: '8h' },
      },
    });
    expect(resourceToYaml(role)).toBe(DEV_ROLE_YAML);
  });

  it('separates several resources with --- and quotes strings YAML 1.1 would misread', () => {
    const pref = parseAuthPreference({ spec: { second_factor: 'off' } });
    const token = parseProvisionToken({ metadata: { name: 'abc', expires: '2030-01-01T00:00:00Z' }, spec: { roles: 'node,db' } });
    const text = resourceToYaml([pref, token]);
    expect(text.split('---\n')).toHaveLength(2);
    expect(text).toContain("second_factor: 'off'");
    expect(text).toContain("expires: '2030-01-01T00:00:00.000Z'");
    expect(text).toContain('roles:\n  - Node\n  - Db\n');
  });
});

describe('resourceFromYaml', () => {
  it('refuses a collection used as a key in one line, printing no library warning', () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      expect(() => resourceFromYaml('kind: role\nversion: v7\nmetadata:\n  name: x\n? [a, b]\n: 1\n')).toThrow(/is not a known field/);
      expect(warn).not.toHaveBeenCalled();
    } finally {
      warn.mockRestore();
    }
  });

  it('parses the output of resourceToYaml back to equal resources', () => {
    const resources = [
      parseRole({ metadata: { name: 'dev' }, spec: { allow: { logins: ['a'], node_labels: { env: ['a', 'b'] } }, options: { max_session_ttl: '1h30m' } } }),
      parseUser({ metadata: { name: 'alice' }, spec: { roles: ['dev'], traits: { logins: ['alice'] } } }),
      parseProvisionToken({ metadata: { name: 'abc' }, spec: { roles: ['Node'] } }),
      defaultAuthPreference(),
    ];
    expect(resourceFromYaml(resourceToYaml(resources))).toEqual(resources);
  });

  it('parses a hand-written multi-document file, skipping empty documents', () => {
    const text = `---
kind: role
version: v7
metadata:
  name: dev
spec:
  allow:
    logins: [ubuntu]
    node_labels:
      env: dev
---
# a comment-only document
---
kind: user
version: v2
metadata:
  name: alice
spec:
  roles: [dev]
---
kind: cluster_auth_preference
version: v2
metadata:
  name: cluster-auth-preference
spec:
  type: local
  second_factor: off
`;
    const out = resourceFromYaml(text);
    expect(out.map((r) => r.kind)).toEqual(['role', 'user', 'cluster_auth_preference']);
    const [role, , pref] = out;
    expect(role?.kind === 'role' && role.spec.allow.node_labels).toEqual({ env: ['dev'] });
    expect(pref?.kind === 'cluster_auth_preference' && pref.spec.second_factor).toBe('off');
  });

  it('returns nothing for empty input', () => {
    expect(resourceFromYaml('')).toEqual([]);
    expect(resourceFromYaml('---\n---\n')).toEqual([]);
  });

  it.each([
    ['kind: role\nmetadata:\n\tname: x\n', /^malformed YAML at line 3, column 1: Tabs are not allowed/],
    ['kind: role\nmetadata: {name: x\nspec: [\n', /^malformed YAML at line \d+, column \d+: /],
    ['kind: role\nkind: user\n', /^malformed YAML at line 2, column 1: Map keys must be unique/],
    ['- a\n- b\n', /^a resource must be a mapping/],
    ['metadata: {name: x}\n', /^resource is missing kind$/],
    ['kind: widget\nmetadata: {name: x}\n', /^unsupported resource kind "widget"$/],
    ['kind: role\nmetadata: {name: a}\n---\nkind: role\nmetadata: {name: b}\nspec: {allow: {logins: root}}\n', /^document 2: role "b": spec\.allow\.logins must be a list of strings$/],
  ])('rejects %j', (text, message) => {
    const err = errorOf(() => resourceFromYaml(text));
    expect(isKind(err, 'bad-parameter')).toBe(true);
    expect(err.message).toMatch(message);
  });

  it('lists the supported kinds in the hint for an unknown kind', () => {
    expect(errorOf(() => resourceFromYaml('kind: widget\n')).hint).toBe('supported kinds: role, user, token, cluster_auth_preference, lock, node');
  });

  it('does not echo the input of a malformed document (it may hold a token)', () => {
    const err = errorOf(() => resourceFromYaml('kind: token\nmetadata:\n  name: s3cr3t-t0ken\n  name: again\n'));
    expect(err.message).not.toContain('s3cr3t');
  });

  it('refuses oversized input', () => {
    expect(errorOf(() => resourceFromYaml('#'.repeat(1024 * 1024 + 1))).message).toMatch(/larger than/);
  });

  it('refuses nesting deeper than 128 levels before the YAML library composes it, every time in one process', () => {
    // Two stack overflows inside the library abort the process (V8 "RegExpCompiler Allocation failed").
    const deep = '['.repeat(1000) + ']'.repeat(1000);
    for (const text of [`${deep}\n---\n${deep}\n`, '- '.repeat(1000), `kind: role\nspec:\n${Array.from({ length: 200 }, (_, i) => `${' '.repeat(i + 1)}k${i}:`).join('\n')} 1\n`]) {
      expect(errorOf(() => resourceFromYaml(text)).message).toMatch(/^malformed YAML at line \d+: nested deeper than 128 levels$/);
    }
    // 100 levels still reach the schema, which refuses the field for what it is.
    expect(errorOf(() => resourceFromYaml(`kind: role\nmetadata: {name: x}\nspec: ${'['.repeat(100)}${']'.repeat(100)}\n`)).message).toBe('role "x": spec must be a mapping');
  });
});
