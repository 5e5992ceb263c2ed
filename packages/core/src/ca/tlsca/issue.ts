/**
 * Leaf X.509 certificates signed by a Teleport CA: user, host, database server and database client certificates.
 * The TBSCertificate is written directly (see `./der.ts` for why) and signed with the cached CA key.
 */

import { randomBytes, sign, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import type { Clock } from '../../clock/index.js';
import { BadParameterError } from '../../errors/index.js';
import { derToPem } from '../pem.js';
import { SERIAL_NUMBER_BYTES, X509_BACKDATE_MS } from './ca-certificate.js';
import {
  derBitString,
  derExplicit,
  derImplicitPrimitive,
  derOctetString,
  derOid,
  derSequence,
  derSmallInteger,
  derTime,
  DER_TRUE,
  derUnsignedInteger,
} from './der.js';
import { encodeIdentity, encodeName, NAME_OIDS, type Identity } from './identity.js';
import { subjectPublicKey, type SubjectPublicKey } from './public-key.js';
import { tlsCaSigner, type TlsCaKeyPairPem, type TlsCaSigner } from './signer.js';

/** A CA to sign with: a prepared signer or the CA's certificate and key PEM. */
export type TlsCaInput = TlsCaSigner | TlsCaKeyPairPem;

/** The subject's public key: SubjectPublicKeyInfo PEM (or any key PEM `createPublicKey` reads), or a key object. */
export type PublicKeyInput = string | KeyObject;

/** Extended key usages. */
export const EXT_KEY_USAGE = {
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

/** Key usage bits (RFC 5280 4.2.1.3), most significant bit first. */
export const KEY_USAGE = {
  digitalSignature: 0,
  keyEncipherment: 2,
  keyCertSign: 5,
  cRLSign: 6,
} as const;

const OID_KEY_USAGE = '2.5.29.15';
const OID_EXT_KEY_USAGE = '2.5.29.37';
const OID_BASIC_CONSTRAINTS = '2.5.29.19';
const OID_SUBJECT_ALT_NAME = '2.5.29.17';
const OID_AUTHORITY_KEY_IDENTIFIER = '2.5.29.35';
const X509_VERSION_3 = 2;

const GENERAL_NAME_DNS = 2;
const GENERAL_NAME_IP = 7;

function toSigner(ca: TlsCaInput): TlsCaSigner {
  return 'privateKey' in ca ? ca : tlsCaSigner(ca);
}

function extension(oid: string, critical: boolean, value: Buffer): Buffer {
  return critical ? derSequence(derOid(oid), DER_TRUE, derOctetString(value)) : derSequence(derOid(oid), derOctetString(value));
}

/** DER KeyUsage BIT STRING for a set of bit positions (minimal: trailing zero bits dropped). */
function keyUsageValue(bits: readonly number[]): Buffer {
  const highest = Math.max(...bits);
  const bytes = Buffer.alloc(Math.floor(highest / 8) + 1);
  for (const bit of bits) bytes[bit >> 3]! |= 0x80 >> (bit & 7);
  return derBitString(bytes, 7 - (highest & 7));
}

function ipAddressBytes(ip: string): Buffer {
  const family = isIP(ip);
  if (family === 4) return Buffer.from(ip.split('.').map(Number));
  if (family !== 6) throw new BadParameterError(`invalid IP address "${ip}"`);
  let address = ip;
  const zone = address.indexOf('%');
  if (zone >= 0) address = address.slice(0, zone);
  // Expand an embedded IPv4 tail (::ffff:1.2.3.4) into two groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  if (v4) {
    const b = v4[1]!.split('.').map(Number);
    address = address.slice(0, -v4[1]!.length) + `${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const [head = '', tail] = address.split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const groups = tail === undefined ? headGroups : [...headGroups, ...Array<string>(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

function dnsNameBytes(name: string): Buffer {
  // IA5String content; implicitly tagged in GeneralName.
  if (!/^[\x21-\x7e]+$/.test(name)) throw new BadParameterError(`invalid DNS name "${name}"`);
  return Buffer.from(name, 'latin1');
}

/** Subject alternative names. */
export interface SubjectAltNames {
  dnsNames?: readonly string[];
  ipAddresses?: readonly string[];
}

/** Splits host names into DNS names and IP addresses. */
export function splitHosts(hosts: readonly string[]): Required<SubjectAltNames> {
  const dnsNames: string[] = [];
  const ipAddresses: string[] = [];
  for (const host of hosts) (isIP(host) ? ipAddresses : dnsNames).push(host);
  return { dnsNames, ipAddresses };
}

interface LeafSpec {
  ca: TlsCaSigner;
  subject: Buffer;
  publicKey: SubjectPublicKey;
  notAfter: Date;
  clock: Clock;
  extKeyUsages: readonly string[];
  sans?: SubjectAltNames;
}

function issueLeaf(spec: LeafSpec): string {
  const now = spec.clock.now().getTime();
  const notAfter = new Date(Math.floor(spec.notAfter.getTime() / 1000) * 1000);
  if (!(notAfter.getTime() > now)) throw new BadParameterError('certificate expiry must be in the future');
  if (notAfter > spec.ca.notAfter) throw new BadParameterError('certificate would outlive its certificate authority');
  const usageBits =
    spec.publicKey.type === 'rsa'
      ? [KEY_USAGE.digitalSignature, KEY_USAGE.keyEncipherment]
      : [KEY_USAGE.digitalSignature];
  const extensions = [
    extension(OID_KEY_USAGE, true, keyUsageValue(usageBits)),
    extension(OID_EXT_KEY_USAGE, false, derSequence(...spec.extKeyUsages.map((oid) => derOid(oid)))),
    extension(OID_BASIC_CONSTRAINTS, true, derSequence()),
    extension(OID_AUTHORITY_KEY_IDENTIFIER, false, derSequence(derImplicitPrimitive(0, spec.ca.keyIdentifier))),
  ];
  const names = [
    ...(spec.sans?.dnsNames ?? []).map((name) => derImplicitPrimitive(GENERAL_NAME_DNS, dnsNameBytes(name))),
    ...(spec.sans?.ipAddresses ?? []).map((ip) => derImplicitPrimitive(GENERAL_NAME_IP, ipAddressBytes(ip))),
  ];
  if (names.length > 0) extensions.push(extension(OID_SUBJECT_ALT_NAME, false, derSequence(...names)));
  const serial = randomBytes(SERIAL_NUMBER_BYTES);
  const tbs = derSequence(
    derExplicit(0, derSmallInteger(X509_VERSION_3)),
    derUnsignedInteger(serial),
    spec.ca.signatureAlgorithm.algorithmIdentifier,
    spec.ca.subject,
    derSequence(derTime(new Date(now - X509_BACKDATE_MS)), derTime(notAfter)),
    spec.subject,
    spec.publicKey.spki,
    derExplicit(3, derSequence(...extensions)),
  );
  const signature = sign(spec.ca.signatureAlgorithm.digest, tbs, spec.ca.privateKey);
  return derToPem(derSequence(tbs, spec.ca.signatureAlgorithm.algorithmIdentifier, derBitString(signature)), 'CERTIFICATE');
}

/** Options for {@link issueUserCert}. */
export interface IssueUserCertOptions {
  /** The user CA. */
  ca: TlsCaInput;
  publicKey: PublicKeyInput;
  /** Who the certificate is for; `identity.expires` becomes NotAfter (second precision). */
  identity: Identity;
  clock: Clock;
}

/**
 * Issues a user TLS certificate with the identity in its subject, extended key usage `clientAuth`.
 *
 * @example
 * ```ts
 * const certPem = await issueUserCert({
 *   ca: tlsSigningKeyPair(userCa), publicKey: keys.publicKeyPem, clock,
 *   identity: { username: 'alice', roles: ['access'], logins: ['root'], traits: {}, expires },
 * });
 * ```
 */
export async function issueUserCert(options: IssueUserCertOptions): Promise<string> {
  return issueLeaf({
    ca: toSigner(options.ca),
    subject: encodeIdentity(options.identity),
    publicKey: subjectPublicKey(options.publicKey),
    notAfter: options.identity.expires,
    clock: options.clock,
    extKeyUsages: [EXT_KEY_USAGE.clientAuth],
  });
}

/** Options for {@link issueHostCert}. */
export interface IssueHostCertOptions {
  /** The host CA. */
  ca: TlsCaInput;
  publicKey: PublicKeyInput;
  hostId: string;
  clusterName: string;
  /** Teleport system role: `Auth`, `Proxy`, `Node`, `Db`... */
  systemRole: string;
  dnsNames?: readonly string[];
  ipAddresses?: readonly string[];
  expires: Date;
  clock: Clock;
}

/**
 * Issues a host TLS certificate: CN `<host-uuid>.<cluster>`, O = system role, the issuing cluster in 1.3.9999.1.7,
 * SANs, extended key usages `serverAuth` and `clientAuth` (hosts are both servers and mTLS clients).
 *
 * @example
 * ```ts
 * const certPem = await issueHostCert({
 *   ca: tlsSigningKeyPair(hostCa), publicKey, hostId, clusterName: 'example.com', systemRole: 'Proxy',
 *   dnsNames: ['proxy.example.com', 'localhost'], ipAddresses: ['127.0.0.1'], expires, clock,
 * });
 * ```
 */
export async function issueHostCert(options: IssueHostCertOptions): Promise<string> {
  if (!options.hostId || !options.clusterName || !options.systemRole) {
    throw new BadParameterError('a host certificate needs a host id, a cluster name and a system role');
  }
  return issueLeaf({
    ca: toSigner(options.ca),
    subject: encodeIdentity({
      username: `${options.hostId}.${options.clusterName}`,
      roles: [options.systemRole],
      logins: [],
      traits: {},
      teleportCluster: options.clusterName,
      expires: options.expires,
    }),
    publicKey: subjectPublicKey(options.publicKey),
    notAfter: options.expires,
    clock: options.clock,
    extKeyUsages: [EXT_KEY_USAGE.serverAuth, EXT_KEY_USAGE.clientAuth],
    sans: {
      dnsNames: options.dnsNames ?? [],
      ipAddresses: options.ipAddresses ?? [],
    },
  });
}

/** Options for {@link issueDatabaseServerCert}. */
export interface IssueDatabaseServerCertOptions {
  /** The `db` CA. */
  ca: TlsCaInput;
  publicKey: PublicKeyInput;
  /** DNS names and IP addresses the database serves on; the first becomes the CN. */
  hosts: readonly string[];
  expires: Date;
  clock: Clock;
  /** Also allow `clientAuth` (CockroachDB nodes use their node certificate as a client too). Default false. */
  clientAuth?: boolean;
}

/**
 * Issues a database server certificate (signed by the `db` CA, which databases' clients trust): CN = first host,
 * SANs = all hosts, extended key usage `serverAuth`.
 *
 * @example
 * ```ts
 * const certPem = await issueDatabaseServerCert({
 *   ca: tlsSigningKeyPair(dbCa), publicKey: pgKeys.publicKeyPem, hosts: ['localhost', '127.0.0.1'], expires, clock,
 * });
 * ```
 */
export async function issueDatabaseServerCert(options: IssueDatabaseServerCertOptions): Promise<string> {
  const [first] = options.hosts;
  if (!first) throw new BadParameterError('a database server certificate needs at least one host');
  return issueLeaf({
    ca: toSigner(options.ca),
    subject: encodeName([[NAME_OIDS.commonName, first]]),
    publicKey: subjectPublicKey(options.publicKey),
    notAfter: options.expires,
    clock: options.clock,
    extKeyUsages: options.clientAuth ? [EXT_KEY_USAGE.serverAuth, EXT_KEY_USAGE.clientAuth] : [EXT_KEY_USAGE.serverAuth],
    sans: splitHosts(options.hosts),
  });
}

/** Options for {@link issueDatabaseClientCert}. */
export interface IssueDatabaseClientCertOptions {
  /** The `db_client` CA, which databases trust for client certificate authentication. */
  ca: TlsCaInput;
  publicKey: PublicKeyInput;
  /** The database account; becomes the CN, which PostgreSQL and CockroachDB map to the user. */
  dbUser: string;
  expires: Date;
  clock: Clock;
}

/**
 * Issues a certificate the db service presents to a database: CN = database user, extended key usage `clientAuth`.
 *
 * @example
 * ```ts
 * const certPem = await issueDatabaseClientCert({
 *   ca: tlsSigningKeyPair(dbClientCa), publicKey, dbUser: 'alice', expires, clock,
 * });
 * ```
 */
export async function issueDatabaseClientCert(options: IssueDatabaseClientCertOptions): Promise<string> {
  if (!options.dbUser) throw new BadParameterError('a database client certificate needs a database user');
  return issueLeaf({
    ca: toSigner(options.ca),
    subject: encodeName([[NAME_OIDS.commonName, options.dbUser]]),
    publicKey: subjectPublicKey(options.publicKey),
    notAfter: options.expires,
    clock: options.clock,
    extKeyUsages: [EXT_KEY_USAGE.clientAuth],
  });
}
