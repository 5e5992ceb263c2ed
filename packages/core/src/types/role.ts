import { BadParameterError } from '../errors/index.js';
import { formatDuration, parseDuration } from './duration.js';
import { checkTemplate, parseLabelSelector, type LabelSelector } from './labels.js';
import { checkHeader, parseMetadata, resourceName, type ResourceHeader } from './metadata.js';
import {
  checkInertValues,
  checkKeys,
  deepFreeze,
  fail,
  isRecord,
  optBool,
  optRecord,
  optString,
  quote,
  stringList,
  type ParseContext,
} from './validate.js';

export const KIND_ROLE = 'role';

/** Role versions this implementation reads. v3/v4 are refused: v3 fills label defaults that v5+ do not. */
export const ROLE_VERSIONS = ['v7', 'v6', 'v5'] as const;
export type RoleVersion = (typeof ROLE_VERSIONS)[number];

/** Teleport's `defaults.MaxCertDuration`: the `max_session_ttl` of a role that sets none. */
export const DEFAULT_MAX_SESSION_TTL_MS = 30 * 3_600_000;

/** An RBAC rule over API resources: `{ resources: [user, role], verbs: [list, read] }`. */
export interface Rule {
  readonly resources: readonly string[];
  readonly verbs: readonly string[];
  /** A Teleport predicate such as `contains(session.participants, user.metadata.name)`; evaluated by the caller. */
  readonly where?: string;
}

/** Which roles a user may request (role access requests) or search as (resource access requests). */
export interface AccessRequestConditions {
  readonly roles: readonly string[];
  readonly search_as_roles: readonly string[];
}

/** One side (`allow` or `deny`) of a role. Absent fields are filled with empty values. */
export interface RoleConditions {
  readonly logins: readonly string[];
  readonly node_labels: LabelSelector;
  readonly db_labels: LabelSelector;
  readonly db_names: readonly string[];
  readonly db_users: readonly string[];
  readonly rules: readonly Rule[];
  readonly request?: AccessRequestConditions;
}

export const SESSION_RECORDING_MODES = ['best_effort', 'strict'] as const;
export type SessionRecordingMode = (typeof SESSION_RECORDING_MODES)[number];

export interface RecordSession {
  readonly default?: SessionRecordingMode;
  readonly ssh?: SessionRecordingMode;
  readonly desktop: boolean;
}

export const CERT_FORMATS = ['standard', 'oldssh'] as const;
export type CertFormat = (typeof CERT_FORMATS)[number];

/** Role options, defaults filled. Durations are milliseconds. */
export interface RoleOptions {
  readonly max_session_ttl: number;
  readonly forward_agent: boolean;
  readonly port_forwarding: boolean;
  readonly record_session: RecordSession;
  readonly cert_format: CertFormat;
  readonly client_idle_timeout?: number;
  readonly disconnect_expired_cert: boolean;
  readonly require_session_mfa: boolean;
}

export interface RoleSpec {
  readonly allow: RoleConditions;
  readonly deny: RoleConditions;
  readonly options: RoleOptions;
}

/** A role resource, parsed by {@link parseRole}: validated, defaults filled, frozen. */
export type Role = ResourceHeader<typeof KIND_ROLE, RoleVersion, RoleSpec>;

const CONDITION_KEYS = ['logins', 'node_labels', 'db_labels', 'db_names', 'db_users', 'rules', 'request'] as const;

/**
 * Condition fields of Teleport roles for services this implementation does not run (apps, Kubernetes,
 * desktops, cloud consoles, ...). They are accepted and dropped, so roles exported from Teleport load.
 * Label *expressions* for nodes and databases are not in this list: dropping a deny expression would
 * widen access, so they are refused.
 */
