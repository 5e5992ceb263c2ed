/**
 * Credential primitives (`@teleport-ts/core/authn`): password policy and scrypt hashes, TOTP (RFC 6238),
 * failed-login lockout accounting, random secret tokens. Pure apart from randomness; time comes from an
 * injected {@link Clock}. No message ever contains a password, code, secret or token.
 *
 * @example
 * ```ts
 * import { hashPassword, validateTotp } from '@teleport-ts/core/authn';
 * ```
 */
export {
  MIN_PASSWORD_LENGTH,
  MAX_PASSWORD_LENGTH,
  DEFAULT_SCRYPT_PARAMS,
  checkPasswordPolicy,
  hashPassword,
  verifyPassword,
  passwordHashNeedsRehash,
  type ScryptParams,
} from './password.js';
export {
  TOTP_PERIOD_SECONDS,
  TOTP_DIGITS,
  TOTP_ALGORITHM,
  TOTP_SECRET_BYTES,
  TOTP_SKEW_STEPS,
  base32Encode,
  base32Decode,
  newTotpSecret,
  totpUrl,
  totpStep,
  generateTotp,
  validateTotp,
  type TotpUrlOptions,
  type ValidateTotpOptions,
} from './totp.js';
export {
  MAX_LOGIN_ATTEMPTS,
  LOGIN_ATTEMPT_WINDOW_MS,
  ACCOUNT_LOCK_MS,
  LOCK_REASON_FAILED_ATTEMPTS,
  DEFAULT_LOCKOUT_POLICY,
  NO_LOGIN_ATTEMPTS,
  isLocked,
  recordLoginFailure,
  reserveLoginAttempt,
  settleLoginFailure,
  type AttemptReservation,
  recordLoginSuccess,
  type LockoutPolicy,
  type LoginAttempts,
} from './lockout.js';
export { DEFAULT_TOKEN_BYTES, newSecretToken, constantTimeEqual, maskSecret } from './secret.js';
