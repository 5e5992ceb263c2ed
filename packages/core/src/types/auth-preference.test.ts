import { describe, expect, it } from 'vitest';
import { isKind } from '../errors/index.js';
import { authPreferenceToWire, defaultAuthPreference, parseAuthPreference } from './auth-preference.js';

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw');
}

describe('parseAuthPreference', () => {
  it('defaults to local auth with OTP', () => {
    expect(defaultAuthPreference()).toEqual({
      kind: 'cluster_auth_preference',
      version: 'v2',
      metadata: { name: 'cluster-auth-preference' },
      spec: { type: 'local', second_factor: 'otp', allow_local_auth: true },
    });
    expect(parseAuthPreference({ kind: 'cluster_auth_preference' }).metadata.name).toBe('cluster-auth-preference');
  });

  it.each([
    ['off', 'off'],
    [false, 'off'],
    [true, 'on'],
    ['otp', 'otp'],
    ['on', 'on'],
    ['optional', 'optional'],
    ['webauthn', 'webauthn'],
  ])('second_factor %j -> %s', (input, expected) => {
    expect(parseAuthPreference({ spec: { second_factor: input } }).spec.second_factor).toBe(expected);
  });

  it('keeps webauthn settings and accepts the no-op values tctl prints', () => {
    const p = parseAuthPreference({
      spec: { second_factor: 'webauthn', webauthn: { rp_id: 'example.com' }, disconnect_expired_cert: false, locking_mode: 'best_effort', require_session_mfa: false },
    });
    expect(p.spec.webauthn).toEqual({ rp_id: 'example.com' });
    expect(parseAuthPreference(authPreferenceToWire(p))).toEqual(p);
  });

  it.each([
    [{ spec: { second_factor: 'sms' } }, 'cluster_auth_preference: spec.second_factor must be one of off, otp, on, optional, webauthn, got "sms"'],
    [{ spec: { type: 'oidc' } }, 'cluster_auth_preference: spec.type "oidc" is not supported, use local'],
    [{ spec: { webauthn: {} } }, 'cluster_auth_preference: spec.webauthn.rp_id is required'],
    [{ spec: { require_session_mfa: true } }, 'cluster_auth_preference: spec.require_session_mfa is not supported by this implementation'],
    [{ spec: { locking_mode: 'strict' } }, 'spec.locking_mode is not supported by this implementation'],
    [{ metadata: { name: 'other' } }, 'cluster_auth_preference: metadata.name must be "cluster-auth-preference"'],
    [{ spec: { allow_local_auth: 'no' } }, 'spec.allow_local_auth must be true or false'],
  ])('rejects %j', (input, message) => {
    const err = errorOf(() => parseAuthPreference(input));
    expect(isKind(err, 'bad-parameter')).toBe(true);
    expect(err.message).toContain(message);
  });
});
