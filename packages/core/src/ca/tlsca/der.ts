/**
 * A minimal DER writer and a bounded DER reader: exactly what leaf-certificate issuance needs on its hot path.
 * `@peculiar/x509` builds certificates through a general ASN.1 schema engine and re-parses its own output, which
 * caps issuance near 600 certificates per second; writing the few fixed structures directly is ~10x faster.
 * Parsing of untrusted certificates stays with `@peculiar/x509` and OpenSSL (`node:crypto`).
 */

import { BadParameterError } from '../../errors/index.js';

/** ASN.1 universal and context tags used by X.509. */
export const DER_TAG = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  null: 0x05,
  oid: 0x06,
  utf8String: 0x0c,
  printableString: 0x13,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30,
  set: 0x31,
} as const;

/** Largest element we write or read: certificates are a few kilobytes, 16 MiB is far beyond any legitimate one. */
const MAX_DER_LENGTH = 0xffffff;

/** Encodes one tag-length-value element. */
function derTlv(tag: number, content: Uint8Array): Buffer {
  const len = content.length;
  let header: Buffer;
  if (len < 0x80) header = Buffer.from([tag, len]);
  else if (len <= 0xff) header = Buffer.from([tag, 0x81, len]);
  else if (len <= 0xffff) header = Buffer.from([tag, 0x82, len >> 8, len & 0xff]);
  else if (len <= MAX_DER_LENGTH) header = Buffer.from([tag, 0x83, len >> 16, (len >> 8) & 0xff, len & 0xff]);
  else throw new BadParameterError('DER element is too large');
  return Buffer.concat([header, content]);
}

/** `SEQUENCE { items... }`. */
export function derSequence(...items: Uint8Array[]): Buffer {
  return derTlv(DER_TAG.sequence, Buffer.concat(items));
}

/** `SET { item }` for a single item (a single-valued RDN needs no DER sorting). */
export function derSetOfOne(item: Uint8Array): Buffer {
  return derTlv(DER_TAG.set, item);
}

/** Explicitly tagged `[n] { content }` (constructed context tag). */
export function derExplicit(tagNumber: number, content: Uint8Array): Buffer {
  return derTlv(0xa0 | tagNumber, content);
}

/** Implicitly tagged primitive `[n] content`. */
export function derImplicitPrimitive(tagNumber: number, content: Uint8Array): Buffer {
  return derTlv(0x80 | tagNumber, content);
}

const oidCache = new Map<string, Buffer>();

/** `OBJECT IDENTIFIER` from dotted notation, memoised (a handful of OIDs are written per certificate). */
export function derOid(oid: string): Buffer {
  const cached = oidCache.get(oid);
  if (cached) return cached;
  const arcs = oid.split('.').map((arc) => {
    if (!/^\d+$/.test(arc)) throw new TypeError(`invalid OID ${oid}`);
    return BigInt(arc);
  });
  const [first, second, ...rest] = arcs;
  if (first === undefined || second === undefined || first > 2n) throw new TypeError(`invalid OID ${oid}`);
  const bytes: number[] = [];
  for (const arc of [first * 40n + second, ...rest]) {
    const chunk: number[] = [Number(arc & 0x7fn)];
    for (let v = arc >> 7n; v > 0n; v >>= 7n) chunk.unshift(Number(v & 0x7fn) | 0x80);
    bytes.push(...chunk);
  }
  const encoded = derTlv(DER_TAG.oid, Buffer.from(bytes));
  oidCache.set(oid, encoded);
  return encoded;
}

/** `INTEGER` from an unsigned big-endian magnitude (always encoded as a positive number). */
export function derUnsignedInteger(magnitude: Uint8Array): Buffer {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const trimmed = magnitude.subarray(start);
  const needsPad = trimmed.length === 0 || (trimmed[0]! & 0x80) !== 0;
  return derTlv(DER_TAG.integer, needsPad ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed);
}

