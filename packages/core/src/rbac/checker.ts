import { AccessDeniedError, BadParameterError } from '../errors/index.js';
import { WILDCARD, type LabelSelector, type Role, type RoleConditions, type Rule, type Traits, type User } from '../types/index.js';
import { matchLabels, type ResourceLabels } from './labels.js';
import { applyTraitsToLabels, applyTraitsToList } from './traits.js';

/**
 * Database protocols whose `db_names` are not enforced, as in Teleport: they cannot stop a session from
 * reaching other databases once connected (CockroachDB, MySQL), or have no notion of one.
 */
export const PROTOCOLS_WITHOUT_DB_NAME_RBAC: readonly string[] = [
  'mysql',
  'cockroachdb',
  'redis',
  'cassandra',
  'elasticsearch',
  'opensearch',
  'dynamodb',
  'snowflake',
  'oracle',
  'clickhouse',
  'clickhouse-http',
  'sqlserver',
];

/** True when access checks for this database protocol match `db_names` (postgres: yes; cockroachdb: no). */
export function requiresDatabaseNameMatch(protocol: string): boolean {
  return !PROTOCOLS_WITHOUT_DB_NAME_RBAC.includes(protocol);
}

/** A database connection attempt. */
export interface DatabaseAccessRequest {
  /** The database's labels. */
  dbLabels: ResourceLabels;
  /** The account the user connects as. */
  dbUser: string;
  /** The database (schema namespace) the user connects to; not checked for protocols that do not enforce it. */
  dbName: string;
  /** `postgres`, `cockroachdb`, ... */
  protocol: string;
}

/** Evaluates a rule's `where` predicate against the caller's context; `true` when it holds. */
export type WhereEvaluator = (where: string) => boolean;

export interface RuleCheckOptions {
  /**
   * Evaluates `where` clauses. Without it, an allow rule with a `where` clause never matches and a deny
   * rule with one always does: unknown conditions fail closed.
   */
  where?: WhereEvaluator;
}

/** Access decisions for one user: roles with the user's traits applied. Pure; build with {@link newAccessChecker}. */
export interface AccessChecker {
  /** The names of the roles, in the order given. */
  readonly roleNames: readonly string[];
  readonly traits: Traits;
  /** Throws {@link AccessDeniedError} unless the user may connect to this database as this user (and name). */
  checkDatabaseAccess(request: DatabaseAccessRequest): void;
  /** True when the database may be listed: some allow `db_labels` match and no deny `db_labels` do. */
  isDatabaseVisible(dbLabels: ResourceLabels): boolean;
  /** Throws {@link AccessDeniedError} unless the user may log in to a node with these labels as `login`. */
  checkLogin(login: string, nodeLabels: ResourceLabels): void;
  /** True when the node may be listed: some allow `node_labels` match and no deny `node_labels` do. */
  isNodeVisible(nodeLabels: ResourceLabels): boolean;
  /** Throws {@link AccessDeniedError} unless a rule allows `verb` on the resource kind and none denies it. */
  checkRule(resource: string, verb: string, options?: RuleCheckOptions): void;
  /** {@link AccessChecker.checkRule} as a boolean. */
  allowsRule(resource: string, verb: string, options?: RuleCheckOptions): boolean;
  /** Logins for SSH certificate principals: allowed by some role, denied by none. */
  allowedLogins(): string[];
  /** Database users allowed by some role and denied by none (`*` included when granted; empty when `*` is denied). */
  allowedDbUsers(): string[];
  /** Database names allowed by some role and denied by none (`*` included when granted; empty when `*` is denied). */
  allowedDbNames(): string[];
  /** Roles the user may request access to (allow `request.roles` minus deny `request.roles`). */
  requestableRoles(): string[];
  /** The certificate TTL to issue: `min(requestedMs, smallest max_session_ttl of the roles)`. */
  certTTL(requestedMs: number): number;
  /** True when some role sets `forward_agent: true`. */
  canForwardAgent(): boolean;
  /** True when some role allows port forwarding. */
  canPortForward(): boolean;
}

/** Narrow role lookup, as Teleport's `RoleGetter`: the auth service passes its store, tests pass a map. */
export interface RoleGetter {
  getRole(name: string): Role | Promise<Role>;
}

export interface NewAccessCheckerOptions {
  roles: readonly Role[];
  /** The user's traits; `{}` when absent. */
  traits?: Traits;
}

/** One side of a role with the user's traits applied. */
interface ExpandedConditions {
  logins: readonly string[];
  nodeLabels: LabelSelector;
  dbLabels: LabelSelector;
  dbUsers: readonly string[];
  dbNames: readonly string[];
  rules: readonly Rule[];
  requestRoles: readonly string[];
}

interface ExpandedRole {
  name: string;
  allow: ExpandedConditions;
  deny: ExpandedConditions;
  role: Role;
}

function expand(c: RoleConditions, traits: Traits): ExpandedConditions {
  return {
    logins: applyTraitsToList(c.logins, traits),
    nodeLabels: applyTraitsToLabels(c.node_labels, traits),
    dbLabels: applyTraitsToLabels(c.db_labels, traits),
    dbUsers: applyTraitsToList(c.db_users, traits),
    dbNames: applyTraitsToList(c.db_names, traits),
    rules: c.rules,
    requestRoles: c.request?.roles ?? [],
  };
}

