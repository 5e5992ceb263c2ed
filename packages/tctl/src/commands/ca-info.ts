/** What tctl shows about a CA's keys: protocol, algorithm (Teleport's names) and storage. */

import { X509Certificate, type KeyObject } from 'node:crypto';
import { caPin, parseSshPublicKey, type CertAuthority, type CaKeySet } from '@teleport-ts/core/ca';

export interface AuthorityKey {
  protocol: 'SSH' | 'TLS';
  /** `Ed25519`, `ECDSA P-256`, `RSA 2048`, or `unknown`. */
  algorithm: string;
  /** Where the private key lives; always `software` here (no HSM/KMS). */
  storage: string;
}

const CURVE_NAMES: Readonly<Record<string, string>> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };

/** Teleport's `publicKeyAlgorithmName`. */
function keyAlgorithmName(key: KeyObject): string {
  const details = key.asymmetricKeyDetails;
  switch (key.asymmetricKeyType) {
    case 'ed25519':
      return 'Ed25519';
    case 'ec':
      return `ECDSA ${CURVE_NAMES[details?.namedCurve ?? ''] ?? details?.namedCurve ?? 'unknown'}`;
    case 'rsa':
      return `RSA ${details?.modulusLength ?? 'unknown'}`;
    default:
      return 'unknown';
  }
}

function sshAlgorithm(publicKeyLine: string): string {
  try {
    return keyAlgorithmName(parseSshPublicKey(publicKeyLine).key);
  } catch {
    return 'unknown';
  }
}

function tlsAlgorithm(certPem: string): string {
  try {
    return keyAlgorithmName(new X509Certificate(certPem).publicKey);
  } catch {
    return 'unknown';
  }
}

/** The keys of a key set, SSH first then TLS, as Teleport lists them. */
export function authorityKeys(keys: CaKeySet): AuthorityKey[] {
  return [
    ...keys.ssh.map((k): AuthorityKey => ({ protocol: 'SSH', algorithm: sshAlgorithm(k.public_key), storage: 'software' })),
    ...keys.tls.map((k): AuthorityKey => ({ protocol: 'TLS', algorithm: tlsAlgorithm(k.cert), storage: 'software' })),
  ];
}

/** CA pins of a host CA: one per trusted TLS certificate (active first), as `tctl status` and join commands print. */
export function caPinsOf(hostCas: readonly CertAuthority[], clusterName: string): string[] {
  const pins: string[] = [];
  for (const ca of hostCas) {
    if (ca.spec.type !== 'host' || ca.spec.cluster_name !== clusterName) continue;
    for (const pair of [...ca.spec.active_keys.tls, ...ca.spec.additional_trusted_keys.tls]) {
      const pin = caPin(pair.cert);
      if (!pins.includes(pin)) pins.push(pin);
    }
  }
  return pins;
}
