import { describe, expect, it } from 'vitest';
import { AccessDeniedError, isKind, NotFoundError } from '../errors/index.js';
import { parseRole, parseUser, type Role, type Traits } from '../types/index.js';
import { accessCheckerForUser, newAccessChecker, requiresDatabaseNameMatch, type DatabaseAccessRequest } from './checker.js';
import { newPresetAccessRole, newPresetAuditorRole, newPresetEditorRole } from './presets.js';

const H = 3_600_000;

function r(name: string, spec: Record<string, unknown>): Role {
  return parseRole({ kind: 'role', version: 'v7', metadata: { name }, spec });
}

function outcome(fn: () => void): string {
  try {
    fn();
    return 'ok';
  } catch (e) {
    if (isKind(e, 'access-denied') || isKind(e, 'bad-parameter')) return `${e.kind}: ${e.message}`;
    throw e;
  }
}

const ROLES: Record<string, Role> = {
  dev: r('dev', { allow: { db_labels: { env: 'dev' }, db_users: ['{{internal.db_users}}', 'readonly'], db_names: ['app', '{{internal.db_names}}'] } }),
  prodRo: r('prod-ro', { allow: { db_labels: { env: 'prod' }, db_users: ['readonly'], db_names: ['app'] } }),
  anyDev: r('any-dev', { allow: { db_labels: { env: ['dev', '^stag.*$'] }, db_users: ['*'], db_names: ['*'] } }),
  denyPostgresUser: r('no-superuser', { deny: { db_users: ['postgres'] } }),
  denySecret: r('no-secret', { deny: { db_labels: { tier: 'secret' } } }),
  denyAdminDb: r('no-admin-db', { deny: { db_names: ['admin'] } }),
  denyAllUsers: r('no-users', { deny: { db_users: ['*'] } }),
  denyBlocked: r('blocked', { deny: { db_users: ['{{external.blocked_db_users}}'] } }),
  pairA: r('pair-a', { allow: { db_labels: { env: 'dev' }, db_users: ['u1'], db_names: ['n1'] } }),
  pairB: r('pair-b', { allow: { db_labels: { env: 'dev' }, db_users: ['u2'], db_names: ['n2'] } }),
};

const TRAITS: Traits = { db_users: ['alice'], db_names: ['alice_db'], logins: ['alice', 'ubuntu'], blocked_db_users: ['mallory'] };

const db = (labels: Record<string, string>, dbUser: string, dbName: string, protocol = 'postgres'): DatabaseAccessRequest => ({
  dbLabels: labels,
  dbUser,
  dbName,
  protocol,
});

