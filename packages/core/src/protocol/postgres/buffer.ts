/** Bounds-checked reading and small writing helpers for PostgreSQL messages. Internal to the module. */

import { BadParameterError, LimitExceededError } from '../../errors/index.js';

/** Stable error codes of this module. */
export const PG_PROTOCOL_ERROR_CODES = {
  /** A message is truncated, has trailing bytes, a bad length field or an unknown request code. */
  malformed: 'ERR_TP_PG_MALFORMED_MESSAGE',
  /** A length field is over the configured cap. */
  tooLarge: 'ERR_TP_PG_MESSAGE_TOO_LARGE',
  /** The client speaks a protocol major version other than 3. */
  unsupportedProtocol: 'ERR_TP_PG_UNSUPPORTED_PROTOCOL',
  /** The stream ended in the middle of a message. */
  truncated: 'ERR_TP_PG_TRUNCATED',
} as const;

/** A malformed-message error. Messages name the message type, never its content. */
export function malformed(what: string): BadParameterError {
  return new BadParameterError(`malformed PostgreSQL ${what}`, { code: PG_PROTOCOL_ERROR_CODES.malformed });
}

export function tooLarge(what: string, length: number, max: number): LimitExceededError {
  return new LimitExceededError(`PostgreSQL ${what} of ${length} bytes is over the limit of ${max} bytes`, {
    code: PG_PROTOCOL_ERROR_CODES.tooLarge,
  });
}

/** A cursor over one message body; every read is bounds-checked and throws {@link malformed} past the end. */
export interface BodyReader {
  int16(): number;
  /** Counts (number of parameters, formats...) are unsigned 16-bit, as PostgreSQL reads them. */
  uint16(): number;
  int32(): number;
  uint32(): number;
  byte(): number;
  bytes(n: number): Buffer;
  /** A NUL-terminated UTF-8 string. */
  cstring(): string;
  remaining(): number;
  /** Throws unless every byte was consumed. */
  end(): void;
}

export function bodyReader(body: Buffer, what: string): BodyReader {
  let offset = 0;
  const need = (n: number) => {
    if (n < 0 || offset + n > body.length) throw malformed(what);
  };
  return {
    int16() {
      need(2);
      const v = body.readInt16BE(offset);
      offset += 2;
      return v;
    },
    uint16() {
      need(2);
      const v = body.readUInt16BE(offset);
      offset += 2;
      return v;
    },
    int32() {
      need(4);
      const v = body.readInt32BE(offset);
      offset += 4;
      return v;
    },
    uint32() {
      need(4);
      const v = body.readUInt32BE(offset);
      offset += 4;
      return v;
    },
    byte() {
      need(1);
      return body[offset++]!;
    },
    bytes(n) {
      need(n);
      const v = body.subarray(offset, offset + n);
      offset += n;
      return v;
    },
    cstring() {
      const nul = body.indexOf(0, offset);
      if (nul < 0) throw malformed(what);
      const v = body.toString('utf8', offset, nul);
      offset = nul + 1;
      return v;
    },
    remaining: () => body.length - offset,
    end() {
      if (offset !== body.length) throw malformed(what);
    },
  };
}

/** NUL-terminated UTF-8; a string that itself contains NUL cannot be encoded. */
export function cstring(value: string): Buffer {
  if (value.includes('\0')) throw new BadParameterError('a PostgreSQL protocol string cannot contain a NUL character');
  const out = Buffer.allocUnsafe(Buffer.byteLength(value) + 1);
  out.write(value, 0, 'utf8');
  out[out.length - 1] = 0;
  return out;
}

export function int32(value: number): Buffer {
  const out = Buffer.allocUnsafe(4);
  out.writeInt32BE(value);
  return out;
}

export function uint32(value: number): Buffer {
  const out = Buffer.allocUnsafe(4);
  out.writeUInt32BE(value);
  return out;
}

/** An unsigned 16-bit count; over 65535 cannot be encoded. */
export function uint16(value: number): Buffer {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff) throw new BadParameterError('a PostgreSQL message can carry at most 65535 items of a kind');
  const out = Buffer.allocUnsafe(2);
  out.writeUInt16BE(value);
  return out;
}

export function int16(value: number): Buffer {
  const out = Buffer.allocUnsafe(2);
  out.writeInt16BE(value);
  return out;
}

/** A typed message: code byte, int32 length (counting itself), body. */
export function frame(code: string, ...body: Buffer[]): Buffer {
  const length = body.reduce((n, b) => n + b.length, 4);
  const header = Buffer.allocUnsafe(5);
  header.write(code, 0, 'latin1');
  header.writeInt32BE(length, 1);
  return Buffer.concat([header, ...body], length + 1);
}

/** A startup-phase message: int32 length (counting itself), body. */
export function startupFrame(...body: Buffer[]): Buffer {
  const length = body.reduce((n, b) => n + b.length, 4);
  return Buffer.concat([uint32(length), ...body], length);
}
