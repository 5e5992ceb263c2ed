/**
 * Reads the database route out of a db certificate's subject (Teleport's attributes under 1.3.9999.2.*), with a
 * DER walk of a few lines and node:crypto for the validity: tsh does not load an X.509 library for this (see
 * `keys.ts`).
 */

import { X509Certificate } from 'node:crypto';
import { BadParameterError } from '@teleport-ts/core/errors';

/** Where a database certificate routes to (Teleport's `tlsca.RouteToDatabase`). */
export interface DatabaseRoute {
  /** The database's name in Teleport. */
  serviceName: string;
  /** `postgres`, `cockroachdb`... */
  protocol: string;
  /** The database account, `''` when the certificate does not name one. */
  username: string;
  /** The database name, `''` when the certificate does not name one. */
  database: string;
}

/** What tsh needs from a db certificate. */
export interface DatabaseCertificate {
  route: DatabaseRoute;
  /** The Teleport user (CN). */
  user: string;
  expires: Date;
}

const OID = {
  commonName: '2.5.4.3',
  databaseServiceName: '1.3.9999.2.1',
  databaseProtocol: '1.3.9999.2.2',
  databaseUsername: '1.3.9999.2.3',
  databaseName: '1.3.9999.2.4',
} as const;

const TAG = { sequence: 0x30, set: 0x31, oid: 0x06, contextVersion: 0xa0 } as const;

interface Element {
  tag: number;
  /** The value bytes. */
  body: Buffer;
  /** Offset just past the element. */
  end: number;
}

const malformed = (): BadParameterError => new BadParameterError('malformed database certificate');

function readElement(buf: Buffer, offset: number): Element {
  if (offset + 2 > buf.length) throw malformed();
  const tag = buf[offset]!;
  let length = buf[offset + 1]!;
  let start = offset + 2;
  if (length & 0x80) {
    const bytes = length & 0x7f;
    if (bytes === 0 || bytes > 4 || start + bytes > buf.length) throw malformed();
    length = 0;
    for (let i = 0; i < bytes; i++) length = length * 256 + buf[start + i]!;
    start += bytes;
  }
  if (start + length > buf.length) throw malformed();
  return { tag, body: buf.subarray(start, start + length), end: start + length };
}

function children(body: Buffer): Element[] {
  const out: Element[] = [];
  for (let offset = 0; offset < body.length; ) {
    const el = readElement(body, offset);
    out.push(el);
    offset = el.end;
  }
  return out;
}

function decodeOid(body: Buffer): string {
  if (body.length === 0) throw malformed();
  const parts = [Math.floor(body[0]! / 40), body[0]! % 40];
  let value = 0;
  for (let i = 1; i < body.length; i++) {
    value = value * 128 + (body[i]! & 0x7f);
    if (!(body[i]! & 0x80)) {
      parts.push(value);
      value = 0;
    }
  }
  return parts.join('.');
}

/** Subject attributes in order: [oid, value] (string types only, which is all Teleport writes). */
export function subjectAttributes(der: Buffer): [string, string][] {
  const cert = readElement(der, 0);
  if (cert.tag !== TAG.sequence) throw malformed();
  const tbs = children(cert.body)[0];
  if (tbs?.tag !== TAG.sequence) throw malformed();
  const fields = children(tbs.body);
  // [0] version (optional), serial, signature algorithm, issuer, validity, subject
  const subjectIndex = fields[0]?.tag === TAG.contextVersion ? 5 : 4;
  const subject = fields[subjectIndex];
  if (subject?.tag !== TAG.sequence) throw malformed();
  const out: [string, string][] = [];
  for (const rdn of children(subject.body)) {
    if (rdn.tag !== TAG.set) throw malformed();
    for (const atv of children(rdn.body)) {
      const [oid, value] = children(atv.body);
      if (oid?.tag !== TAG.oid || value === undefined) throw malformed();
      out.push([decodeOid(oid.body), value.body.toString('utf8')]);
    }
  }
  return out;
}

/**
 * Reads a db certificate (PEM).
 *
 * @example
 * ```ts
 * readDatabaseCertificate(pem).route; // { serviceName: 'roach', protocol: 'cockroachdb', username: 'alice', database: '' }
 * ```
 */
export function readDatabaseCertificate(pem: string): DatabaseCertificate {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch {
    throw malformed();
  }
  const attrs = subjectAttributes(cert.raw);
  const first = (oid: string): string => attrs.find(([o]) => o === oid)?.[1] ?? '';
  const serviceName = first(OID.databaseServiceName);
  if (serviceName === '') throw new BadParameterError('the certificate is not a database certificate');
  return {
    route: {
      serviceName,
      protocol: first(OID.databaseProtocol),
      username: first(OID.databaseUsername),
      database: first(OID.databaseName),
    },
    user: first(OID.commonName),
    expires: new Date(cert.validTo),
  };
}