describe('checkDatabaseAccess', () => {
  it.each<[string, (keyof typeof ROLES)[], DatabaseAccessRequest, string]>([
    ['literal user and name', ['dev'], db({ env: 'dev' }, 'readonly', 'app'), 'ok'],
    ['user and name from traits', ['dev'], db({ env: 'dev' }, 'alice', 'alice_db'), 'ok'],
    ['user not allowed', ['dev'], db({ env: 'dev' }, 'bob', 'app'), 'access-denied: access to db denied: db user "bob" is not allowed'],
    ['name not allowed', ['dev'], db({ env: 'dev' }, 'alice', 'other'), 'access-denied: access to db denied: db name "other" is not allowed'],
    ['cockroachdb does not enforce db_names', ['dev'], db({ env: 'dev' }, 'alice', 'other', 'cockroachdb'), 'ok'],
    ['cockroachdb still enforces db_users', ['dev'], db({ env: 'dev' }, 'bob', 'app', 'cockroachdb'), 'access-denied: access to db denied: db user "bob" is not allowed'],
    ['labels select the role: prod role has no alice', ['dev', 'prodRo'], db({ env: 'prod' }, 'alice', 'app'), 'access-denied: access to db denied: db user "alice" is not allowed'],
    ['prod role allows readonly/app', ['dev', 'prodRo'], db({ env: 'prod' }, 'readonly', 'app'), 'ok'],
    ['no role matches the labels', ['dev', 'prodRo'], db({ env: 'qa' }, 'readonly', 'app'), 'access-denied: access to db denied: no role grants access to this database'],
    ['unlabelled database', ['dev'], db({}, 'readonly', 'app'), 'access-denied: access to db denied: no role grants access to this database'],
    ['wildcard users and names', ['anyDev'], db({ env: 'dev' }, 'anyone', 'anything'), 'ok'],
    ['regex label value', ['anyDev'], db({ env: 'staging' }, 'x', 'y'), 'ok'],
    ['deny db_users wins over allow *', ['anyDev', 'denyPostgresUser'], db({ env: 'dev' }, 'postgres', 'app'), 'access-denied: access to db denied: db user "postgres" is not allowed'],
    ['deny db_users does not touch other users', ['anyDev', 'denyPostgresUser'], db({ env: 'dev' }, 'alice', 'app'), 'ok'],
    ['deny labels win', ['anyDev', 'denySecret'], db({ env: 'dev', tier: 'secret' }, 'alice', 'app'), 'access-denied: access to db denied: denied by a deny rule'],
    ['deny db_names wins', ['anyDev', 'denyAdminDb'], db({ env: 'dev' }, 'alice', 'admin'), 'access-denied: access to db denied: db name "admin" is not allowed'],
    ['deny db_names is not enforced for cockroachdb', ['anyDev', 'denyAdminDb'], db({ env: 'dev' }, 'alice', 'admin', 'cockroachdb'), 'ok'],
    ['deny * users blocks everyone', ['anyDev', 'denyAllUsers'], db({ env: 'dev' }, 'alice', 'app'), 'access-denied: access to db denied: db user "alice" is not allowed'],
    ['deny from a trait template', ['anyDev', 'denyBlocked'], db({ env: 'dev' }, 'mallory', 'app'), 'access-denied: access to db denied: db user "mallory" is not allowed'],
    ['user and name must come from the same role', ['pairA', 'pairB'], db({ env: 'dev' }, 'u1', 'n2'), 'access-denied: access to db denied: db user "u1" is not allowed with db name "n2"'],
    ['same-role pair is fine', ['pairA', 'pairB'], db({ env: 'dev' }, 'u2', 'n2'), 'ok'],
    ['no roles at all', [], db({ env: 'dev' }, 'alice', 'app'), 'access-denied: access to db denied: no role grants access to this database'],
    ['empty db user', ['anyDev'], db({ env: 'dev' }, '', 'app'), 'bad-parameter: a database user is required'],
    ['empty db name for postgres', ['anyDev'], db({ env: 'dev' }, 'alice', ''), 'bad-parameter: a database name is required'],
    ['empty db name for cockroachdb', ['anyDev'], db({ env: 'dev' }, 'alice', '', 'cockroachdb'), 'ok'],
  ])('%s', (_name, roleKeys, request, expected) => {
    const checker = newAccessChecker({ roles: roleKeys.map((k) => ROLES[k] as Role), traits: TRAITS });
    expect(outcome(() => checker.checkDatabaseAccess(request))).toBe(expected);
  });

  it('expands missing traits to nothing', () => {
    const checker = newAccessChecker({ roles: [newPresetAccessRole()], traits: { logins: ['alice'] } });
    expect(outcome(() => checker.checkDatabaseAccess(db({ env: 'dev' }, 'alice', 'app')))).toBe('access-denied: access to db denied: db user "alice" is not allowed');
    expect(checker.allowedDbUsers()).toEqual([]);
  });

  it('throws AccessDeniedError instances', () => {
    const checker = newAccessChecker({ roles: [] });
    expect(() => checker.checkDatabaseAccess(db({}, 'a', 'b'))).toThrow(AccessDeniedError);
  });

  it.each([
    ['postgres', true],
    ['mongodb', true],
    ['cockroachdb', false],
    ['mysql', false],
    ['redis', false],
  ])('requiresDatabaseNameMatch(%s) = %s', (protocol, expected) => {
    expect(requiresDatabaseNameMatch(protocol)).toBe(expected);
  });
});

