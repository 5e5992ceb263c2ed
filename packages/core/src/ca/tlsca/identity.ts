/**
 * The Teleport identity carried in the subject of an X.509 certificate, as Teleport's `lib/tlsca` lays it out:
 * CN = user, O = roles, L = logins, STREET = route to cluster, postalCode = traits (JSON), and Teleport's own
 * attributes under the OID arc 1.3.9999.
 */

import { X509Certificate as NodeX509Certificate } from 'node:crypto';
import { BadParameterError } from '../../errors/index.js';
import { certificateParts, derOid, derSequence, derSetOfOne, DER_TAG, derUtf8String, readDerChildren, readDerElement } from './der.js';

/** Standard attribute types used in the subject. */
export const NAME_OIDS = {
  commonName: '2.5.4.3',
  locality: '2.5.4.7',
  province: '2.5.4.8',
  streetAddress: '2.5.4.9',
  organization: '2.5.4.10',
  organizationalUnit: '2.5.4.11',
  postalCode: '2.5.4.17',
} as const;

/** Teleport's attribute types (values from Teleport's `lib/tlsca`). */
export const TELEPORT_OIDS = {
  /** The cluster that issued the certificate. */
  teleportCluster: '1.3.9999.1.7',
  databaseServiceName: '1.3.9999.2.1',
  databaseProtocol: '1.3.9999.2.2',
  databaseUsername: '1.3.9999.2.3',
  databaseName: '1.3.9999.2.4',
  /** One value per access request the certificate was issued with. */
  activeRequests: '1.3.9999.2.8',
  /** The resources a resource access request confines the certificate to: one JSON list. */
  allowedResources: '1.3.9999.2.10',
} as const;

/** Where a database certificate routes to. */
export interface RouteToDatabase {
  /** The database's name in Teleport (the db service's resource name). */
  serviceName: string;
  /** `postgres`, `cockroachdb`... */
  protocol: string;
  /** The database account to connect as. */
  username?: string;
  /** The database (schema) to connect to. */
  database?: string;
}

/** A Teleport identity: who the certificate is for and what it may do. */
export interface Identity {
  /** Teleport user name, or `<host-uuid>.<cluster>` for hosts. */
  username: string;
  /** Roles (Teleport's "groups"); system role for hosts. */
  roles: string[];
  /** Unix logins (Teleport's "principals"). */
  logins: string[];
  traits: Record<string, string[]>;
  /** The cluster the user is routed to (leaf cluster or this one). */
  routeToCluster?: string;
  /** The cluster that issued the certificate. */
  teleportCluster?: string;
  routeToDatabase?: RouteToDatabase;
  /** The certificate's NotAfter, whole seconds. */
  expires: Date;
  /** Ids of the access requests whose roles the certificate carries. */
  activeRequests?: string[];
  /** `/<cluster>/db/<name>`: when set, the certificate reaches these resources only (a resource access request). */
  allowedResourceIds?: string[];
}

/** Teleport's JSON form of allowed resources: `[{"cluster":"c","kind":"db","name":"roach"}]`. */
function allowedResourcesValue(ids: readonly string[]): string {
  return JSON.stringify(
    ids.map((id) => {
      const [, cluster = '', kind = '', name = ''] = id.split('/');
      return { cluster, kind, name };
    }),
  );
}

function parseAllowedResources(value: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (cause) {
    throw new BadParameterError('malformed allowed resources in certificate subject', { cause });
  }
  if (!Array.isArray(parsed)) throw new BadParameterError('malformed allowed resources in certificate subject');
  return parsed.map((r: unknown) => {
    const { cluster, kind, name } = (r ?? {}) as Record<string, unknown>;
    if (typeof cluster !== 'string' || typeof kind !== 'string' || typeof name !== 'string') throw new BadParameterError('malformed allowed resources in certificate subject');
    return `/${cluster}/${kind}/${name}`;
  });
}

/** One subject attribute: type OID and value. */
export type SubjectAttribute = readonly [oid: string, value: string];