/** Teleport's `MatchDatabaseUser` / `MatchDatabaseName`: exact, or `*`. */
function matchesNameOrWildcard(selectors: readonly string[], value: string): boolean {
  return selectors.includes(value) || selectors.includes(WILDCARD);
}

function hasVerb(rule: Rule, verb: string): boolean {
  if (rule.verbs.includes(WILDCARD)) return true;
  // `readnosecrets` is satisfied by `read`, as in Teleport.
  if (verb === 'readnosecrets') return rule.verbs.includes('read') || rule.verbs.includes('readnosecrets');
  return rule.verbs.includes(verb);
}

function rulesMatch(rules: readonly Rule[], resource: string, verb: string, side: 'allow' | 'deny', where: WhereEvaluator | undefined): boolean {
  for (const rule of rules) {
    if (!rule.resources.includes(resource) && !rule.resources.includes(WILDCARD)) continue;
    if (!hasVerb(rule, verb)) continue;
    if (rule.where === undefined) return true;
    if (where === undefined) {
      if (side === 'deny') return true;
      continue;
    }
    let holds: boolean;
    try {
      holds = where(rule.where);
    } catch {
      holds = side === 'deny';
    }
    if (holds) return true;
  }
  return false;
}

/** Union of `allowed` over roles minus `denied` over roles, first-seen order. A denied `*` empties the list. */
function enumerate(roles: readonly ExpandedRole[], pick: (c: ExpandedConditions) => readonly string[]): string[] {
  const denied = new Set<string>();
  for (const r of roles) for (const v of pick(r.deny)) denied.add(v);
  if (denied.has(WILDCARD)) return [];
  const out = new Set<string>();
  for (const r of roles) for (const v of pick(r.allow)) if (!denied.has(v)) out.add(v);
  return [...out];
}

/** A requested name for a message: quoted, cut at 128 characters. */
const q = (s: string): string => JSON.stringify(s.length > 128 ? `${s.slice(0, 128)}…` : s);
/** RBAC refusals of a database session carry one code, so clients can tell them from certificate problems. */
const DB_DENIED = { code: 'ERR_TP_DB_DENIED' } as const;

/**
 * Builds an {@link AccessChecker} from a user's roles and traits. Templates are expanded once here.
 * Deny always wins: a deny rule whose labels match the resource, or whose logins / db users / db names
 * match the request, refuses access whatever the allow rules say. An allow needs one role whose labels
 * match and whose logins (or db users and db names) match, together.
 *
 * @example
 * ```ts
 * const checker = newAccessChecker({ roles: [newPresetAccessRole()], traits: { db_users: ['alice'], db_names: ['app'] } });
 * checker.checkDatabaseAccess({ dbLabels: { env: 'dev' }, dbUser: 'alice', dbName: 'app', protocol: 'postgres' });
 * checker.certTTL(48 * 3_600_000); // 30h, the access role's max_session_ttl
 * ```
 */
export function newAccessChecker(options: NewAccessCheckerOptions): AccessChecker {
  const traits: Traits = options.traits ?? {};
  const roles: ExpandedRole[] = options.roles.map((role) => ({
    name: role.metadata.name,
    allow: expand(role.spec.allow, traits),
    deny: expand(role.spec.deny, traits),
    role,
  }));
  const checker: AccessChecker = {
    roleNames: Object.freeze(roles.map((r) => r.name)),
    traits,
    checkDatabaseAccess: (request) => checkDatabaseAccess(roles, request),
    isDatabaseVisible: (dbLabels) => isVisible(roles, (c) => c.dbLabels, dbLabels),
    checkLogin: (login, nodeLabels) => checkLogin(roles, login, nodeLabels),
    isNodeVisible: (nodeLabels) => isVisible(roles, (c) => c.nodeLabels, nodeLabels),
    checkRule(resource, verb, opts) {
      if (!allowsRule(roles, resource, verb, opts)) {
        throw new AccessDeniedError(`access denied to perform action ${q(verb)} on ${q(resource)}`);
      }
    },
    allowsRule: (resource, verb, opts) => allowsRule(roles, resource, verb, opts),
    allowedLogins: () => enumerate(roles, (c) => c.logins),
    allowedDbUsers: () => enumerate(roles, (c) => c.dbUsers),
    allowedDbNames: () => enumerate(roles, (c) => c.dbNames),
    requestableRoles: () => enumerate(roles, (c) => c.requestRoles),
    certTTL: (requestedMs) => certTTL(roles, requestedMs),
    canForwardAgent: () => roles.some((r) => r.role.spec.options.forward_agent),
    canPortForward: () => roles.some((r) => r.role.spec.options.port_forwarding),
  };
  return Object.freeze(checker);
}