const IGNORED_CONDITION_KEYS = [
  'namespaces',
  'app_labels',
  'app_labels_expression',
  'kubernetes_labels',
  'kubernetes_labels_expression',
  'kubernetes_groups',
  'kubernetes_users',
  'kubernetes_resources',
  'windows_desktop_labels',
  'windows_desktop_labels_expression',
  'windows_desktop_logins',
  'desktop_groups',
  'aws_role_arns',
  'azure_identities',
  'gcp_service_accounts',
  'group_labels',
  'group_labels_expression',
  'cluster_labels',
  'cluster_labels_expression',
  'db_service_labels',
  'db_service_labels_expression',
  'db_roles',
  'host_groups',
  'host_sudoers',
  'impersonate',
  'review_requests',
  'join_sessions',
  'spiffe',
  'account_assignments',
  'workload_identity_labels',
  'workload_identity_labels_expression',
  'github_permissions',
];

const OPTION_KEYS = [
  'max_session_ttl',
  'forward_agent',
  'port_forwarding',
  'record_session',
  'cert_format',
  'client_idle_timeout',
  'disconnect_expired_cert',
  'require_session_mfa',
] as const;

/** Options of Teleport roles with no effect here (features this implementation lacks). */
const IGNORED_OPTION_KEYS = [
  'enhanced_recording',
  'desktop_clipboard',
  'desktop_directory_sharing',
  'create_desktop_user',
  'create_db_user',
  'create_db_user_mode',
  'create_host_user',
  'create_host_user_mode',
  'create_host_user_default_shell',
  'ssh_file_copy',
  'idp',
  'max_kubernetes_connections',
  'request_access',
  'request_prompt',
  'permit_x11_forwarding',
  'mfa_verification_interval',
];

/** Teleport options that restrict sessions: accepted only at the value that restricts nothing. */
const INERT_OPTIONS: Readonly<Record<string, (v: unknown) => boolean>> = {
  pin_source_ip: (v) => v === false,
  lock: (v) => v === 'best_effort' || v === '',
  device_trust_mode: (v) => v === 'off' || v === 'optional' || v === '',
  max_connections: (v) => v === 0,
  max_sessions: (v) => v === 0,
};

function parseNames(ctx: ParseContext, raw: unknown, field: string, templates: boolean): string[] {
  const list = stringList(ctx, raw, field);
  for (const v of list) {
    if (v === '') fail(ctx, field, 'must not contain empty strings');
    if (templates) checkTemplate(ctx, v, field);
  }
  return list;
}

function parseRule(ctx: ParseContext, raw: unknown, field: string): Rule {
  if (!isRecord(raw)) fail(ctx, field, 'must be a mapping with resources and verbs');
  checkKeys(ctx, raw, field, ['resources', 'verbs', 'where'], ['actions']);
  const resources = parseNames(ctx, raw['resources'], `${field}.resources`, false);
  const verbs = parseNames(ctx, raw['verbs'], `${field}.verbs`, false);
  if (resources.length === 0) fail(ctx, `${field}.resources`, 'must list at least one resource kind');
  if (verbs.length === 0) fail(ctx, `${field}.verbs`, 'must list at least one verb');
  const where = optString(ctx, raw['where'], `${field}.where`);
  return where === undefined || where === '' ? { resources, verbs } : { resources, verbs, where };
}

function parseConditions(ctx: ParseContext, raw: unknown, field: string): RoleConditions {
  const obj = optRecord(ctx, raw, field);
  checkKeys(ctx, obj, field, CONDITION_KEYS, [...IGNORED_CONDITION_KEYS, 'require_session_join']);
  // Moderated sessions restrict access; this implementation has none, so only an empty list is accepted.
  checkInertValues(ctx, obj, field, { require_session_join: (v) => Array.isArray(v) && v.length === 0 });
  const rulesRaw = obj['rules'];
  if (rulesRaw !== undefined && rulesRaw !== null && !Array.isArray(rulesRaw)) fail(ctx, `${field}.rules`, 'must be a list of rules');
  const rules = ((rulesRaw as unknown[] | null | undefined) ?? []).map((r, i) => parseRule(ctx, r, `${field}.rules[${i}]`));
  const out: { -readonly [K in keyof RoleConditions]: RoleConditions[K] } = {
    logins: parseNames(ctx, obj['logins'], `${field}.logins`, true),
    node_labels: parseLabelSelector(ctx, obj['node_labels'], `${field}.node_labels`),
    db_labels: parseLabelSelector(ctx, obj['db_labels'], `${field}.db_labels`),
    db_names: parseNames(ctx, obj['db_names'], `${field}.db_names`, true),
    db_users: parseNames(ctx, obj['db_users'], `${field}.db_users`, true),
    rules,
  };
  if (obj['request'] !== undefined && obj['request'] !== null) {
    const where = `${field}.request`;
    const req = optRecord(ctx, obj['request'], where);
    checkKeys(ctx, req, where, ['roles', 'search_as_roles'], ['thresholds', 'suggested_reviewers', 'annotations', 'max_duration', 'reason', 'claims_to_roles', 'kubernetes_resources']);
    out.request = {
      roles: parseNames(ctx, req['roles'], `${where}.roles`, false),
      search_as_roles: parseNames(ctx, req['search_as_roles'], `${where}.search_as_roles`, false),
    };
  }
  return out;
}