/** The subject attributes of an identity, in Teleport's (Go `pkix.Name`) order, one value per RDN. */
export function identitySubjectAttributes(identity: Identity): SubjectAttribute[] {
  if (!identity.username) throw new BadParameterError('an identity needs a user name');
  const attrs: SubjectAttribute[] = [];
  for (const login of identity.logins) attrs.push([NAME_OIDS.locality, login]);
  if (identity.routeToCluster) attrs.push([NAME_OIDS.streetAddress, identity.routeToCluster]);
  if (Object.keys(identity.traits).length > 0) attrs.push([NAME_OIDS.postalCode, JSON.stringify(identity.traits)]);
  for (const role of identity.roles) attrs.push([NAME_OIDS.organization, role]);
  attrs.push([NAME_OIDS.commonName, identity.username]);
  if (identity.teleportCluster) attrs.push([TELEPORT_OIDS.teleportCluster, identity.teleportCluster]);
  const db = identity.routeToDatabase;
  if (db?.serviceName) {
    attrs.push([TELEPORT_OIDS.databaseServiceName, db.serviceName], [TELEPORT_OIDS.databaseProtocol, db.protocol]);
    if (db.username) attrs.push([TELEPORT_OIDS.databaseUsername, db.username]);
    if (db.database) attrs.push([TELEPORT_OIDS.databaseName, db.database]);
  }
  for (const id of identity.activeRequests ?? []) attrs.push([TELEPORT_OIDS.activeRequests, id]);
  if (identity.allowedResourceIds?.length) attrs.push([TELEPORT_OIDS.allowedResources, allowedResourcesValue(identity.allowedResourceIds)]);
  return attrs;
}

/** DER `Name` from attributes, each in its own single-valued RDN (keeps order; no DER SET sorting involved). */
export function encodeName(attributes: readonly SubjectAttribute[]): Buffer {
  return derSequence(...attributes.map(([oid, value]) => derSetOfOne(derSequence(derOid(oid), derUtf8String(value)))));
}

/**
 * Encodes an identity as a DER X.509 subject name. `expires` is not part of the name: it becomes the NotAfter of
 * the certificate.
 *
 * @example
 * ```ts
 * const subject = encodeIdentity({ username: 'alice', roles: ['access'], logins: ['root'], traits: {}, expires });
 * ```
 */
export function encodeIdentity(identity: Identity): Buffer {
  return encodeName(identitySubjectAttributes(identity));
}

function parseTraits(values: string[]): Record<string, string[]> {
  const traits: Record<string, string[]> = {};
  for (const value of values) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(value) as unknown;
    } catch (cause) {
      throw new BadParameterError('malformed traits in certificate subject', { cause });
    }
    if (parsed === null) continue;
    if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new BadParameterError('malformed traits in certificate subject');
    for (const [name, list] of Object.entries(parsed)) {
      if (list === null) continue;
      if (!Array.isArray(list) || !list.every((v) => typeof v === 'string')) {
        throw new BadParameterError('malformed traits in certificate subject');
      }
      traits[name] = list as string[];
    }
  }
  return traits;
}

/**
 * Input accepted by the certificate readers: PEM text, DER bytes, or an already parsed certificate (anything with
 * the DER in `rawData`, as `@peculiar/x509`'s certificates have).
 */
export type CertificateInput = string | Uint8Array | { readonly rawData: ArrayBuffer };

/** Subject attribute value types a certificate may use, and how their bytes decode. */
const STRING_DECODING: Record<number, BufferEncoding> = {
  [DER_TAG.utf8String]: 'utf8',
  [DER_TAG.printableString]: 'latin1',
  0x16: 'latin1', // IA5String
};

