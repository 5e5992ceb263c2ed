/**
 * Key generation with Teleport's `balanced-v1` suite: Ed25519 for SSH, ECDSA P-256 for TLS, RSA-2048 for the
 * database CAs (what every database accepts).
 */

import { createPrivateKey, createPublicKey, generateKeyPair as generateNodeKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { BadParameterError } from '../errors/index.js';
import { formatAuthorizedKey, sshPublicKeyFromKeyObject } from './sshca/publickey.js';

/** Key algorithms we generate. */
export const KEY_ALGORITHMS = ['ed25519', 'ecdsa-p256', 'rsa-2048'] as const;

export type KeyAlgorithm = (typeof KEY_ALGORITHMS)[number];

/** What each key is for, in the words of Teleport's algorithm suites. */
export type KeyPurpose =
  | 'ssh-ca'
  | 'ssh-user'
  | 'ssh-host'
  | 'tls-ca'
  | 'tls-user'
  | 'tls-host'
  | 'db-ca'
  | 'db-client-ca'
  | 'openssh-ca';

/** Teleport's `balanced-v1` suite. */
export const BALANCED_V1: Readonly<Record<KeyPurpose, KeyAlgorithm>> = Object.freeze({
  'ssh-ca': 'ed25519',
  'ssh-user': 'ed25519',
  'ssh-host': 'ed25519',
  'tls-ca': 'ecdsa-p256',
  'tls-user': 'ecdsa-p256',
  'tls-host': 'ecdsa-p256',
  'db-ca': 'rsa-2048',
  'db-client-ca': 'rsa-2048',
  'openssh-ca': 'ed25519',
});

/** A generated key pair in the text forms we store and hand out. */
export interface KeyPairPem {
  algorithm: KeyAlgorithm;
  /** PKCS#8 PEM. */
  privateKeyPem: string;
  /** SubjectPublicKeyInfo PEM. */
  publicKeyPem: string;
  /** OpenSSH public key line, e.g. `ssh-ed25519 AAAA... comment`. */
  sshPublicKey: string;
}

const generate = promisify(generateNodeKeyPair);

async function generateKeyObjects(algorithm: KeyAlgorithm): Promise<{ privateKey: KeyObject; publicKey: KeyObject }> {
  switch (algorithm) {
    case 'ed25519':
      return generate('ed25519');
    case 'ecdsa-p256':
      return generate('ec', { namedCurve: 'P-256' });
    case 'rsa-2048':
      return generate('rsa', { modulusLength: 2048, publicExponent: 0x10001 });
    default:
      throw new BadParameterError(`unsupported key algorithm "${String(algorithm)}"`);
  }
}

/**
 * Generates a key pair (off the main thread) and returns it as PKCS#8 PEM, SPKI PEM and an OpenSSH public key line.
 *
 * @example
 * ```ts
 * const keys = await generateKeyPair(BALANCED_V1['ssh-user'], { comment: 'alice' });
 * keys.sshPublicKey; // 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI... alice'
 * ```
 */
export async function generateKeyPair(algorithm: KeyAlgorithm, options: { comment?: string } = {}): Promise<KeyPairPem> {
  const { privateKey, publicKey } = await generateKeyObjects(algorithm);
  return {
    algorithm,
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }) as string,
    sshPublicKey: formatAuthorizedKey(sshPublicKeyFromKeyObject(publicKey), options.comment ?? ''),
  };
}

/**
 * The algorithm of a key (PEM or key object), or `undefined` when it is none we generate (e.g. RSA-4096 or P-384).
 *
 * @example
 * ```ts
 * keyAlgorithmOf(ca.spec.active_keys.tls[0].cert); // 'ecdsa-p256'
 * ```
 */
export function keyAlgorithmOf(key: string | KeyObject): KeyAlgorithm | undefined {
  const object = typeof key === 'string' ? (key.includes('PRIVATE KEY') ? createPrivateKey(key) : createPublicKey(key)) : key;
  const details = object.asymmetricKeyDetails;
  switch (object.asymmetricKeyType) {
    case 'ed25519':
      return 'ed25519';
    case 'ec':
      return details?.namedCurve === 'prime256v1' ? 'ecdsa-p256' : undefined;
    case 'rsa':
      return details?.modulusLength === 2048 ? 'rsa-2048' : undefined;
    default:
      return undefined;
  }
}

/**
 * The OpenSSH public key line for a key (PEM, private or public, or a key object).
 *
 * @example
 * ```ts
 * sshPublicKeyLine(keys.privateKeyPem, 'alice'); // 'ssh-ed25519 AAAA... alice'
 * ```
 */
export function sshPublicKeyLine(key: string | KeyObject, comment = ''): string {
  const object = typeof key === 'string' ? createPublicKey(key) : key;
  return formatAuthorizedKey(sshPublicKeyFromKeyObject(object), comment);
}