function optDuration(ctx: ParseContext, raw: unknown, field: string): number | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'string') fail(ctx, field, 'must be a duration such as 8h, 30m or 1h30m');
  let ms: number;
  try {
    ms = parseDuration(raw);
  } catch {
    fail(ctx, field, `has an invalid duration ${JSON.stringify(raw.slice(0, 64))}, use a value such as 8h, 30m or 1h30m`);
  }
  if (ms < 0) fail(ctx, field, 'must not be negative');
  return ms;
}

function oneOf<T extends string>(ctx: ParseContext, raw: unknown, field: string, allowed: readonly T[]): T | undefined {
  const v = optString(ctx, raw, field);
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v)) fail(ctx, field, `must be one of ${allowed.join(', ')}, got ${quote(v)}`);
  return v as T;
}

function parseOptions(ctx: ParseContext, raw: unknown): RoleOptions {
  const field = 'spec.options';
  const obj = optRecord(ctx, raw, field);
  if ('ssh_port_forwarding' in obj) fail(ctx, `${field}.ssh_port_forwarding`, 'is not supported, use port_forwarding: true|false');
  checkKeys(ctx, obj, field, OPTION_KEYS, [...IGNORED_OPTION_KEYS, ...Object.keys(INERT_OPTIONS)]);
  checkInertValues(ctx, obj, field, INERT_OPTIONS);
  const ttl = optDuration(ctx, obj['max_session_ttl'], `${field}.max_session_ttl`);
  let recordSession: RecordSession = { default: 'best_effort', desktop: true };
  if (obj['record_session'] !== undefined && obj['record_session'] !== null) {
    const where = `${field}.record_session`;
    const rs = optRecord(ctx, obj['record_session'], where);
    checkKeys(ctx, rs, where, ['default', 'ssh', 'desktop']);
    const def = oneOf(ctx, rs['default'], `${where}.default`, SESSION_RECORDING_MODES);
    const ssh = oneOf(ctx, rs['ssh'], `${where}.ssh`, SESSION_RECORDING_MODES);
    recordSession = {
      ...(def !== undefined ? { default: def } : {}),
      ...(ssh !== undefined ? { ssh } : {}),
      desktop: optBool(ctx, rs['desktop'], `${where}.desktop`) ?? true,
    };
  }
  const mfa = obj['require_session_mfa'];
  if (mfa !== undefined && mfa !== null && typeof mfa !== 'boolean') {
    fail(ctx, `${field}.require_session_mfa`, 'must be true or false (hardware key policies are not supported)');
  }
  const idle = optDuration(ctx, obj['client_idle_timeout'], `${field}.client_idle_timeout`);
  return {
    // Teleport treats 0 as "not set".
    max_session_ttl: ttl === undefined || ttl === 0 ? DEFAULT_MAX_SESSION_TTL_MS : ttl,
    forward_agent: optBool(ctx, obj['forward_agent'], `${field}.forward_agent`) ?? false,
    port_forwarding: optBool(ctx, obj['port_forwarding'], `${field}.port_forwarding`) ?? true,
    record_session: recordSession,
    cert_format: oneOf(ctx, obj['cert_format'], `${field}.cert_format`, CERT_FORMATS) ?? 'standard',
    ...(idle !== undefined && idle > 0 ? { client_idle_timeout: idle } : {}),
    disconnect_expired_cert: optBool(ctx, obj['disconnect_expired_cert'], `${field}.disconnect_expired_cert`) ?? false,
    require_session_mfa: (mfa as boolean | undefined | null) ?? false,
  };
}