describe('isDatabaseVisible / isNodeVisible', () => {
  const checker = newAccessChecker({
    roles: [
      r('a', { allow: { db_labels: { env: 'dev' }, node_labels: { env: ['dev', 'prod'] } } }),
      r('b', { deny: { db_labels: { tier: 'secret' }, node_labels: { env: 'prod' } } }),
    ],
  });
  it.each([
    [{ env: 'dev' }, true],
    [{ env: 'dev', tier: 'secret' }, false],
    [{ env: 'prod' }, false],
  ])('database %j -> %s', (labels, expected) => {
    expect(checker.isDatabaseVisible(labels)).toBe(expected);
  });
  it.each([
    [{ env: 'dev' }, true],
    [{ env: 'prod' }, false],
    [{}, false],
  ])('node %j -> %s', (labels, expected) => {
    expect(checker.isNodeVisible(labels)).toBe(expected);
  });
});

describe('checkLogin', () => {
  const LOGIN_ROLES: Record<string, Role> = {
    sshDev: r('ssh-dev', { allow: { logins: ['{{internal.logins}}'], node_labels: { env: 'dev' } } }),
    rootProd: r('root-prod', { allow: { logins: ['root'], node_labels: { env: 'prod' } } }),
    denyRoot: r('deny-root', { deny: { logins: ['root'] } }),
    denyProd: r('deny-prod', { deny: { node_labels: { env: 'prod' } } }),
    euOps: r('eu-ops', { allow: { logins: ['ops'], node_labels: { region: '^eu-.*$' } } }),
    starLogin: r('star-login', { allow: { logins: ['*'], node_labels: { '*': '*' } } }),
    denyAll: r('deny-all', { deny: { node_labels: { '*': '*' } } }),
  };
  it.each<[string, string[], string, Record<string, string>, string]>([
    ['login from traits', ['sshDev'], 'ubuntu', { env: 'dev' }, 'ok'],
    ['login not in traits', ['sshDev'], 'root', { env: 'dev' }, 'access-denied: access to node denied: login "root" is not allowed'],
    ['labels do not match', ['sshDev'], 'alice', { env: 'prod' }, 'access-denied: access to node denied: no role grants access to this node'],
    ['login and labels come from the same role', ['sshDev', 'rootProd'], 'root', { env: 'dev' }, 'access-denied: access to node denied: login "root" is not allowed'],
    ['root on prod', ['sshDev', 'rootProd'], 'root', { env: 'prod' }, 'ok'],
    ['deny login wins', ['rootProd', 'denyRoot'], 'root', { env: 'prod' }, 'access-denied: access to node denied: login "root" is not allowed'],
    ['deny labels win', ['rootProd', 'denyProd'], 'root', { env: 'prod' }, 'access-denied: access to node denied: denied by a deny rule'],
    ['deny * labels deny every node', ['sshDev', 'denyAll'], 'alice', { env: 'dev' }, 'access-denied: access to node denied: denied by a deny rule'],
    ['regex labels', ['euOps'], 'ops', { region: 'eu-west-1' }, 'ok'],
    ['regex labels miss', ['euOps'], 'ops', { region: 'us-east-1' }, 'access-denied: access to node denied: no role grants access to this node'],
    ['logins have no wildcard', ['starLogin'], 'bob', {}, 'access-denied: access to node denied: login "bob" is not allowed'],
    ['empty login', ['sshDev'], '', { env: 'dev' }, 'bad-parameter: a login is required'],
  ])('%s', (_name, keys, login, labels, expected) => {
    const checker = newAccessChecker({ roles: keys.map((k) => LOGIN_ROLES[k] as Role), traits: TRAITS });
    expect(outcome(() => checker.checkLogin(login, labels))).toBe(expected);
  });
});

