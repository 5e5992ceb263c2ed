import { describe, expect, it } from 'vitest';
import { resourceFromYaml, resourceToYaml } from '../types/index.js';
import { newAccessChecker } from './checker.js';
import {
  newPresetAccessRole,
  newPresetAuditorRole,
  newPresetEditorRole,
  newPresetRequesterRole,
  newPresetReviewerRole,
  PRESET_LABELS,
  presetRoles,
} from './presets.js';

const H = 3_600_000;

describe('preset roles', () => {
  it('are the five Teleport presets, labelled as presets', () => {
    const roles = presetRoles();
    expect(roles.map((r) => r.metadata.name)).toEqual(['access', 'editor', 'auditor', 'requester', 'reviewer']);
    for (const role of roles) expect(role.metadata.labels).toEqual(PRESET_LABELS);
    expect(roles.map((r) => r.version)).toEqual(['v7', 'v7', 'v7', 'v6', 'v6']);
  });

  it('access: templated logins/db users/db names on every node and database', () => {
    const access = newPresetAccessRole();
    expect(access.spec.allow.logins).toEqual(['{{internal.logins}}']);
    expect(access.spec.allow.node_labels).toEqual({ '*': ['*'] });
    expect(access.spec.allow.db_labels).toEqual({ '*': ['*'] });
    expect(access.spec.allow.db_users).toEqual(['{{internal.db_users}}']);
    expect(access.spec.allow.db_names).toEqual(['{{internal.db_names}}']);
    expect(access.spec.options).toMatchObject({ max_session_ttl: 30 * H, forward_agent: true, port_forwarding: true, cert_format: 'standard' });

    const checker = newAccessChecker({ roles: [access], traits: { logins: ['alice', 'ubuntu'], db_users: ['alice'], db_names: ['app'] } });
    expect(checker.allowedLogins()).toEqual(['alice', 'ubuntu']);
    expect(() => checker.checkLogin('ubuntu', { env: 'prod' })).not.toThrow();
    expect(() => checker.checkLogin('root', { env: 'prod' })).toThrow(/login "root" is not allowed/);
    expect(() => checker.checkDatabaseAccess({ dbLabels: {}, dbUser: 'alice', dbName: 'app', protocol: 'postgres' })).not.toThrow();
    expect(() => checker.checkDatabaseAccess({ dbLabels: {}, dbUser: 'alice', dbName: 'postgres', protocol: 'postgres' })).toThrow(/db name "postgres"/);
    expect(checker.allowsRule('event', 'list')).toBe(true);
    expect(checker.allowsRule('user', 'list')).toBe(false);
  });

  it('editor: manages users, roles, tokens and cluster config, but reaches no node or database', () => {
    const checker = newAccessChecker({ roles: [newPresetEditorRole()], traits: { logins: ['alice'] } });
    for (const kind of ['user', 'role', 'token', 'cluster_auth_preference', 'db', 'node', 'lock', 'github', 'oidc', 'saml']) {
      for (const verb of ['list', 'create', 'read', 'update', 'delete']) expect(checker.allowsRule(kind, verb)).toBe(true);
    }
    expect(checker.allowsRule('integration', 'use')).toBe(true);
    expect(checker.allowsRule('instance', 'update')).toBe(false);
    expect(checker.allowsRule('session', 'read')).toBe(false);
    expect(checker.allowedLogins()).toEqual([]);
    expect(checker.isNodeVisible({ env: 'dev' })).toBe(false);
    expect(checker.isDatabaseVisible({ env: 'dev' })).toBe(false);
  });

  it('auditor: reads sessions and events; its only login is a random placeholder', () => {
    const a = newPresetAuditorRole();
    const b = newPresetAuditorRole();
    expect(a.spec.allow.logins[0]).toMatch(/^no-login-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(a.spec.allow.logins[0]).not.toBe(b.spec.allow.logins[0]);
    const checker = newAccessChecker({ roles: [a] });
    expect(checker.allowsRule('session', 'read')).toBe(true);
    expect(checker.allowsRule('event', 'list')).toBe(true);
    expect(checker.allowsRule('session', 'delete')).toBe(false);
    expect(checker.allowsRule('role', 'read')).toBe(false);
  });

  it('requester: may request the access role and nothing else', () => {
    const checker = newAccessChecker({ roles: [newPresetRequesterRole()] });
    expect(checker.requestableRoles()).toEqual(['access']);
    expect(newPresetRequesterRole().spec.allow.request?.search_as_roles).toEqual(['access']);
    expect(checker.allowedLogins()).toEqual([]);
    expect(checker.allowsRule('user', 'read')).toBe(false);
  });

  it('reviewer: may review requests for the access role, and has no access itself', () => {
    const reviewer = newPresetReviewerRole();
    expect(reviewer.spec.allow.review_requests?.roles).toEqual(['access']);
    const checker = newAccessChecker({ roles: [reviewer] });
    expect(checker.allowedLogins()).toEqual([]);
    expect(checker.requestableRoles()).toEqual([]);
  });

  it('survive a YAML round trip', () => {
    const roles = presetRoles();
    expect(resourceFromYaml(resourceToYaml(roles))).toEqual(roles);
  });
});
