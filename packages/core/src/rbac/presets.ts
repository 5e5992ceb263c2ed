import { randomUUID } from 'node:crypto';
import { parseRole, type Role } from '../types/index.js';

/** Teleport's preset role names. */
export const PRESET_ACCESS_ROLE = 'access';
export const PRESET_EDITOR_ROLE = 'editor';
export const PRESET_AUDITOR_ROLE = 'auditor';
export const PRESET_REQUESTER_ROLE = 'requester';
export const PRESET_REVIEWER_ROLE = 'reviewer';

/** The metadata label Teleport puts on preset roles. */
export const PRESET_LABELS = Object.freeze({ 'teleport.internal/resource-type': 'preset' });

/** Teleport's `RO()`: read-only verbs. */
const RO = ['list', 'read'];
/** Teleport's `RW()`: read-write verbs. */
const RW = ['list', 'create', 'read', 'update', 'delete'];

const rule = (resource: string, verbs: readonly string[]) => ({ resources: [resource], verbs: [...verbs] });

function preset(name: string, description: string, spec: Record<string, unknown>, version = 'v7'): Role {
  return parseRole({ kind: 'role', version, metadata: { name, description, labels: PRESET_LABELS }, spec });
}

/**
 * Teleport's `access` preset: log in to every node as the user's `logins` trait, connect to every
 * database as the `db_users` / `db_names` traits, read audit events, read one's own sessions.
 * (Fields for apps, Kubernetes, desktops and clouds are left out: this implementation has no such services.)
 *
 * @example
 * ```ts
 * newAccessChecker({ roles: [newPresetAccessRole()], traits: { logins: ['alice'] } }).allowedLogins(); // ['alice']
 * ```
 */
export function newPresetAccessRole(): Role {
  return preset(PRESET_ACCESS_ROLE, 'Access cluster resources', {
    options: {
      cert_format: 'standard',
      max_session_ttl: '30h',
      port_forwarding: true,
      forward_agent: true,
      record_session: { desktop: true },
    },
    allow: {
      logins: ['{{internal.logins}}'],
      node_labels: { '*': '*' },
      db_labels: { '*': '*' },
      db_names: ['{{internal.db_names}}'],
      db_users: ['{{internal.db_users}}'],
      rules: [
        rule('event', RO),
        { resources: ['session'], verbs: ['read', 'list'], where: 'contains(session.participants, user.metadata.name)' },
        rule('instance', RO),
        rule('cluster_maintenance_config', RO),
      ],
    },
  });
}

/**
 * Teleport's `editor` preset: manage users, roles, tokens, connectors and cluster configuration. It has
 * no logins and no resource labels, so it grants no SSH or database access by itself.
 *
 * @example
 * ```ts
 * newAccessChecker({ roles: [newPresetEditorRole()] }).checkRule('user', 'create');
 * ```
 */
