import { BadParameterError } from '../errors/index.js';
import { formatDuration, parseDuration } from './duration.js';
import { parseWith, v } from '../schema/index.js';
import { LabelSelectorSchema, templateProblem, type LabelSelector } from './labels.js';
import { headerEntries, resourceName, toMetadata, type ResourceHeader } from './metadata.js';
import { deepFreeze, isRecord, optBool, optString, problem, quote, section, stringList } from './validate.js';

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

/**
 * How many reviews decide a request (Teleport's `AccessReviewThreshold`): `approve` approvals, or `deny` denials, from
 * reviewers that match `filter` (empty: every reviewer).
 */
export interface AccessReviewThreshold {
  readonly name?: string;
  readonly filter?: string;
  readonly approve: number;
  readonly deny: number;
}

/** Which roles a user may request (role access requests) or search as (resource access requests). */
export interface AccessRequestConditions {
  /** Role names, `*`, globs (`db-*`), `^regex$` or trait templates (`{{internal.requestable}}`). */
  readonly roles: readonly string[];
  readonly search_as_roles: readonly string[];
  /** Empty: one approval approves, one denial denies. */
  readonly thresholds?: readonly AccessReviewThreshold[];
  /** The longest access a request may grant, in milliseconds. */
  readonly max_duration?: number;
}

/** Which requests a user may review: those whose every role matches `roles` (names, `*`, globs, templates). */
export interface AccessReviewConditions {
  readonly roles: readonly string[];
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
  readonly review_requests?: AccessReviewConditions;
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
  /** Teleport's `request_access`: `always` makes `tsh login` request the requestable roles; `reason` requires a reason. */
  readonly request_access?: RequestAccessMode;
  /** Shown by `tsh request new` when a reason is asked for. */
  readonly request_prompt?: string;
}

const REQUEST_ACCESS_MODES = ['optional', 'reason', 'always'] as const;
export type RequestAccessMode = (typeof REQUEST_ACCESS_MODES)[number];

export interface RoleSpec {
  readonly allow: RoleConditions;
  readonly deny: RoleConditions;
  readonly options: RoleOptions;
}

/** A role resource, parsed by {@link parseRole}: validated, defaults filled, frozen. */
export type Role = ResourceHeader<typeof KIND_ROLE, RoleVersion, RoleSpec>;

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
  'join_sessions',
  'spiffe',
  'account_assignments',
  'workload_identity_labels',
  'workload_identity_labels_expression',
  'github_permissions',
];

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

/** The first problem of a list of names (logins, db users, rule verbs): empty strings, bad templates. */
function namesProblem(names: readonly string[], templates: boolean): string | undefined {
  for (const name of names) {
    if (name === '') return 'must not contain empty strings';
    const bad = templates ? templateProblem(name) : undefined;
    if (bad !== undefined) return bad;
  }
  return undefined;
}

/** A list of names; with `templates`, each may be a trait template (`{{internal.logins}}`). */
function names(templates: boolean) {
  return v.pipe(stringList, problem((list: string[]) => namesProblem(list, templates)));
}

const RuleSchema = v.pipe(
  section(
    {
      resources: v.pipe(names(false), v.check((list) => list.length > 0, 'must list at least one resource kind')),
      verbs: v.pipe(names(false), v.check((list) => list.length > 0, 'must list at least one verb')),
      where: optString,
    },
    { ignored: ['actions'], message: 'must be a mapping with resources and verbs' },
  ),
  v.transform((r): Rule => (r.where === undefined || r.where === null || r.where === '' ? { resources: r.resources, verbs: r.verbs } : { resources: r.resources, verbs: r.verbs, where: r.where })),
);

/** A duration such as `8h`, `30m` or `1h30m`, in milliseconds. */
const optDuration = v.nullish(
  v.pipe(
    v.string('must be a duration such as 8h, 30m or 1h30m'),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      let ms: number;
      try {
        ms = parseDuration(dataset.value);
      } catch {
        addIssue({ message: `has an invalid duration ${JSON.stringify(dataset.value.slice(0, 64))}, use a value such as 8h, 30m or 1h30m` });
        return NEVER;
      }
      return ms;
    }),
    v.check((ms) => ms >= 0, 'must not be negative'),
  ),
);

/** A threshold count: a whole number from 0 (Teleport reads an absent `approve`/`deny` as 1). */
const optCount = v.nullish(v.pipe(v.number('must be a whole number'), v.integer('must be a whole number'), v.minValue(0, 'must not be negative')));

const ThresholdSchema = v.pipe(
  section({ name: optString, filter: optString, approve: optCount, deny: optCount }),
  v.transform(
    (t): AccessReviewThreshold => ({
      ...(t.name ? { name: t.name } : {}),
      ...(t.filter ? { filter: t.filter } : {}),
      approve: t.approve === undefined || t.approve === null || t.approve === 0 ? 1 : t.approve,
      deny: t.deny === undefined || t.deny === null || t.deny === 0 ? 1 : t.deny,
    }),
  ),
);

const RequestSchema = section(
  {
    roles: names(true),
    search_as_roles: names(true),
    thresholds: v.optional(v.pipe(v.nullish(v.array(ThresholdSchema, 'must be a list of thresholds')), v.transform((t) => t ?? [])), []),
    max_duration: optDuration,
  },
  { ignored: ['suggested_reviewers', 'annotations', 'reason', 'claims_to_roles', 'kubernetes_resources'] },
);

const ReviewSchema = section(
  { roles: names(true) },
  {
    ignored: ['preview_as_roles', 'claims_to_roles'],
    // A `where` clause narrows what may be reviewed: dropping it would widen access, so only an empty one is accepted.
    inert: { where: (x) => x === '' || x === null },
  },
);

