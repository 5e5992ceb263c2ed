/**
 * The CertAuthority resource: one per cluster and CA type, holding the active keys, the keys trusted in addition
 * during a rotation, and the rotation state. Shaped like Teleport's `cert_authority` v2 resource (snake_case on
 * the wire, as it is stored and served as JSON).
 */

import type { Clock } from '../clock/index.js';
import { BadParameterError } from '../errors/index.js';
import { BALANCED_V1, generateKeyPair, type KeyAlgorithm } from './keys.js';
import { generateCaCertificate } from './tlsca/ca-certificate.js';

/** CA types, as in Teleport 15+ (database CAs split into `db` and `db_client`). */
export const CERT_AUTHORITY_TYPES = ['host', 'user', 'db', 'db_client', 'openssh'] as const;

export type CertAuthorityType = (typeof CERT_AUTHORITY_TYPES)[number];

/** An SSH CA key pair: `public_key` is an `authorized_keys` line; `private_key` PKCS#8 PEM (absent when shared without secrets). */
export interface SshCaKeyPair {
  public_key: string;
  private_key?: string;
}

/** A TLS CA key pair: the CA certificate and its PKCS#8 PEM key (absent when shared without secrets). */
export interface TlsCaKeyPair {
  cert: string;
  key?: string;
}

/** The keys of a CA, by protocol. */
export interface CaKeySet {
  ssh: SshCaKeyPair[];
  tls: TlsCaKeyPair[];
}

/** Rotation states: nothing happening, or a rotation under way. */
export const ROTATION_STATES = ['standby', 'in_progress'] as const;

export type RotationStateName = (typeof ROTATION_STATES)[number];

/** Rotation phases, in Teleport's order (see `rotation.ts` for what each one does to the keys). */
export const ROTATION_PHASES = ['standby', 'init', 'update_clients', 'update_servers', 'rollback'] as const;

export type RotationPhase = (typeof ROTATION_PHASES)[number];

/** `auto`: the phases follow a schedule over the grace period; `manual`: an operator moves each phase. */
export type RotationMode = 'auto' | 'manual';

/** When an automatic rotation moves to each phase (RFC 3339). */
export interface RotationSchedule {
  update_clients: string;
  update_servers: string;
  standby: string;
}

/** Rotation state of a CA. */
export interface Rotation {
  state: RotationStateName;
  phase: RotationPhase;
  mode?: RotationMode;
  /** Identifies the rotation in progress (a random id). */
  current_id?: string;
  /** When the rotation started (RFC 3339). */
  started?: string;
  /** Milliseconds during which old and new keys are both trusted. */
  grace_period?: number;
  /** When the last rotation completed (RFC 3339). */
  last_rotated?: string;
  schedule?: RotationSchedule;
}

/** A certificate authority of one cluster and one type. */
export interface CertAuthority {
  kind: 'cert_authority';
  sub_kind: CertAuthorityType;
  version: 'v2';
  metadata: { name: string };
  spec: {
    cluster_name: string;
    type: CertAuthorityType;
    /** Keys that sign (the first of each protocol) and are trusted. */
    active_keys: CaKeySet;
    /** Keys trusted in addition during a rotation (the old ones, or the new ones before they sign). */
    additional_trusted_keys: CaKeySet;
    rotation: Rotation;
  };
}

/** Which protocols a CA type has keys for. */
export const CA_KEY_KINDS: Readonly<Record<CertAuthorityType, { tls: boolean; ssh: boolean }>> = Object.freeze({
  host: { tls: true, ssh: true },
  user: { tls: true, ssh: true },
  db: { tls: true, ssh: false },
  db_client: { tls: true, ssh: false },
  openssh: { tls: false, ssh: true },
});

/** Key algorithms for a CA's keys; defaults from {@link BALANCED_V1}. */
export interface CaKeyAlgorithms {
  tls?: KeyAlgorithm;
  ssh?: KeyAlgorithm;
}

/** The default algorithms of a CA type (`balanced-v1`): RSA-2048 for the database CAs, ECDSA P-256 for TLS, Ed25519 for SSH. */
export function defaultCaKeyAlgorithms(type: CertAuthorityType): Required<CaKeyAlgorithms> {
  const database = type === 'db' || type === 'db_client';
  return {
    tls: database ? BALANCED_V1[type === 'db' ? 'db-ca' : 'db-client-ca'] : BALANCED_V1['tls-ca'],
    ssh: type === 'openssh' ? BALANCED_V1['openssh-ca'] : BALANCED_V1['ssh-ca'],
  };
}

function assertType(type: string): asserts type is CertAuthorityType {
  if (!(CERT_AUTHORITY_TYPES as readonly string[]).includes(type)) {
    throw new BadParameterError(`unknown certificate authority type "${type}"`, {
      hint: `use one of ${CERT_AUTHORITY_TYPES.join(', ')}`,
    });
  }
}