/** `INTEGER` for a small non-negative number. */
export function derSmallInteger(value: number): Buffer {
  if (!Number.isInteger(value) || value < 0 || value > 0x7fffffff) throw new TypeError(`invalid small integer ${value}`);
  const bytes: number[] = [];
  for (let v = value; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return derUnsignedInteger(Buffer.from(bytes.length ? bytes : [0]));
}

/** `UTF8String`. */
export function derUtf8String(value: string): Buffer {
  return derTlv(DER_TAG.utf8String, Buffer.from(value, 'utf8'));
}

/** `OCTET STRING`. */
export function derOctetString(value: Uint8Array): Buffer {
  return derTlv(DER_TAG.octetString, value);
}

/** `BIT STRING` with the given number of unused trailing bits. */
export function derBitString(value: Uint8Array, unusedBits = 0): Buffer {
  return derTlv(DER_TAG.bitString, Buffer.concat([Buffer.from([unusedBits]), value]));
}

/** `BOOLEAN TRUE` (DER omits `FALSE` defaults, so only `TRUE` is ever written). */
export const DER_TRUE: Buffer = derTlv(DER_TAG.boolean, Buffer.from([0xff]));

/** `NULL`. */
export const DER_NULL: Buffer = derTlv(DER_TAG.null, Buffer.alloc(0));

const pad2 = (n: number): string => String(n).padStart(2, '0');

/**
 * X.509 `Time`: `UTCTime` for years 1950-2049 and `GeneralizedTime` otherwise (RFC 5280 4.1.2.5), second precision.
 */
export function derTime(date: Date): Buffer {
  const year = date.getUTCFullYear();
  const rest =
    pad2(date.getUTCMonth() + 1) +
    pad2(date.getUTCDate()) +
    pad2(date.getUTCHours()) +
    pad2(date.getUTCMinutes()) +
    pad2(date.getUTCSeconds()) +
    'Z';
  if (year >= 1950 && year < 2050) return derTlv(DER_TAG.utcTime, Buffer.from(pad2(year % 100) + rest, 'latin1'));
  if (year < 0 || year > 9999) throw new BadParameterError(`date ${date.toISOString()} cannot be encoded in a certificate`);
  return derTlv(DER_TAG.generalizedTime, Buffer.from(String(year).padStart(4, '0') + rest, 'latin1'));
}

/** One element found by {@link readDerElement}: offsets into the buffer it was read from. */
export interface DerElement {
  tag: number;
  /** Offset of the tag byte. */
  start: number;
  /** Offset of the first content byte. */
  contentStart: number;
  /** Offset just past the content (and the element). */
  end: number;
}

/**
 * Reads the element at `offset`, refusing indefinite lengths, non-minimal headers beyond 3 length bytes, and any
 * length that runs past `limit`.
 */
export function readDerElement(buf: Uint8Array, offset: number, limit: number = buf.length): DerElement {
  const fail = (): never => {
    throw new BadParameterError('malformed DER encoding');
  };
  if (offset + 2 > limit) fail();
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) fail(); // multi-byte tags never occur in X.509
  const first = buf[offset + 1]!;
  let contentStart = offset + 2;
  let length = first;
  if (first & 0x80) {
    const count = first & 0x7f;
    if (count === 0 || count > 3 || contentStart + count > limit) fail();
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + buf[contentStart + i]!;
    contentStart += count;
  }
  const end = contentStart + length;
  if (end > limit) fail();
  return { tag, start: offset, contentStart, end };
}

/** The direct children of a constructed element. */
export function readDerChildren(buf: Uint8Array, parent: DerElement): DerElement[] {
  const children: DerElement[] = [];
  for (let offset = parent.contentStart; offset < parent.end; ) {
    const child = readDerElement(buf, offset, parent.end);
    children.push(child);
    offset = child.end;
  }
  return children;
}

/** The bytes of an element including its header. */
function derElementBytes(buf: Buffer, element: DerElement): Buffer {
  return buf.subarray(element.start, element.end);
}

/** Raw pieces of a certificate that issuance, pinning and signature checks need, located without a full parse. */
export interface CertificateParts {
  tbs: Buffer;
  /** The outer `signatureAlgorithm` element (checked equal to the one inside the TBS). */
  signatureAlgorithm: Buffer;
  /** The signature bits, without the unused-bits byte. */
  signature: Buffer;
  issuer: Buffer;
  subject: Buffer;
  /** The whole `SubjectPublicKeyInfo` element. */
  subjectPublicKeyInfo: Buffer;
  /** The contents of the `subjectPublicKey` BIT STRING, without the unused-bits byte. */
  subjectPublicKey: Buffer;
}

/** Locates issuer, subject and public key of a DER certificate. */
export function certificateParts(der: Buffer): CertificateParts {
  const cert = readDerElement(der, 0);
  if (cert.tag !== DER_TAG.sequence || cert.end !== der.length) throw new BadParameterError('malformed certificate');
  const [tbsEl, algorithmEl, signatureEl, extra] = readDerChildren(der, cert);
  if (!tbsEl || tbsEl.tag !== DER_TAG.sequence || !algorithmEl || !signatureEl || extra) throw new BadParameterError('malformed certificate');
  if (signatureEl.tag !== DER_TAG.bitString || signatureEl.end - signatureEl.contentStart < 1 || der[signatureEl.contentStart] !== 0) {
    throw new BadParameterError('malformed certificate');
  }
  const fields = readDerChildren(der, tbsEl);
  const base = fields[0]?.tag === 0xa0 ? 1 : 0; // optional [0] version
  const innerAlgorithm = fields[base + 1];
  const signatureAlgorithm = derElementBytes(der, algorithmEl);
  if (!innerAlgorithm || !derElementBytes(der, innerAlgorithm).equals(signatureAlgorithm)) {
    throw new BadParameterError('malformed certificate: signature algorithms differ');
  }
  const issuer = fields[base + 2];
  const subject = fields[base + 4];
  const spki = fields[base + 5];
  if (!issuer || !subject || !spki) throw new BadParameterError('malformed certificate');
  const subjectPublicKeyInfo = derElementBytes(der, spki);
  return {
    tbs: derElementBytes(der, tbsEl),
    signatureAlgorithm,
    signature: der.subarray(signatureEl.contentStart + 1, signatureEl.end),
    issuer: derElementBytes(der, issuer),
    subject: derElementBytes(der, subject),
    subjectPublicKeyInfo,
    subjectPublicKey: spkiSubjectPublicKey(subjectPublicKeyInfo),
  };
}

/** The `subjectPublicKey` bits (without the unused-bits byte) of a DER `SubjectPublicKeyInfo`. */
export function spkiSubjectPublicKey(spki: Buffer): Buffer {
  const outer = readDerElement(spki, 0);
  const bitString = readDerChildren(spki, outer)[1];
  if (outer.tag !== DER_TAG.sequence || !bitString || bitString.tag !== DER_TAG.bitString || bitString.end - bitString.contentStart < 1) {
    throw new BadParameterError('malformed SubjectPublicKeyInfo');
  }
  return spki.subarray(bitString.contentStart + 1, bitString.end);
}