/**
 * Parses and validates a role document (typically from YAML or JSON): fills defaults
 * (`max_session_ttl: 30h`, `port_forwarding: true`, empty conditions), checks every field and
 * template, and returns a frozen {@link Role}. Throws {@link BadParameterError} naming the field.
 *
 * @example
 * ```ts
 * const role = parseRole({
 *   kind: 'role',
 *   version: 'v7',
 *   metadata: { name: 'dev' },
 *   spec: { allow: { logins: ['{{internal.logins}}'], node_labels: { env: 'dev' } } },
 * });
 * role.spec.options.max_session_ttl; // 108_000_000 (30h)
 * ```
 */
export function parseRole(raw: unknown): Role {
  if (!isRecord(raw)) throw new BadParameterError('role must be a mapping');
  const name = resourceName(raw, { kind: KIND_ROLE });
  const ctx: ParseContext = { prefix: `role ${JSON.stringify(name)}` };
  checkKeys(ctx, raw, '', ['kind', 'version', 'metadata', 'spec']);
  const version = checkHeader(ctx, raw, KIND_ROLE, ROLE_VERSIONS, 'v7');
  const spec = optRecord(ctx, raw['spec'], 'spec');
  checkKeys(ctx, spec, 'spec', ['allow', 'deny', 'options']);
  return deepFreeze({
    kind: KIND_ROLE,
    version,
    metadata: parseMetadata(ctx, raw['metadata'], name),
    spec: {
      allow: parseConditions(ctx, spec['allow'], 'spec.allow'),
      deny: parseConditions(ctx, spec['deny'], 'spec.deny'),
      options: parseOptions(ctx, spec['options']),
    },
  });
}

function conditionsToWire(c: RoleConditions): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (c.logins.length > 0) out['logins'] = [...c.logins];
  if (Object.keys(c.node_labels).length > 0) out['node_labels'] = labelsToWire(c.node_labels);
  if (Object.keys(c.db_labels).length > 0) out['db_labels'] = labelsToWire(c.db_labels);
  if (c.db_names.length > 0) out['db_names'] = [...c.db_names];
  if (c.db_users.length > 0) out['db_users'] = [...c.db_users];
  if (c.rules.length > 0) {
    out['rules'] = c.rules.map((r) => ({ resources: [...r.resources], verbs: [...r.verbs], ...(r.where ? { where: r.where } : {}) }));
  }
  if (c.request && (c.request.roles.length > 0 || c.request.search_as_roles.length > 0)) {
    out['request'] = {
      ...(c.request.roles.length > 0 ? { roles: [...c.request.roles] } : {}),
      ...(c.request.search_as_roles.length > 0 ? { search_as_roles: [...c.request.search_as_roles] } : {}),
    };
  }
  return out;
}

/** Teleport writes a one-value label as a string, several as a list. */
function labelsToWire(sel: LabelSelector): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(sel)) out[k] = v.length === 1 ? (v[0] as string) : [...v];
  return out;
}

/** The plain-data form of a role, as `tctl get` prints it (empty fields omitted, durations as text). */
export function roleToWire(role: Role): Record<string, unknown> {
  const o = role.spec.options;
  return {
    kind: role.kind,
    version: role.version,
    metadata: { ...role.metadata },
    spec: {
      allow: conditionsToWire(role.spec.allow),
      deny: conditionsToWire(role.spec.deny),
      options: {
        max_session_ttl: formatDuration(o.max_session_ttl),
        forward_agent: o.forward_agent,
        port_forwarding: o.port_forwarding,
        record_session: { ...o.record_session },
        cert_format: o.cert_format,
        ...(o.client_idle_timeout !== undefined ? { client_idle_timeout: formatDuration(o.client_idle_timeout) } : {}),
        disconnect_expired_cert: o.disconnect_expired_cert,
        require_session_mfa: o.require_session_mfa,
      },
    },
  };
}