export function newPresetEditorRole(): Role {
  return preset(PRESET_EDITOR_ROLE, 'Edit cluster configuration', {
    options: {
      cert_format: 'standard',
      max_session_ttl: '30h',
      port_forwarding: true,
      forward_agent: true,
      record_session: { desktop: false },
    },
    allow: {
      rules: [
        rule('user', RW),
        rule('role', RW),
        rule('bot', RW),
        rule('crown_jewel', RW),
        rule('db_object_import_rule', RW),
        rule('oidc', RW),
        rule('saml', RW),
        rule('github', RW),
        rule('oidc_request', RW),
        rule('saml_request', RW),
        rule('github_request', RW),
        rule('cluster_audit_config', RW),
        rule('cluster_auth_preference', RW),
        rule('auth_connector', RW),
        rule('cluster_name', RW),
        rule('cluster_networking_config', RW),
        rule('session_recording_config', RW),
        rule('external_audit_storage', RW),
        rule('ui_config', RW),
        rule('trusted_cluster', RW),
        rule('remote_cluster', RW),
        rule('token', RW),
        rule('connection_diagnostic', RW),
        rule('db', RW),
        rule('database_certificate', RW),
        rule('installer', RW),
        rule('device', [...RW, 'create_enroll_token', 'enroll']),
        rule('db_service', RO),
        rule('instance', RO),
        rule('login_rule', RW),
        rule('saml_idp_service_provider', RW),
        rule('user_group', RW),
        rule('plugin', RW),
        rule('okta_import_rule', RW),
        rule('okta_assignment', RW),
        rule('lock', RW),
        rule('integration', [...RW, 'use']),
        rule('billing', RW),
        rule('cluster_alert', RW),
        rule('access_list', RW),
        rule('node', RW),
        rule('discovery_config', RW),
        rule('security_report', [...RW, 'use']),
        rule('audit_query', [...RW, 'use']),
        rule('access_graph', RW),
        rule('server_info', RW),
        rule('access_monitoring_rule', RW),
        rule('app_server', RW),
        rule('vnet_config', RW),
        rule('bot_instance', RW),
        rule('access_graph_settings', RW),
        rule('spiffe_federation', RW),
        rule('notification', RW),
        rule('static_host_user', RW),
        rule('user_task', RW),
      ],
    },
  });
}

/**
 * Teleport's `auditor` preset: read audit events and session recordings. Its only login is a random
 * `no-login-<uuid>`, as in Teleport, so its certificates carry a principal no host accepts.
 *
 * @example
 * ```ts
 * newAccessChecker({ roles: [newPresetAuditorRole()] }).allowsRule('session', 'read'); // true
 * ```
 */
export function newPresetAuditorRole(): Role {
  return preset(PRESET_AUDITOR_ROLE, 'Review cluster events and replay sessions', {
    options: {
      cert_format: 'standard',
      max_session_ttl: '30h',
      record_session: { desktop: false },
    },
    allow: {
      logins: [`no-login-${randomUUID()}`],
      rules: [
        rule('session', RO),
        rule('event', RO),
        rule('session_tracker', RO),
        rule('cluster_alert', RO),
        rule('instance', RO),
        rule('security_report', [...RO, 'use']),
        rule('audit_query', [...RO, 'use']),
        rule('bot_instance', RO),
        rule('notification', RO),
      ],
    },
  });
}

/**
 * Teleport's `requester` preset (an Enterprise role there, v6): may request the `access` role.
 * Teleport grants only `search_as_roles` (resource requests); `roles` is added here so that role
 * requests work too.
 *
 * @example
 * ```ts
 * newAccessChecker({ roles: [newPresetRequesterRole()] }).requestableRoles(); // ['access']
 * ```
 */
export function newPresetRequesterRole(): Role {
  return preset(
    PRESET_REQUESTER_ROLE,
    'Request all resources',
    { allow: { request: { roles: [PRESET_ACCESS_ROLE], search_as_roles: [PRESET_ACCESS_ROLE] } } },
    'v6',
  );
}

/**
 * Teleport's `reviewer` preset (Enterprise there): may review requests for the `access` role. Teleport also sets
 * `preview_as_roles: [access]` (reviewers see the requested resources as the requester would); this implementation
 * has no resource preview, so that field is left out.
 *
 * @example
 * ```ts
 * newPresetReviewerRole().spec.allow.review_requests?.roles; // ['access']
 * ```
 */
export function newPresetReviewerRole(): Role {
  return preset(PRESET_REVIEWER_ROLE, 'Review access requests', { allow: { review_requests: { roles: [PRESET_ACCESS_ROLE] } } }, 'v6');
}

/**
 * All preset roles, freshly built (the auditor's placeholder login is random per call).
 *
 * @example
 * ```ts
 * for (const role of presetRoles()) await store.createRole(role).catch(ignoreAlreadyExists);
 * ```
 */
export function presetRoles(): Role[] {
  return [newPresetAccessRole(), newPresetEditorRole(), newPresetAuditorRole(), newPresetRequesterRole(), newPresetReviewerRole()];
}