/** Options for {@link generateCaKeySet} and {@link newCertAuthority}. */
export interface NewCertAuthorityOptions {
  clusterName: string;
  type: CertAuthorityType;
  clock: Clock;
  /** Override the default algorithms, e.g. `{ tls: 'ecdsa-p256' }` for a `db` CA. */
  algorithms?: CaKeyAlgorithms;
}

/**
 * Generates a fresh key set for a CA type: a TLS key and self-signed certificate and/or an SSH key.
 *
 * @example
 * ```ts
 * const keys = await generateCaKeySet({ clusterName: 'example.com', type: 'host', clock });
 * ```
 */
export async function generateCaKeySet(options: NewCertAuthorityOptions): Promise<CaKeySet> {
  assertType(options.type);
  if (!options.clusterName) throw new BadParameterError('a certificate authority needs a cluster name');
  const kinds = CA_KEY_KINDS[options.type];
  const algorithms = { ...defaultCaKeyAlgorithms(options.type), ...options.algorithms };
  const [tls, ssh] = await Promise.all([
    kinds.tls ? generateKeyPair(algorithms.tls) : undefined,
    kinds.ssh ? generateKeyPair(algorithms.ssh) : undefined,
  ]);
  const set: CaKeySet = { ssh: [], tls: [] };
  if (tls) {
    const cert = await generateCaCertificate({ clusterName: options.clusterName, privateKeyPem: tls.privateKeyPem, clock: options.clock });
    set.tls.push({ cert, key: tls.privateKeyPem });
  }
  if (ssh) set.ssh.push({ public_key: ssh.sshPublicKey, private_key: ssh.privateKeyPem });
  return set;
}

/**
 * Creates a certificate authority with fresh keys, in rotation state `standby`. The TLS certificate has
 * CN = O = cluster name and is valid for 10 years.
 *
 * @example
 * ```ts
 * const hostCa = await newCertAuthority({ clusterName: 'example.com', type: 'host', clock: systemClock });
 * const pin = caPin(hostCa.spec.active_keys.tls[0]!.cert);
 * ```
 */
export async function newCertAuthority(options: NewCertAuthorityOptions): Promise<CertAuthority> {
  const keys = await generateCaKeySet(options);
  return {
    kind: 'cert_authority',
    sub_kind: options.type,
    version: 'v2',
    metadata: { name: options.clusterName },
    spec: {
      cluster_name: options.clusterName,
      type: options.type,
      active_keys: keys,
      additional_trusted_keys: { ssh: [], tls: [] },
      rotation: { state: 'standby', phase: 'standby' },
    },
  };
}

/**
 * The TLS key pair that signs for this CA now (the first active TLS key). Throws {@link BadParameterError} when the
 * CA has no TLS key or was loaded without secrets.
 *
 * @example
 * ```ts
 * await issueUserCert({ ca: tlsSigningKeyPair(userCa), publicKey, identity, clock });
 * ```
 */
export function tlsSigningKeyPair(ca: CertAuthority): { cert: string; key: string } {
  const pair = ca.spec.active_keys.tls[0];
  if (!pair) throw new BadParameterError(`the ${ca.spec.type} CA of ${ca.spec.cluster_name} has no TLS key`);
  if (!pair.key) throw new BadParameterError(`the ${ca.spec.type} CA of ${ca.spec.cluster_name} was loaded without its TLS private key`);
  return { cert: pair.cert, key: pair.key };
}

/**
 * The SSH key pair that signs for this CA now (the first active SSH key).
 *
 * @example
 * ```ts
 * await issueSshUserCert({ ca: sshSigningKeyPair(userCa).private_key, ... });
 * ```
 */
export function sshSigningKeyPair(ca: CertAuthority): { public_key: string; private_key: string } {
  const pair = ca.spec.active_keys.ssh[0];
  if (!pair) throw new BadParameterError(`the ${ca.spec.type} CA of ${ca.spec.cluster_name} has no SSH key`);
  if (!pair.private_key) {
    throw new BadParameterError(`the ${ca.spec.type} CA of ${ca.spec.cluster_name} was loaded without its SSH private key`);
  }
  return { public_key: pair.public_key, private_key: pair.private_key };
}

/** A key set with the private halves removed. */
export function keySetWithoutSecrets(keys: CaKeySet): CaKeySet {
  return {
    ssh: keys.ssh.map((k) => ({ public_key: k.public_key })),
    tls: keys.tls.map((k) => ({ cert: k.cert })),
  };
}

/**
 * A copy of the CA without private keys, safe to hand to clients and agents.
 *
 * @example
 * ```ts
 * return withoutSecrets(hostCa); // served by the auth API's "get CA" endpoint
 * ```
 */
export function withoutSecrets(ca: CertAuthority): CertAuthority {
  return {
    ...ca,
    spec: {
      ...ca.spec,
      active_keys: keySetWithoutSecrets(ca.spec.active_keys),
      additional_trusted_keys: keySetWithoutSecrets(ca.spec.additional_trusted_keys),
    },
  };
}