describe('checkRule', () => {
  const readAll = r('read-all', { allow: { rules: [{ resources: ['*'], verbs: ['read', 'list'] }] } });
  const noTokens = r('no-tokens', { deny: { rules: [{ resources: ['token'], verbs: ['*'] }] } });
  const denyWhere = r('deny-where', { deny: { rules: [{ resources: ['user'], verbs: ['read'], where: 'equals(user.metadata.name, "root")' }] } });
  const editor = newPresetEditorRole();
  const access = newPresetAccessRole();
  const auditor = newPresetAuditorRole();

  it.each<[string, Role[], string, string, string]>([
    ['editor creates users', [editor], 'user', 'create', 'ok'],
    ['editor deletes roles', [editor], 'role', 'delete', 'ok'],
    ['editor updates tokens', [editor], 'token', 'update', 'ok'],
    ['editor updates the auth preference', [editor], 'cluster_auth_preference', 'update', 'ok'],
    ['editor cannot read events', [editor], 'event', 'read', 'access-denied: access denied to perform action "read" on "event"'],
    ['editor cannot rotate CAs', [editor], 'cert_authority', 'update', 'access-denied: access denied to perform action "update" on "cert_authority"'],
    ['editor lists db services read-only', [editor], 'db_service', 'create', 'access-denied: access denied to perform action "create" on "db_service"'],
    ['auditor reads sessions', [auditor], 'session', 'read', 'ok'],
    ['auditor lists events', [auditor], 'event', 'list', 'ok'],
    ['auditor cannot create users', [auditor], 'user', 'create', 'access-denied: access denied to perform action "create" on "user"'],
    ['access reads events', [access], 'event', 'read', 'ok'],
    ['wildcard resource', [readAll], 'role', 'read', 'ok'],
    ['wildcard resource, other verb', [readAll], 'role', 'delete', 'access-denied: access denied to perform action "delete" on "role"'],
    ['deny * verbs wins', [readAll, noTokens], 'token', 'read', 'access-denied: access denied to perform action "read" on "token"'],
    ['deny leaves other kinds', [readAll, noTokens], 'user', 'list', 'ok'],
    ['read satisfies readnosecrets', [readAll], 'cert_authority', 'readnosecrets', 'ok'],
    ['asking for verb * needs a * rule', [readAll], 'user', '*', 'access-denied: access denied to perform action "*" on "user"'],
    ['deny with where and no evaluator fails closed', [readAll, denyWhere], 'user', 'read', 'access-denied: access denied to perform action "read" on "user"'],
    ['no roles', [], 'user', 'list', 'access-denied: access denied to perform action "list" on "user"'],
  ])('%s', (_name, roles, resource, verb, expected) => {
    expect(outcome(() => newAccessChecker({ roles }).checkRule(resource, verb))).toBe(expected);
  });

  it('evaluates where clauses through the caller', () => {
    const checker = newAccessChecker({ roles: [access] });
    // The access role reads only sessions it took part in: unknown without an evaluator.
    expect(checker.allowsRule('session', 'read')).toBe(false);
    expect(checker.allowsRule('session', 'read', { where: () => true })).toBe(true);
    expect(checker.allowsRule('session', 'read', { where: () => false })).toBe(false);
    const seen: string[] = [];
    checker.allowsRule('session', 'list', { where: (w) => (seen.push(w), true) });
    expect(seen).toEqual(['contains(session.participants, user.metadata.name)']);
    // An evaluator that throws fails closed: no allow.
    expect(checker.allowsRule('session', 'read', { where: () => { throw new Error('boom'); } })).toBe(false);
    const denying = newAccessChecker({ roles: [readAll, denyWhere] });
    expect(denying.allowsRule('user', 'read', { where: () => false })).toBe(true);
    expect(denying.allowsRule('user', 'read', { where: () => { throw new Error('boom'); } })).toBe(false);
  });
});

