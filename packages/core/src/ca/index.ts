/**
 * `@teleport-ts/core/ca`: the trust layer's pure library. Key generation (`balanced-v1`), the CertAuthority resource
 * and its rotation, X.509 issuance/parsing/verification (`tlsca`), and OpenSSH certificates (`sshca`).
 * Persistence is not here: the auth service stores CAs through `store`.
 *
 * @example
 * ```ts
 * import { newCertAuthority, tlsSigningKeyPair, issueUserCert, generateKeyPair } from '@teleport-ts/core/ca';
 *
 * const userCa = await newCertAuthority({ clusterName: 'example.com', type: 'user', clock });
 * const keys = await generateKeyPair('ecdsa-p256');
 * const cert = await issueUserCert({
 *   ca: tlsSigningKeyPair(userCa), publicKey: keys.publicKeyPem, clock,
 *   identity: { username: 'alice', roles: ['access'], logins: ['root'], traits: {}, expires },
 * });
 * ```
 */

export {
  BALANCED_V1,
  generateKeyPair,
  KEY_ALGORITHMS,
  keyAlgorithmOf,
  sshPublicKeyLine,
  type KeyAlgorithm,
  type KeyPairPem,
  type KeyPurpose,
} from './keys.js';
export { derToPem, pemToDer, pemBlocksToDer } from './pem.js';
export { bareKey, hostCaLine, queryEscape, sshCaExportLines, tlsCaExportPem, userCaLine } from './export.js';
export { caPin, caPinMatches, caPinMismatch, checkCaPin } from './pin.js';
export {
  CA_KEY_KINDS,
  CERT_AUTHORITY_TYPES,
  defaultCaKeyAlgorithms,
  generateCaKeySet,
  keySetWithoutSecrets,
  newCertAuthority,
  ROTATION_PHASES,
  ROTATION_STATES,
  sshSigningKeyPair,
  tlsSigningKeyPair,
  withoutSecrets,
  type CaKeyAlgorithms,
  type CaKeySet,
  type CertAuthority,
  type CertAuthorityType,
  type NewCertAuthorityOptions,
  type Rotation,
  type RotationMode,
  type RotationPhase,
  type RotationSchedule,
  type RotationStateName,
  type SshCaKeyPair,
  type TlsCaKeyPair,
} from './authority.js';
export {
  advanceAutoRotation,
  DEFAULT_ROTATION_GRACE_PERIOD_MS,
  rotate,
  ROTATION_TRANSITIONS,
  trustedSshKeys,
  trustedTlsCerts,
  type RotateOptions,
} from './rotation.js';
export {
  isIssuedBy,
  needsReissue,
  nextCaCheckDelayMs,
  nextScheduledPhaseMs,
  renewalDelayMs,
  rotationCaughtUp,
  rotationSeen,
  signingTlsCert,
  type RotationSeen,
} from './renew.js';

// X.509
export {
  CA_CERT_VALIDITY_MS,
  generateCaCertificate,
  SERIAL_NUMBER_BYTES,
  X509_BACKDATE_MS,
  type GenerateCaCertificateOptions,
} from './tlsca/ca-certificate.js';
export { encodeIdentity, identitySubjectAttributes } from './tlsca/identity.js';
export * from './tlsca/index.js';
export { parseX509Certificate, type X509CertificateInput } from './tlsca/x509.js';
export {
  EXT_KEY_USAGE,
  issueDatabaseClientCert,
  issueDatabaseServerCert,
  issueHostCert,
  issueUserCert,
  KEY_USAGE,
  splitHosts,
  type IssueDatabaseClientCertOptions,
  type IssueDatabaseServerCertOptions,
  type IssueHostCertOptions,
  type IssueUserCertOptions,
  type PublicKeyInput,
  type SubjectAltNames,
  type TlsCaInput,
} from './tlsca/issue.js';
export { tlsCaSigner, type TlsCaKeyPairPem, type TlsCaSigner } from './tlsca/signer.js';
export { verifyTlsCert, type VerifiedTlsCert, type VerifyTlsCertOptions } from './tlsca/verify.js';

// OpenSSH
export {
  formatSshCertificate,
  parseSshCertificate,
  signSshCertificate,
  sshCaSigner,
  sshCertKeyType,
  SSH_CERT_MAX_PRINCIPALS,
  SSH_CERT_TYPES,
  SSH_CERT_VALID_FOREVER,
  type SshCaSigner,
  type SshCertificate,
  type SshCertificateTemplate,
  type SshCertType,
} from './sshca/certificate.js';
export {
  issueOpenSshHostCert,
  issueSshHostCert,
  issueSshUserCert,
  SSH_CERT_BACKDATE_MS,
  SSH_EXTENSIONS,
  sshHostCertPrincipals,
  sshUserIdentity,
  type IssueOpenSshHostCertOptions,
  type IssueSshHostCertOptions,
  type IssueSshUserCertOptions,
  type SshCaInput,
  type SshPublicKeyInput,
  type SshUserIdentity,
  type Traits,
} from './sshca/issue.js';
export { toOpenSshPrivateKey } from './sshca/privatekey.js';
export { summarizeSshCertificate, type SshCertFields, type SshCertSummary } from './sshca/summary.js';
export { isSshKeyType } from './sshca/keyline.js';
export {
  decodeSshPublicKey,
  formatAuthorizedKey,
  parseAuthorizedKeyLine,
  parseSshPublicKey,
  sshFingerprint,
  sshPublicKeyFromKeyObject,
  SSH_KEY_TYPES,
  type AuthorizedKeyLine,
  type SshKeyType,
  type SshPublicKey,
} from './sshca/publickey.js';
export {
  signSshData,
  SSH_SIGNATURE_ALGORITHMS,
  verifySshSignature,
  type SshRsaSignatureAlgorithm,
  type SshSignatureAlgorithm,
} from './sshca/signature.js';
export {
  KNOWN_USER_CRITICAL_OPTIONS,
  verifySshCert,
  type TrustedSshCaKey,
  type VerifiedSshCert,
  type VerifySshCertOptions,
} from './sshca/verify.js';