function requestConditions(r: v.InferOutput<typeof RequestSchema>): AccessRequestConditions {
  return {
    roles: r.roles,
    search_as_roles: r.search_as_roles,
    ...(r.thresholds.length > 0 ? { thresholds: r.thresholds } : {}),
    ...(r.max_duration !== undefined && r.max_duration !== null && r.max_duration > 0 ? { max_duration: r.max_duration } : {}),
  };
}

/** `allow` or `deny`; absent fields are filled with empty values. */
const ConditionsSchema = v.pipe(
  section(
    {
      logins: names(true),
      node_labels: LabelSelectorSchema,
      db_labels: LabelSelectorSchema,
      db_names: names(true),
      db_users: names(true),
      rules: v.optional(v.pipe(v.nullish(v.array(RuleSchema, 'must be a list of rules')), v.transform((rules) => rules ?? [])), []),
      request: v.nullish(RequestSchema),
      review_requests: v.nullish(ReviewSchema),
    },
    {
      ignored: IGNORED_CONDITION_KEYS,
      // Moderated sessions restrict access; this implementation has none, so only an empty list is accepted.
      inert: { require_session_join: (x) => Array.isArray(x) && x.length === 0 },
    },
  ),
  v.transform(
    (c): RoleConditions => ({
      logins: c.logins,
      node_labels: c.node_labels,
      db_labels: c.db_labels,
      db_names: c.db_names,
      db_users: c.db_users,
      rules: c.rules,
      ...(c.request ? { request: requestConditions(c.request) } : {}),
      ...(c.review_requests ? { review_requests: { roles: c.review_requests.roles } } : {}),
    }),
  ),
);

function oneOf<T extends string>(allowed: readonly T[]) {
  return v.nullish(
    v.pipe(
      v.string(),
      v.check((x) => (allowed as readonly string[]).includes(x), (issue) => `must be one of ${allowed.join(', ')}, got ${quote(String(issue.input))}`),
      v.transform((x) => x as T),
    ),
  );
}

const RecordSessionSchema = v.pipe(
  section({ default: oneOf(SESSION_RECORDING_MODES), ssh: oneOf(SESSION_RECORDING_MODES), desktop: optBool }),
  v.transform(
    (rs): RecordSession => ({
      ...(rs.default ? { default: rs.default } : {}),
      ...(rs.ssh ? { ssh: rs.ssh } : {}),
      desktop: rs.desktop ?? true,
    }),
  ),
);

const OptionsSchema = v.pipe(
  section(
    {
      ssh_port_forwarding: v.optional(v.pipe(v.unknown(), v.check(() => false, 'is not supported, use port_forwarding: true|false'))),
      max_session_ttl: optDuration,
      forward_agent: optBool,
      port_forwarding: optBool,
      record_session: v.nullish(RecordSessionSchema),
      cert_format: oneOf(CERT_FORMATS),
      client_idle_timeout: optDuration,
      disconnect_expired_cert: optBool,
      require_session_mfa: v.nullish(v.boolean('must be true or false (hardware key policies are not supported)')),
      request_access: oneOf(REQUEST_ACCESS_MODES),
      request_prompt: optString,
    },
    { ignored: IGNORED_OPTION_KEYS, inert: INERT_OPTIONS },
  ),
  v.transform(
    (o): RoleOptions => ({
      // Teleport treats 0 as "not set".
      max_session_ttl: o.max_session_ttl === undefined || o.max_session_ttl === null || o.max_session_ttl === 0 ? DEFAULT_MAX_SESSION_TTL_MS : o.max_session_ttl,
      forward_agent: o.forward_agent ?? false,
      port_forwarding: o.port_forwarding ?? true,
      record_session: o.record_session ?? { default: 'best_effort', desktop: true },
      cert_format: o.cert_format ?? 'standard',
      ...(o.client_idle_timeout !== undefined && o.client_idle_timeout !== null && o.client_idle_timeout > 0 ? { client_idle_timeout: o.client_idle_timeout } : {}),
      disconnect_expired_cert: o.disconnect_expired_cert ?? false,
      require_session_mfa: o.require_session_mfa ?? false,
      ...(o.request_access ? { request_access: o.request_access } : {}),
      ...(o.request_prompt ? { request_prompt: o.request_prompt } : {}),
    }),
  ),
);

/** A role document. */
const RoleDocument = section({
  ...headerEntries(KIND_ROLE, ROLE_VERSIONS, 'v7'),
  spec: section({ allow: ConditionsSchema, deny: ConditionsSchema, options: OptionsSchema }),
});

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
  const doc = parseWith(RoleDocument, raw, `role ${JSON.stringify(name)}`);
  return deepFreeze({ kind: KIND_ROLE, version: doc.version, metadata: toMetadata(name, doc.metadata), spec: doc.spec });
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
  if (c.request) {
    const r = c.request;
    const request = {
      ...(r.roles.length > 0 ? { roles: [...r.roles] } : {}),
      ...(r.search_as_roles.length > 0 ? { search_as_roles: [...r.search_as_roles] } : {}),
      ...(r.thresholds ? { thresholds: r.thresholds.map((t) => ({ ...t })) } : {}),
      ...(r.max_duration !== undefined ? { max_duration: formatDuration(r.max_duration) } : {}),
    };
    if (Object.keys(request).length > 0) out['request'] = request;
  }
  if (c.review_requests && c.review_requests.roles.length > 0) out['review_requests'] = { roles: [...c.review_requests.roles] };
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
        ...(o.request_access ? { request_access: o.request_access } : {}),
        ...(o.request_prompt ? { request_prompt: o.request_prompt } : {}),
      },
    },
  };
}