describe('enumerations and options', () => {
  const checker = newAccessChecker({
    roles: [
      r('a', {
        allow: { logins: ['{{internal.logins}}', 'root'], db_users: ['{{internal.db_users}}', 'postgres', '*'], db_names: ['app'], request: { roles: ['admin', 'dba'] } },
        options: { max_session_ttl: '8h', forward_agent: true, port_forwarding: false },
      }),
      r('b', { allow: { logins: ['ubuntu', 'deploy'], db_names: ['{{internal.db_names}}'] }, deny: { logins: ['root'], db_users: ['postgres'], request: { roles: ['admin'] } }, options: { port_forwarding: false } }),
    ],
    traits: TRAITS,
  });

  it('lists allowed values minus denied ones, first-seen order', () => {
    expect(checker.allowedLogins()).toEqual(['alice', 'ubuntu', 'deploy']);
    expect(checker.allowedDbUsers()).toEqual(['alice', '*']);
    expect(checker.allowedDbNames()).toEqual(['app', 'alice_db']);
    expect(checker.requestableRoles()).toEqual(['dba']);
    expect(checker.roleNames).toEqual(['a', 'b']);
  });

  it('returns nothing when * is denied', () => {
    const c = newAccessChecker({ roles: [r('a', { allow: { db_users: ['x'] } }), r('b', { deny: { db_users: ['*'] } })] });
    expect(c.allowedDbUsers()).toEqual([]);
  });

  it.each([
    [12 * H, 8 * H],
    [H, H],
    [8 * H, 8 * H],
  ])('certTTL(%d) = %d', (requested, expected) => {
    expect(checker.certTTL(requested)).toBe(expected);
  });

  it('caps the TTL at the smallest max_session_ttl over all roles, 30h by default', () => {
    expect(newAccessChecker({ roles: [newPresetAccessRole()] }).certTTL(100 * H)).toBe(30 * H);
    expect(newAccessChecker({ roles: [] }).certTTL(100 * H)).toBe(100 * H);
  });

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY])('refuses certTTL(%d)', (ttl) => {
    expect(outcome(() => checker.certTTL(ttl))).toBe('bad-parameter: the requested certificate TTL must be a positive duration');
  });

  it('aggregates forward_agent and port_forwarding: any role enables', () => {
    expect(checker.canForwardAgent()).toBe(true);
    expect(checker.canPortForward()).toBe(false);
    expect(newAccessChecker({ roles: [r('x', {})] }).canForwardAgent()).toBe(false);
    expect(newAccessChecker({ roles: [r('x', {})] }).canPortForward()).toBe(true);
  });
});

describe('accessCheckerForUser', () => {
  const store = new Map<string, Role>([
    ['access', newPresetAccessRole()],
    ['no-root', r('no-root', { deny: { logins: ['root'] } })],
  ]);
  const getter = {
    getRole: async (name: string): Promise<Role> => {
      const role = store.get(name);
      if (!role) throw new NotFoundError(`role ${JSON.stringify(name)} is not found`);
      return role;
    },
  };

  it("loads the user's roles and applies the user's traits", async () => {
    const user = parseUser({ metadata: { name: 'alice' }, spec: { roles: ['access', 'no-root'], traits: { logins: ['alice', 'root'] } } });
    const checker = await accessCheckerForUser(user, getter);
    expect(checker.roleNames).toEqual(['access', 'no-root']);
    expect(checker.allowedLogins()).toEqual(['alice']);
    expect(outcome(() => checker.checkLogin('alice', { env: 'any' }))).toBe('ok');
    expect(outcome(() => checker.checkLogin('root', { env: 'any' }))).toBe('access-denied: access to node denied: login "root" is not allowed');
  });

  it('propagates a missing role', async () => {
    const user = parseUser({ metadata: { name: 'bob' }, spec: { roles: ['access', 'ghost'] } });
    await expect(accessCheckerForUser(user, getter)).rejects.toThrow(NotFoundError);
  });

  it('accepts a synchronous getter', async () => {
    const user = parseUser({ metadata: { name: 'carol' }, spec: { roles: ['access'], traits: { logins: ['carol'] } } });
    const checker = await accessCheckerForUser(user, { getRole: (n) => store.get(n) as Role });
    expect(checker.allowedLogins()).toEqual(['carol']);
  });
});