/** The subject attributes of a DER certificate, in order: `[oid, value]` (multi-valued RDNs give several). */
export function readSubjectAttributes(der: Buffer): [string, string][] {
  const subject = certificateParts(der).subject;
  const out: [string, string][] = [];
  for (const rdn of readDerChildren(subject, readDerElement(subject, 0))) {
    if (rdn.tag !== DER_TAG.set) throw new BadParameterError('malformed certificate subject');
    for (const atv of readDerChildren(subject, rdn)) {
      const [oid, value, extra] = readDerChildren(subject, atv);
      const encoding = value === undefined ? undefined : STRING_DECODING[value.tag];
      if (oid?.tag !== DER_TAG.oid || value === undefined || extra !== undefined || encoding === undefined) {
        throw new BadParameterError('malformed certificate subject');
      }
      out.push([decodeOid(subject.subarray(oid.contentStart, oid.end)), subject.toString(encoding, value.contentStart, value.end)]);
    }
  }
  return out;
}

function decodeOid(body: Buffer): string {
  if (body.length === 0 || (body[body.length - 1]! & 0x80) !== 0) throw new BadParameterError('malformed certificate subject');
  const arc = Math.min(2, Math.floor(body[0]! / 40));
  const parts = [arc, body[0]! - 40 * arc];
  let value = 0;
  for (let i = 1; i < body.length; i++) {
    value = value * 128 + (body[i]! & 0x7f);
    if ((body[i]! & 0x80) === 0) {
      parts.push(value);
      value = 0;
    }
  }
  return parts.join('.');
}

/** OpenSSL's parse of a certificate (the structure check) with failures mapped to {@link BadParameterError}. */
function openCertificate(cert: CertificateInput): NodeX509Certificate {
  const input = typeof cert === 'string' ? cert : cert instanceof Uint8Array ? Buffer.from(cert) : Buffer.from(cert.rawData);
  try {
    return new NodeX509Certificate(input);
  } catch (cause) {
    throw new BadParameterError('malformed X.509 certificate', { cause });
  }
}

/**
 * Reads the identity from a certificate's subject; `expires` is the certificate's NotAfter. Uses node:crypto and a
 * bounded DER walk only (no X.509 library), so light clients such as tsh can read their certificates. Round-trips with
 * {@link encodeIdentity} through any of the `issue*` functions.
 *
 * @example
 * ```ts
 * const identity = parseIdentity(certPem);
 * identity.roles; // ['access', 'editor']
 * ```
 */
export function parseIdentity(cert: CertificateInput): Identity {
  const parsed = openCertificate(cert);
  const attributes = readSubjectAttributes(parsed.raw);
  const all = (oid: string): string[] => attributes.filter(([o]) => o === oid).map(([, value]) => value);
  const first = (oid: string): string | undefined => all(oid)[0];
  const identity: Identity = {
    username: first(NAME_OIDS.commonName) ?? '',
    roles: all(NAME_OIDS.organization),
    logins: all(NAME_OIDS.locality),
    traits: parseTraits(all(NAME_OIDS.postalCode)),
    expires: new Date(parsed.validTo),
  };
  const routeToCluster = first(NAME_OIDS.streetAddress);
  if (routeToCluster) identity.routeToCluster = routeToCluster;
  const teleportCluster = first(TELEPORT_OIDS.teleportCluster);
  if (teleportCluster) identity.teleportCluster = teleportCluster;
  const serviceName = first(TELEPORT_OIDS.databaseServiceName);
  if (serviceName) {
    const route: RouteToDatabase = { serviceName, protocol: first(TELEPORT_OIDS.databaseProtocol) ?? '' };
    const username = first(TELEPORT_OIDS.databaseUsername);
    const database = first(TELEPORT_OIDS.databaseName);
    if (username) route.username = username;
    if (database) route.database = database;
    identity.routeToDatabase = route;
  }
  const activeRequests = all(TELEPORT_OIDS.activeRequests);
  if (activeRequests.length > 0) identity.activeRequests = activeRequests;
  const allowed = first(TELEPORT_OIDS.allowedResources);
  if (allowed !== undefined) identity.allowedResourceIds = parseAllowedResources(allowed);
  return identity;
}
