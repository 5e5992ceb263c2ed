import { BadParameterError } from '../errors/index.js';
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
  type ParseContext,
} from './validate.js';

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
  checkKeys(ctx, raw, '', ['kind', 'version', 'metadata', 'spec']);
  const version = checkHeader(ctx, raw, KIND_CLUSTER_AUTH_PREFERENCE, AUTH_PREFERENCE_VERSIONS, 'v2');
  const spec = optRecord(ctx, raw['spec'], 'spec');
  checkKeys(
    ctx,
    spec,
    'spec',
    ['type', 'second_factor', 'allow_local_auth', 'webauthn'],
    [...Object.keys(INERT_SPEC_FIELDS), 'connector_name', 'message_of_the_day', 'allow_passwordless', 'allow_headless', 'idp', 'default_session_ttl', 'okta', 'signature_algorithm_suite', 'stable_unix_user_config', 'u2f'],
  );
  checkInertValues(ctx, spec, 'spec', INERT_SPEC_FIELDS);
  const type = optString(ctx, spec['type'], 'spec.type') ?? 'local';
  if (!(AUTH_TYPES as readonly string[]).includes(type)) fail(ctx, 'spec.type', `${JSON.stringify(type.slice(0, 64))} is not supported, use local`);
  let sf = spec['second_factor'];
  if (sf === false) sf = 'off';
  if (sf === true) sf = 'on';
  const secondFactor = optString(ctx, sf, 'spec.second_factor') ?? DEFAULT_SECOND_FACTOR;
  if (!(SECOND_FACTORS as readonly string[]).includes(secondFactor)) {
    fail(ctx, 'spec.second_factor', `must be one of ${SECOND_FACTORS.join(', ')}, got ${JSON.stringify(secondFactor.slice(0, 64))}`);
  }
  let webauthn: { rp_id: string } | undefined;
  if (spec['webauthn'] !== undefined && spec['webauthn'] !== null) {
    const w = optRecord(ctx, spec['webauthn'], 'spec.webauthn');
    checkKeys(ctx, w, 'spec.webauthn', ['rp_id'], ['attestation_allowed_cas', 'attestation_denied_cas']);
    const rpId = optString(ctx, w['rp_id'], 'spec.webauthn.rp_id');
    if (rpId === undefined || rpId === '') fail(ctx, 'spec.webauthn.rp_id', 'is required');
    webauthn = { rp_id: rpId };
  }
  return deepFreeze({
    kind: KIND_CLUSTER_AUTH_PREFERENCE,
    version,
    metadata: parseMetadata(ctx, raw['metadata'], name),
    spec: {
      type: type as AuthType,
      second_factor: secondFactor as SecondFactor,
      allow_local_auth: optBool(ctx, spec['allow_local_auth'], 'spec.allow_local_auth') ?? true,
      ...(webauthn !== undefined ? { webauthn } : {}),
    },
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
