/**
 * SSH wire encoding (RFC 4251 section 5): `uint32`, `uint64`, `string`, `mpint`. Writers are pure functions; the
 * reader never trusts a length field beyond the bytes it was given.
 */

import { BadParameterError } from '../../errors/index.js';

/** `uint32`. */
export function sshUint32(value: number): Buffer {
  const buf = Buffer.allocUnsafe(4);
  buf.writeUInt32BE(value >>> 0, 0);
  return buf;
}

/** `uint64`. */
export function sshUint64(value: bigint): Buffer {
  const buf = Buffer.allocUnsafe(8);
  buf.writeBigUInt64BE(value, 0);
  return buf;
}

/** `string`: a uint32 length and the bytes (text is written as UTF-8). */
export function sshString(value: Uint8Array | string): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  return Buffer.concat([sshUint32(bytes.length), bytes]);
}

/** `mpint` for a non-negative integer given as big-endian magnitude bytes. */
export function sshMpint(magnitude: Uint8Array): Buffer {
  let start = 0;
  while (start < magnitude.length && magnitude[start] === 0) start++;
  const trimmed = magnitude.subarray(start);
  if (trimmed.length === 0) return sshUint32(0);
  const body = (trimmed[0]! & 0x80) !== 0 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed;
  return sshString(body);
}

/** A bounded cursor over SSH wire data. */
export interface SshReader {
  readUint32(): number;
  readUint64(): bigint;
  /** A `string` as raw bytes (a view into the input). */
  readString(): Buffer;
  /** A `string` decoded as UTF-8, refusing invalid UTF-8. */
  readText(): string;
  /** An `mpint` that must be non-negative, as big-endian magnitude bytes without leading zeros. */
  readUnsignedMpint(): Buffer;
  /** Bytes consumed so far. */
  readonly offset: number;
  /** True when every byte was consumed. */
  atEnd(): boolean;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * @example
 * ```ts
 * const r = newSshReader(blob);
 * const keyType = r.readText();
 * ```
 */
export function newSshReader(data: Uint8Array, what = 'SSH data'): SshReader {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  let offset = 0;
  const fail = (): never => {
    throw new BadParameterError(`malformed ${what}`);
  };
  const need = (n: number): void => {
    if (offset + n > buf.length) fail();
  };
  const readString = (): Buffer => {
    need(4);
    const len = buf.readUInt32BE(offset);
    offset += 4;
    need(len);
    const out = buf.subarray(offset, offset + len);
    offset += len;
    return out;
  };
  return {
    readUint32() {
      need(4);
      const v = buf.readUInt32BE(offset);
      offset += 4;
      return v;
    },
    readUint64() {
      need(8);
      const v = buf.readBigUInt64BE(offset);
      offset += 8;
      return v;
    },
    readString,
    readText() {
      const bytes = readString();
      try {
        return utf8.decode(bytes);
      } catch {
        return fail();
      }
    },
    readUnsignedMpint() {
      const bytes = readString();
      if (bytes.length > 0 && (bytes[0]! & 0x80) !== 0) fail(); // negative
      // Like OpenSSH, tolerate (and drop) redundant leading zero bytes.
      let start = 0;
      while (start < bytes.length && bytes[start] === 0) start++;
      return bytes.subarray(start);
    },
    get offset() {
      return offset;
    },
    atEnd: () => offset === buf.length,
  };
}
