import { BadParameterError } from '../errors/index.js';
import { parseWith, v } from '../schema/index.js';
import { headerEntries, resourceName, toMetadata, type ResourceHeader } from './metadata.js';
import { deepFreeze, fail, isRecord, optBool, section, type ParseContext } from './validate.js';

export const KIND_CLUSTER_AUTH_PREFERENCE = 'cluster_auth_preference';
/** The only name the singleton may have (Teleport's `MetaNameClusterAuthPreference`). */
export const AUTH_PREFERENCE_NAME = 'cluster-auth-preference';
export const AUTH_PREFERENCE_VERSIONS = ['v2'] as const;
export type AuthPreferenceVersion = (typeof AUTH_PREFERENCE_VERSIONS)[number];

export const AUTH_TYPES = ['local'] as const;
export type AuthType = (typeof AUTH_TYPES)[number];

export const SECOND_FACTORS = ['off', 'otp', 'on', 'optional', 'webauthn'] as const;
export type SecondFactor = (typeof SECOND_FACTORS)[number];

export const DEFAULT_SECOND_FACTOR: SecondFactor = 'otp';

export interface AuthPreferenceSpec {
  readonly type: AuthType;
  readonly second_factor: SecondFactor;
  readonly allow_local_auth: boolean;
  readonly webauthn?: { readonly rp_id: string };
}

/** The cluster's authentication preference (a singleton named `cluster-auth-preference`). */
export type AuthPreference = ResourceHeader<typeof KIND_CLUSTER_AUTH_PREFERENCE, AuthPreferenceVersion, AuthPreferenceSpec>;

/** Teleport settings that would tighten security, accepted only at their no-op value (what `tctl get cap` prints). */
const INERT_SPEC_FIELDS: Readonly<Record<string, (v: unknown) => boolean>> = {
  disconnect_expired_cert: (v) => v === false,
  locking_mode: (v) => v === 'best_effort' || v === '',
  require_session_mfa: (v) => v === false || v === 0 || v === 'off',
  device_trust: (v) => isRecord(v) && (v['mode'] === undefined || v['mode'] === 'off' || v['mode'] === 'optional'),
};

/** A `cluster_auth_preference` document. */
const AuthPreferenceDocument = section({
  ...headerEntries(KIND_CLUSTER_AUTH_PREFERENCE, AUTH_PREFERENCE_VERSIONS, 'v2'),
  spec: section(
    {
      type: v.pipe(
        v.nullish(v.string(), 'local'),
        v.check((t) => (AUTH_TYPES as readonly string[]).includes(t), (issue) => `${JSON.stringify(String(issue.input).slice(0, 64))} is not supported, use local`),
        v.transform((t) => t as AuthType),
      ),
      // YAML 1.1 writes `second_factor: off` unquoted, a boolean.
      second_factor: v.pipe(
        v.nullish(v.union([v.string(), v.boolean()]), DEFAULT_SECOND_FACTOR),
        v.transform((sf) => (sf === false ? 'off' : sf === true ? 'on' : sf)),
        v.check(
          (sf) => (SECOND_FACTORS as readonly string[]).includes(sf),
          (issue) => `must be one of ${SECOND_FACTORS.join(', ')}, got ${JSON.stringify(String(issue.input).slice(0, 64))}`,
        ),
        v.transform((sf) => sf as SecondFactor),
      ),
      allow_local_auth: optBool,
      webauthn: v.nullish(
        section(
          { rp_id: v.pipe(v.nullish(v.string(), ''), v.check((id) => id !== '', 'is required')) },
          { ignored: ['attestation_allowed_cas', 'attestation_denied_cas'] },
        ),
      ),
    },
    {
      inert: INERT_SPEC_FIELDS,
      ignored: ['connector_name', 'message_of_the_day', 'allow_passwordless', 'allow_headless', 'idp', 'default_session_ttl', 'okta', 'signature_algorithm_suite', 'stable_unix_user_config', 'u2f'],
    },
  ),
});

/**
 * Parses and validates a `cluster_auth_preference` document: `type` defaults to `local` (the only one
 * supported), `second_factor` to `otp`; `second_factor: off` written unquoted in YAML 1.1 (a boolean)
 * is read as `off`. Returns a frozen {@link AuthPreference}.
 *
 * @example
 * ```ts
 * parseAuthPreference({ kind: 'cluster_auth_preference', spec: { second_factor: 'webauthn', webauthn: { rp_id: 'example.com' } } });
 * ```
 */
export function parseAuthPreference(raw: unknown): AuthPreference {
  if (!isRecord(raw)) throw new BadParameterError('cluster_auth_preference must be a mapping');
  const name = resourceName(raw, { kind: KIND_CLUSTER_AUTH_PREFERENCE, defaultName: AUTH_PREFERENCE_NAME });
  const ctx: ParseContext = { prefix: KIND_CLUSTER_AUTH_PREFERENCE };
  if (name !== AUTH_PREFERENCE_NAME) fail(ctx, 'metadata.name', `must be ${JSON.stringify(AUTH_PREFERENCE_NAME)}`);
  const doc = parseWith(AuthPreferenceDocument, raw, ctx.prefix);
  const { type, second_factor, allow_local_auth, webauthn } = doc.spec;
  return deepFreeze({
    kind: KIND_CLUSTER_AUTH_PREFERENCE,
    version: doc.version,
    metadata: toMetadata(name, doc.metadata),
    spec: { type, second_factor, allow_local_auth: allow_local_auth ?? true, ...(webauthn ? { webauthn: { rp_id: webauthn.rp_id } } : {}) },
  });
}

/** The default auth preference: local users, OTP second factor. */
export function defaultAuthPreference(): AuthPreference {
  return parseAuthPreference({ kind: KIND_CLUSTER_AUTH_PREFERENCE, version: 'v2', metadata: { name: AUTH_PREFERENCE_NAME } });
}

/** The plain-data form of an auth preference, as `tctl get cap` prints it. */
export function authPreferenceToWire(pref: AuthPreference): Record<string, unknown> {
  return {
    kind: pref.kind,
    version: pref.version,
    metadata: { ...pref.metadata },
    spec: {
      type: pref.spec.type,
      second_factor: pref.spec.second_factor,
      allow_local_auth: pref.spec.allow_local_auth,
      ...(pref.spec.webauthn ? { webauthn: { ...pref.spec.webauthn } } : {}),
    },
  };
}
