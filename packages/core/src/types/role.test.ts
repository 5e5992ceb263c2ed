import { describe, expect, it } from 'vitest';
import { isKind } from '../errors/index.js';
import { DEFAULT_MAX_SESSION_TTL_MS, parseRole, roleToWire } from './role.js';

function errorOf(fn: () => unknown): Error & { kind?: string } {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw');
}

const role = (spec: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  kind: 'role',
  version: 'v7',
  metadata: { name: 'dev' },
  spec,
  ...extra,
});

describe('parseRole', () => {
  it('fills defaults for an empty role', () => {
    const r = parseRole({ kind: 'role', metadata: { name: 'empty' } });
    expect(r).toEqual({
      kind: 'role',
      version: 'v7',
      metadata: { name: 'empty' },
      spec: {
        allow: { logins: [], node_labels: {}, db_labels: {}, db_names: [], db_users: [], rules: [] },
        deny: { logins: [], node_labels: {}, db_labels: {}, db_names: [], db_users: [], rules: [] },
        options: {
          max_session_ttl: DEFAULT_MAX_SESSION_TTL_MS,
          forward_agent: false,
          port_forwarding: true,
          record_session: { default: 'best_effort', desktop: true },
          cert_format: 'standard',
          disconnect_expired_cert: false,
          require_session_mfa: false,
        },
      },
    });
  });

  it('returns a deeply frozen role', () => {
    const r = parseRole(role({ allow: { logins: ['root'], node_labels: { env: 'dev' } } }));
    expect(Object.isFrozen(r)).toBe(true);
    expect(Object.isFrozen(r.spec.allow.logins)).toBe(true);
    expect(Object.isFrozen(r.spec.allow.node_labels['env'])).toBe(true);
    expect(() => (r.spec.allow.logins as string[]).push('x')).toThrow(TypeError);
  });

  it('parses conditions, label values as lists, durations as milliseconds', () => {
    const r = parseRole(
      role({
        allow: {
          logins: ['{{internal.logins}}', 'ubuntu', 'ubuntu'],
          node_labels: { env: 'dev', region: ['eu-*', '^us-(east|west)-[0-9]$'] },
          db_labels: { '*': '*' },
          db_names: ['{{internal.db_names}}', 'app'],
          db_users: ['{{external["db-user"]}}'],
          rules: [{ resources: ['session'], verbs: ['list', 'read'], where: 'contains(session.participants, user.metadata.name)' }],
          request: { roles: ['admin'] },
        },
        deny: { logins: ['root'] },
        options: { max_session_ttl: '8h', forward_agent: true, client_idle_timeout: '15m', record_session: { desktop: false, ssh: 'strict' } },
      }),
    );
    expect(r.spec.allow.logins).toEqual(['{{internal.logins}}', 'ubuntu']);
    expect(r.spec.allow.node_labels).toEqual({ env: ['dev'], region: ['eu-*', '^us-(east|west)-[0-9]$'] });
    expect(r.spec.allow.db_labels).toEqual({ '*': ['*'] });
    expect(r.spec.allow.db_users).toEqual(['{{external["db-user"]}}']);
    expect(r.spec.allow.rules[0]?.where).toBe('contains(session.participants, user.metadata.name)');
    expect(r.spec.allow.request).toEqual({ roles: ['admin'], search_as_roles: [] });
    expect(r.spec.deny.logins).toEqual(['root']);
    expect(r.spec.options.max_session_ttl).toBe(8 * 3_600_000);
    expect(r.spec.options.client_idle_timeout).toBe(15 * 60_000);
    expect(r.spec.options.forward_agent).toBe(true);
    expect(r.spec.options.record_session).toEqual({ desktop: false, ssh: 'strict' });
  });

  it('treats max_session_ttl 0 as unset, like Teleport', () => {
    expect(parseRole(role({ options: { max_session_ttl: '0' } })).spec.options.max_session_ttl).toBe(DEFAULT_MAX_SESSION_TTL_MS);
  });

  it('accepts v5 and v6 roles and fills kind and version', () => {
    expect(parseRole(role({}, { version: 'v6' })).version).toBe('v6');
    expect(parseRole(role({}, { version: 'v5' })).version).toBe('v5');
    expect(parseRole({ metadata: { name: 'x' } })).toMatchObject({ kind: 'role', version: 'v7' });
  });

  it('accepts and drops Teleport fields for services this implementation does not run', () => {
    const r = parseRole(
      role({
        allow: {
          app_labels: { '*': '*' },
          kubernetes_groups: ['{{internal.kubernetes_groups}}'],
          windows_desktop_logins: ['{{internal.windows_logins}}'],
          namespaces: ['default'],
          require_session_join: [],
        },
        options: { enhanced_recording: ['command', 'network'], desktop_clipboard: true, pin_source_ip: false, max_connections: 0 },
      }, { metadata: { name: 'dev', namespace: 'default' } }),
    );
    expect(Object.keys(r.spec.allow).sort()).toEqual(['db_labels', 'db_names', 'db_users', 'logins', 'node_labels', 'rules']);
    expect(r.spec.options).not.toHaveProperty('enhanced_recording');
  });

  it.each([
    [role({ allow: { logins: 'root' } }), 'role "dev": spec.allow.logins must be a list of strings'],
    [role({ allow: { logins: [1] } }), 'role "dev": spec.allow.logins must be a list of strings'],
    [role({ deny: { db_users: [''] } }), 'role "dev": spec.deny.db_users must not contain empty strings'],
    [role({ allow: { node_labels: ['env'] } }), 'role "dev": spec.allow.node_labels must be a mapping of label name to a value or a list of values'],
    [role({ allow: { node_labels: { env: 3 } } }), 'role "dev": spec.allow.node_labels["env"] must be a string or a list of strings'],
    [role({ allow: { db_labels: { '*': 'prod' } } }), `role "dev": spec.allow.db_labels["*"] only supports the value "*" ('*': '*' matches every resource)`],
    [role({ allow: { db_labels: { env: '^(prod$' } } }), 'role "dev": spec.allow.db_labels["env"] has an invalid regular expression "^(prod$"'],
    [role({ allow: { logins: ['{{internal.login}}'] } }), 'unknown internal trait "login"'],
    [role({ allow: { logins: ['{{email.local(external.email)}}'] } }), 'template functions are not supported'],
    [role({ allow: { logins: ['{{internal.logins'] } }), 'uses template brackets'],
    [role({ allow: { logins: ['{{internal.logins}}{{internal.logins}}'] } }), 'uses template brackets'],
    [role({ allow: { app_label: {} } }), 'role "dev": spec.allow.app_label is not a known field'],
    [role({ allow: { node_labels_expression: 'labels.env == "dev"' } }), 'role "dev": spec.allow.node_labels_expression is not a known field'],
    [role({ allow: { require_session_join: [{ name: 'auditor' }] } }), 'spec.allow.require_session_join is not supported'],
    [role({ allow: { rules: [{ resources: ['user'] }] } }), 'role "dev": spec.allow.rules[0].verbs must list at least one verb'],
    [role({ allow: { rules: [{ resources: [], verbs: ['read'] }] } }), 'role "dev": spec.allow.rules[0].resources must list at least one resource kind'],
    [role({ allow: { rules: { resources: ['user'] } } }), 'role "dev": spec.allow.rules must be a list of rules'],
    [role({ allow: { request: { roles: ['a'], claims: [] } } }), 'role "dev": spec.allow.request.claims is not a known field'],
    [role({ options: { max_session_ttl: '8 hours' } }), 'role "dev": spec.options.max_session_ttl has an invalid duration "8 hours"'],
    [role({ options: { max_session_ttl: 3600 } }), 'role "dev": spec.options.max_session_ttl must be a duration such as 8h, 30m or 1h30m'],
    [role({ options: { max_session_ttl: '-1h' } }), 'role "dev": spec.options.max_session_ttl must not be negative'],
    [role({ options: { forward_agent: 'yes' } }), 'role "dev": spec.options.forward_agent must be true or false'],
    [role({ options: { record_session: { default: 'always' } } }), 'role "dev": spec.options.record_session.default must be one of best_effort, strict, got "always"'],
    [role({ options: { cert_format: 'new' } }), 'spec.options.cert_format must be one of standard, oldssh'],
    [role({ options: { require_session_mfa: 'hardware_key' } }), 'spec.options.require_session_mfa must be true or false'],
    [role({ options: { ssh_port_forwarding: { local: { enabled: false } } } }), 'spec.options.ssh_port_forwarding is not supported, use port_forwarding'],
    [role({ options: { pin_source_ip: true } }), 'role "dev": spec.options.pin_source_ip is not supported by this implementation'],
    [role({ options: { max_sessions: 2 } }), 'spec.options.max_sessions is not supported by this implementation'],
    [role({ options: { foo: 1 } }), 'role "dev": spec.options.foo is not a known field'],
    [role({ allowed: {} }), 'role "dev": spec.allowed is not a known field'],
    [role({}, { version: 'v3' }), 'role "dev": version "v3" is not supported, use v7 or v6 or v5'],
    [role({}, { kind: 'user' }), 'role "dev": kind must be "role", got "user"'],
    [role({}, { metadata: {} }), 'role: metadata.name is required'],
    [role({}, { metadata: { name: 'a/b' } }), 'role: metadata.name "a/b" must not contain "/"'],
    [role({}, { metadata: { name: 'x', labels: { n: 1 } } }), 'role "x": metadata.labels["n"] must be a string'],
    [role({}, { metadata: { name: 'x', expires: 'tomorrow' } }), 'role "x": metadata.expires must be an RFC 3339 timestamp'],
    ['role', 'role must be a mapping'],
  ])('rejects %j', (input, message) => {
    const err = errorOf(() => parseRole(input));
    expect(isKind(err, 'bad-parameter')).toBe(true);
    expect(err.message).toContain(message);
    expect(err.message).not.toContain('\n');
  });

  it('normalizes metadata.expires and drops Go zero time', () => {
    expect(parseRole(role({}, { metadata: { name: 'x', expires: '2030-01-01T00:00:00+01:00' } })).metadata.expires).toBe('2029-12-31T23:00:00.000Z');
    expect(parseRole(role({}, { metadata: { name: 'x', expires: '0001-01-01T00:00:00Z' } })).metadata).not.toHaveProperty('expires');
  });
});