// Invalid patterns (possible only through trait values) fail closed: never allow, always deny.
const allowLabels = (sel: LabelSelector, labels: ResourceLabels): boolean => matchLabels(sel, labels, { invalidPatternMatches: false });
const denyLabels = (sel: LabelSelector, labels: ResourceLabels): boolean => matchLabels(sel, labels, { invalidPatternMatches: true });

/** Visible: some allow selector matches and no deny selector does. */
function isVisible(roles: readonly ExpandedRole[], pick: (c: ExpandedConditions) => LabelSelector, labels: ResourceLabels): boolean {
  if (roles.some((r) => denyLabels(pick(r.deny), labels))) return false;
  return roles.some((r) => allowLabels(pick(r.allow), labels));
}

function checkDatabaseAccess(roles: readonly ExpandedRole[], request: DatabaseAccessRequest): void {
  const { dbLabels, dbUser, dbName, protocol } = request;
  if (typeof dbUser !== 'string' || dbUser === '') throw new BadParameterError('a database user is required', { hint: 'pass --db-user' });
  const checkName = requiresDatabaseNameMatch(protocol);
  if (checkName && (typeof dbName !== 'string' || dbName === '')) {
    throw new BadParameterError('a database name is required', { hint: 'pass --db-name' });
  }
  const userDenied = new AccessDeniedError(`access to db denied: db user ${q(dbUser)} is not allowed`, DB_DENIED);
  const nameDenied = (): AccessDeniedError => new AccessDeniedError(`access to db denied: db name ${q(dbName)} is not allowed`, DB_DENIED);
  for (const r of roles) {
    if (denyLabels(r.deny.dbLabels, dbLabels)) throw new AccessDeniedError('access to db denied: denied by a deny rule', DB_DENIED);
    if (matchesNameOrWildcard(r.deny.dbUsers, dbUser)) throw userDenied;
    if (checkName && matchesNameOrWildcard(r.deny.dbNames, dbName)) throw nameDenied();
  }
  const labelled = roles.filter((r) => allowLabels(r.allow.dbLabels, dbLabels));
  if (labelled.length === 0) throw new AccessDeniedError('access to db denied: no role grants access to this database', DB_DENIED);
  const userOk = labelled.filter((r) => matchesNameOrWildcard(r.allow.dbUsers, dbUser));
  if (userOk.length === 0) throw userDenied;
  if (!checkName) return;
  if (userOk.some((r) => matchesNameOrWildcard(r.allow.dbNames, dbName))) return;
  if (labelled.some((r) => matchesNameOrWildcard(r.allow.dbNames, dbName))) {
    throw new AccessDeniedError(`access to db denied: db user ${q(dbUser)} is not allowed with db name ${q(dbName)}`, DB_DENIED);
  }
  throw nameDenied();
}

function checkLogin(roles: readonly ExpandedRole[], login: string, nodeLabels: ResourceLabels): void {
  if (typeof login !== 'string' || login === '') throw new BadParameterError('a login is required');
  const loginDenied = new AccessDeniedError(`access to node denied: login ${q(login)} is not allowed`);
  for (const r of roles) {
    if (denyLabels(r.deny.nodeLabels, nodeLabels)) throw new AccessDeniedError('access to node denied: denied by a deny rule');
    // Logins match exactly, without wildcard, as in Teleport.
    if (r.deny.logins.includes(login)) throw loginDenied;
  }
  const labelled = roles.filter((r) => allowLabels(r.allow.nodeLabels, nodeLabels));
  if (labelled.length === 0) throw new AccessDeniedError('access to node denied: no role grants access to this node');
  if (!labelled.some((r) => r.allow.logins.includes(login))) throw loginDenied;
}

function allowsRule(roles: readonly ExpandedRole[], resource: string, verb: string, opts: RuleCheckOptions = {}): boolean {
  if (typeof resource !== 'string' || resource === '' || typeof verb !== 'string' || verb === '') {
    throw new TypeError('allowsRule expects a resource kind and a verb');
  }
  if (roles.some((r) => rulesMatch(r.deny.rules, resource, verb, 'deny', opts.where))) return false;
  return roles.some((r) => rulesMatch(r.allow.rules, resource, verb, 'allow', opts.where));
}

function certTTL(roles: readonly ExpandedRole[], requestedMs: number): number {
  if (typeof requestedMs !== 'number' || !Number.isFinite(requestedMs) || requestedMs <= 0) {
    throw new BadParameterError('the requested certificate TTL must be a positive duration');
  }
  let ttl = requestedMs;
  for (const r of roles) ttl = Math.min(ttl, r.role.spec.options.max_session_ttl);
  return ttl;
}

/**
 * Builds the {@link AccessChecker} of a user: loads each of `user.spec.roles` through `roleGetter`
 * (its errors, such as not-found, propagate) and applies `user.spec.traits`.
 *
 * @example
 * ```ts
 * const checker = await accessCheckerForUser(alice, { getRole: (name) => store.getRole(name) });
 * ```
 */
export async function accessCheckerForUser(user: User, roleGetter: RoleGetter): Promise<AccessChecker> {
  const roles = await Promise.all(user.spec.roles.map((name) => roleGetter.getRole(name)));
  return newAccessChecker({ roles, traits: user.spec.traits });
}
