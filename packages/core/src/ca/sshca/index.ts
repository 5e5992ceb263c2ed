/**
 * The light SSH entry point (`@teleport-ts/core/ca/sshca`): reading certificates and key lines without
 * `node:crypto`, for clients that show what they hold (`tsh status`). Signing, verifying and key objects stay in
 * `@teleport-ts/core/ca`.
 */
export {
  readSshCertFields,
  readSshCertHead,
  summarizeSshCertificate,
  SSH_CERT_MAX_BYTES,
  SSH_CERT_MAX_PRINCIPALS,
  SSH_CERT_TYPES,
  SSH_CERT_VALID_FOREVER,
  type SshCertFields,
  type SshCertHead,
  type SshCertSummary,
  type SshCertType,
} from './summary.js';
export { isSshKeyType, parseAuthorizedKeyLine, SSH_KEY_TYPES, type AuthorizedKeyLine, type SshKeyType } from './keyline.js';