describe('roleToWire', () => {
  it('omits empty conditions, writes one-value labels as strings and durations as Go text', () => {
    const r = parseRole(role({ allow: { logins: ['a'], node_labels: { env: 'dev', tier: ['a', 'b'] } }, options: { max_session_ttl: '1h30m' } }));
    const wire = roleToWire(r) as { spec: { allow: unknown; deny: unknown; options: Record<string, unknown> } };
    expect(wire.spec.allow).toEqual({ logins: ['a'], node_labels: { env: 'dev', tier: ['a', 'b'] } });
    expect(wire.spec.deny).toEqual({});
    expect(wire.spec.options['max_session_ttl']).toBe('1h30m0s');
    expect(parseRole(wire)).toEqual(r);
  });
});

describe('access request fields', () => {
  it('reads request roles (templates, wildcards), thresholds, max_duration, review_requests and the request options', () => {
    const r = parseRole(
      role({
        allow: {
          request: {
            roles: ['dba', 'db-*', '{{external.requestable}}'],
            search_as_roles: ['access'],
            thresholds: [{ name: 'two', approve: 2, deny: 1, filter: 'contains(reviewer.roles, "reviewer")' }, {}],
            max_duration: '4h',
            suggested_reviewers: ['alice'],
          },
          review_requests: { roles: ['dba'], preview_as_roles: ['dba'] },
        },
        deny: { review_requests: { roles: ['admin'] } },
        options: { request_access: 'reason', request_prompt: 'Which incident?' },
      }),
    );
    expect(r.spec.allow.request).toEqual({
      roles: ['dba', 'db-*', '{{external.requestable}}'],
      search_as_roles: ['access'],
      thresholds: [{ name: 'two', approve: 2, deny: 1, filter: 'contains(reviewer.roles, "reviewer")' }, { approve: 1, deny: 1 }],
      max_duration: 4 * 3_600_000,
    });
    expect(r.spec.allow.review_requests).toEqual({ roles: ['dba'] });
    expect(r.spec.deny.review_requests).toEqual({ roles: ['admin'] });
    expect(r.spec.options.request_access).toBe('reason');
    expect(r.spec.options.request_prompt).toBe('Which incident?');
    expect(parseRole(roleToWire(r))).toEqual(r);
  });

  it('refuses a bad request_access, a negative threshold, a bad template and a review where clause', () => {
    expect(() => parseRole(role({ options: { request_access: 'sometimes' } }))).toThrow(/request_access must be one of optional, reason, always/);
    expect(() => parseRole(role({ allow: { request: { thresholds: [{ approve: -1 }] } } }))).toThrow(/thresholds/);
    expect(() => parseRole(role({ allow: { request: { roles: ['{{internal.x'] } } }))).toThrow(/request\.roles/);
    expect(() => parseRole(role({ allow: { review_requests: { roles: ['a'], where: 'contains(x)' } } }))).toThrow(/where/);
  });
});
