/**
 * Checks an OpenSSH certificate the way sshd (`TrustedUserCAKeys`) and ssh (`@cert-authority`) do, and refuses
 * anything they would refuse, plus SHA-1 signatures.
 */

import { BlockList, isIP } from 'node:net';
import type { Clock } from '../../clock/index.js';
import { AccessDeniedError, BadParameterError, type ErrorCodeOf } from '../../errors/index.js';
import { parseSshCertificate, type SshCertificate, type SshCertType, SSH_CERT_VALID_FOREVER } from './certificate.js';
import { decodeSshPublicKey, parseAuthorizedKeyLine, type SshPublicKey } from './publickey.js';
import { verifySshSignature } from './signature.js';

/** Critical options we understand on user certificates; any other critical option makes the certificate invalid. */
export const KNOWN_USER_CRITICAL_OPTIONS = ['force-command', 'source-address'] as const;

/** A trusted CA key: an `authorized_keys`-style line, a key blob, or a parsed key. */
export type TrustedSshCaKey = string | Uint8Array | SshPublicKey;

/** Options for {@link verifySshCert}. */
export interface VerifySshCertOptions {
  /** CA public keys to trust (during rotation: the old and the new one). */
  trustedCaKeys: readonly TrustedSshCaKey[];
  certType: SshCertType;
  /**
   * The principal being authenticated (the login for user certificates, the host name for host certificates);
   * it must be listed in the certificate. `null` skips the check, for callers that match principals later.
   */
  principal: string | null;
  clock: Clock;
  /** The peer address, required to honour a `source-address` critical option. */
  clientAddress?: string;
}

/** What {@link verifySshCert} returns on success. */
export interface VerifiedSshCert {
  certificate: SshCertificate;
  /** The trusted CA key that signed it. */
  caKey: SshPublicKey;
}

const deny = (message: string, code: ErrorCodeOf<'access-denied'>): AccessDeniedError => new AccessDeniedError(message, { code });

function toBlob(key: TrustedSshCaKey): Buffer {
  if (typeof key === 'string') return parseAuthorizedKeyLine(key).blob;
  if (key instanceof Uint8Array) return Buffer.from(key);
  return key.blob;
}

function checkSourceAddress(list: string, clientAddress: string | undefined): void {
  if (clientAddress === undefined) {
    throw deny('certificate is restricted by source-address and no client address is known', 'ERR_TP_SSH_SOURCE_ADDRESS');
  }
  const address = clientAddress.startsWith('::ffff:') && isIP(clientAddress.slice(7)) === 4 ? clientAddress.slice(7) : clientAddress;
  const family = isIP(address);
  if (family === 0) throw new BadParameterError(`invalid client address "${clientAddress}"`);
  const allowed = new BlockList();
  for (const entry of list.split(',')) {
    const [network, prefixText] = entry.trim().split('/');
    const entryFamily = isIP(network ?? '');
    if (entryFamily === 0) throw deny(`invalid source-address entry "${entry}"`, 'ERR_TP_SSH_SOURCE_ADDRESS');
    const type = entryFamily === 4 ? 'ipv4' : 'ipv6';
    if (prefixText === undefined) allowed.addAddress(network!, type);
    else {
      const prefix = Number(prefixText);
      if (!Number.isInteger(prefix) || prefix < 0 || prefix > (entryFamily === 4 ? 32 : 128)) {
        throw deny(`invalid source-address entry "${entry}"`, 'ERR_TP_SSH_SOURCE_ADDRESS');
      }
      allowed.addSubnet(network!, prefix, type);
    }
  }
  if (!allowed.check(address, family === 4 ? 'ipv4' : 'ipv6')) {
    throw deny('client address is not allowed by the certificate source-address', 'ERR_TP_SSH_SOURCE_ADDRESS');
  }
}

/**
 * Verifies a certificate against trusted CA keys and returns it parsed. Refuses, with {@link AccessDeniedError}: a
 * CA key that is not trusted, a bad signature, a signature algorithm that does not match the CA key type, SHA-1
 * `ssh-rsa` signatures, the wrong certificate type, a certificate that is expired or not yet valid, a principal
 * that is not listed (an empty list never matches), and unknown critical options.
 *
 * @example
 * ```ts
 * const { certificate } = verifySshCert(certLine, {
 *   trustedCaKeys: trustedSshKeys(userCa), certType: 'user', principal: 'root', clock,
 * });
 * ```
 */
export function verifySshCert(cert: string | Uint8Array | SshCertificate, options: VerifySshCertOptions): VerifiedSshCert {
  const certificate = typeof cert === 'string' || cert instanceof Uint8Array ? parseSshCertificate(cert) : cert;

  const signer = certificate.signatureKey.blob;
  const trusted = options.trustedCaKeys.map(toBlob).find((blob) => blob.equals(signer));
  if (!trusted) throw deny('SSH certificate is not signed by a trusted certificate authority', 'ERR_TP_SSH_UNTRUSTED_CA');
  const caKey = decodeSshPublicKey(trusted);
  verifySshSignature(caKey, certificate.signature, certificate.signedBytes);

  if (certificate.certType !== options.certType) {
    throw deny(`expected an SSH ${options.certType} certificate, got a ${certificate.certType} certificate`, 'ERR_TP_SSH_CERT_TYPE');
  }

  const now = BigInt(Math.floor(options.clock.now().getTime() / 1000));
  if (now < certificate.validAfter) throw deny('SSH certificate is not yet valid', 'ERR_TP_SSH_CERT_NOT_YET_VALID');
  if (certificate.validBefore !== SSH_CERT_VALID_FOREVER && now >= certificate.validBefore) {
    throw deny('SSH certificate has expired', 'ERR_TP_SSH_CERT_EXPIRED');
  }

  if (options.principal !== null && !certificate.validPrincipals.includes(options.principal)) {
    throw deny(`SSH certificate is not valid for principal "${options.principal}"`, 'ERR_TP_SSH_PRINCIPAL');
  }

  const known: readonly string[] = options.certType === 'user' ? KNOWN_USER_CRITICAL_OPTIONS : [];
  for (const [name, value] of Object.entries(certificate.criticalOptions)) {
    if (!known.includes(name)) throw deny(`unsupported critical option "${name}"`, 'ERR_TP_SSH_CRITICAL_OPTION');
    if (name === 'source-address') checkSourceAddress(value, options.clientAddress);
  }

  return { certificate, caKey };
}
