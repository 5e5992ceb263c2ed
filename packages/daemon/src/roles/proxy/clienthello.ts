/**
 * A bounded TLS ClientHello reader (RFC 8446 §4.1.2, RFC 5246 §7.4.1.2): enough to route a raw TCP connection
 * by its ALPN protocols and SNI before deciding whether to terminate TLS or pass the bytes through. Pure; never
 * trusts a length field beyond {@link MAX_CLIENT_HELLO_BYTES}.
 */

import { BadParameterError } from '@teleport-ts/core/errors';

/** TLS record content type `handshake`. */
export const RECORD_TYPE_HANDSHAKE = 0x16;
/** Handshake message type `client_hello`. */
export const HANDSHAKE_TYPE_CLIENT_HELLO = 0x01;
/** type(1) + legacy_record_version(2) + length(2). */
const RECORD_HEADER_LENGTH = 5;
/** msg_type(1) + length(3). */
const HANDSHAKE_HEADER_LENGTH = 4;
/** Largest TLSPlaintext fragment (2^14). */
const MAX_RECORD_PAYLOAD = 1 << 14;
/** Largest ClientHello we buffer, records included. Real ones (post-quantum key shares included) stay under 4 KiB. */
export const MAX_CLIENT_HELLO_BYTES = 64 * 1024;

const EXT_SERVER_NAME = 0x0000;
const EXT_ALPN = 0x0010;
const SNI_HOST_NAME = 0x00;
const RANDOM_LENGTH = 32;

/** What a ClientHello says that routing needs. */
export interface ClientHello {
  /** SNI host name, when sent. */
  serverName: string | undefined;
  /** ALPN protocols in the client's order of preference; empty when the extension is absent. */
  alpnProtocols: string[];
}

/** Result of feeding the bytes received so far. */
export type ClientHelloResult = { done: false } | { done: true; hello: ClientHello };

const malformed = (what: string): never => {
  throw new BadParameterError(`malformed TLS ClientHello: ${what}`, { code: 'ERR_TP_BAD_CLIENT_HELLO' });
};

/**
 * Reads a ClientHello from the first bytes of a connection. Returns `{ done: false }` while more bytes are
 * needed; throws {@link BadParameterError} (`ERR_TP_BAD_CLIENT_HELLO`) when the bytes are not a ClientHello or
 * exceed the bounds. The handshake message may span several records; they are reassembled.
 *
 * @example
 * ```ts
 * const r = readClientHello(buffered);
 * if (r.done) route(r.hello.alpnProtocols);
 * ```
 */
export function readClientHello(data: Uint8Array): ClientHelloResult {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const fragments: Buffer[] = [];
  let handshakeBytes = 0;
  let offset = 0;
  let needed: number | undefined;
  for (;;) {
    if (buf.length - offset < RECORD_HEADER_LENGTH) {
      if (buf.length > MAX_CLIENT_HELLO_BYTES) malformed('too large');
      return { done: false };
    }
    if (buf[offset] !== RECORD_TYPE_HANDSHAKE) malformed('not a handshake record');
    if (buf[offset + 1] !== 0x03) malformed('unsupported record version');
    const length = buf.readUInt16BE(offset + 3);
    if (length === 0 || length > MAX_RECORD_PAYLOAD) malformed('bad record length');
    if (offset + RECORD_HEADER_LENGTH + length > MAX_CLIENT_HELLO_BYTES) malformed('too large');
    if (buf.length - offset < RECORD_HEADER_LENGTH + length) return { done: false };
    const fragment = buf.subarray(offset + RECORD_HEADER_LENGTH, offset + RECORD_HEADER_LENGTH + length);
    fragments.push(fragment);
    handshakeBytes += fragment.length;
    offset += RECORD_HEADER_LENGTH + length;
    if (needed === undefined && handshakeBytes >= HANDSHAKE_HEADER_LENGTH) {
      const head = Buffer.concat(fragments).subarray(0, HANDSHAKE_HEADER_LENGTH);
      if (head[0] !== HANDSHAKE_TYPE_CLIENT_HELLO) malformed('first handshake message is not a ClientHello');
      const bodyLength = head.readUIntBE(1, 3);
      if (bodyLength + HANDSHAKE_HEADER_LENGTH > MAX_CLIENT_HELLO_BYTES) malformed('too large');
      needed = HANDSHAKE_HEADER_LENGTH + bodyLength;
    }
    if (needed !== undefined && handshakeBytes >= needed) {
      const message = Buffer.concat(fragments).subarray(HANDSHAKE_HEADER_LENGTH, needed);
      return { done: true, hello: parseClientHelloBody(message) };
    }
  }
}

/** A bounds-checked cursor over the ClientHello body. */
function cursor(buf: Buffer) {
  let pos = 0;
  const take = (n: number, what: string): Buffer => {
    if (n < 0 || pos + n > buf.length) malformed(`truncated ${what}`);
    const out = buf.subarray(pos, pos + n);
    pos += n;
    return out;
  };
  return {
    take,
    u8: (what: string): number => take(1, what)[0]!,
    u16: (what: string): number => take(2, what).readUInt16BE(0),
    remaining: (): number => buf.length - pos,
  };
}

/** Parses a ClientHello body (after the handshake header). Exported for tests and fuzzing. */
export function parseClientHelloBody(body: Buffer): ClientHello {
  const c = cursor(body);
  c.take(2, 'version');
  c.take(RANDOM_LENGTH, 'random');
  const sessionIdLength = c.u8('session id');
  if (sessionIdLength > 32) malformed('session id too long');
  c.take(sessionIdLength, 'session id');
  const suitesLength = c.u16('cipher suites');
  if (suitesLength < 2 || suitesLength % 2 !== 0) malformed('bad cipher suites');
  c.take(suitesLength, 'cipher suites');
  const compressionLength = c.u8('compression methods');
  if (compressionLength < 1) malformed('no compression methods');
  c.take(compressionLength, 'compression methods');
  const hello: ClientHello = { serverName: undefined, alpnProtocols: [] };
  // SSL 3.0-style hellos end here; TLS 1.2+ clients always send extensions.
  if (c.remaining() === 0) return hello;
  const extensions = cursor(c.take(c.u16('extensions'), 'extensions'));
  const seen = new Set<number>();
  while (extensions.remaining() > 0) {
    const type = extensions.u16('extension type');
    const data = extensions.take(extensions.u16('extension length'), 'extension data');
    if (seen.has(type)) malformed('duplicate extension');
    seen.add(type);
    if (type === EXT_SERVER_NAME) hello.serverName = parseServerName(data);
    else if (type === EXT_ALPN) hello.alpnProtocols = parseAlpn(data);
  }
  return hello;
}

function parseServerName(data: Buffer): string | undefined {
  const c = cursor(data);
  const list = cursor(c.take(c.u16('server name list'), 'server name list'));
  let name: string | undefined;
  while (list.remaining() > 0) {
    const type = list.u8('server name type');
    const value = list.take(list.u16('server name'), 'server name');
    if (type === SNI_HOST_NAME && name === undefined) {
      if (value.length === 0 || value.length > 255) malformed('bad server name');
      name = value.toString('latin1');
      if (!/^[A-Za-z0-9._-]+$/.test(name)) malformed('bad server name');
    }
  }
  return name;
}

function parseAlpn(data: Buffer): string[] {
  const c = cursor(data);
  const list = cursor(c.take(c.u16('ALPN list'), 'ALPN list'));
  const out: string[] = [];
  while (list.remaining() > 0) {
    const length = list.u8('ALPN protocol');
    if (length === 0) malformed('empty ALPN protocol');
    out.push(list.take(length, 'ALPN protocol').toString('latin1'));
  }
  if (out.length === 0) malformed('empty ALPN list');
  return out;
}
