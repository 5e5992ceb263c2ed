import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { isTeleportError } from '../../errors/index.js';
import { DEFAULT_MAX_STARTUP_MESSAGE_LENGTH, PROTOCOL_VERSION_3_0, SSL_REQUEST_CODE } from './constants.js';
import { serializeCancelRequest, serializeGssEncRequest, serializeQuery, serializeSslRequest, serializeStartupMessage } from './serializer.js';
import { parseStartupMessage, readStartupMessage } from './startup.js';

// ---- named fixture helpers ------------------------------------------------------------------------------------

/** A startup-phase packet with an arbitrary request code and body, its length field computed. */
function startupPacket(code: number, ...body: Buffer[]): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(8 + body.reduce((n, b) => n + b.length, 0), 0);
  head.writeUInt32BE(code >>> 0, 4);
  return Buffer.concat([head, ...body]);
}

/** The same bytes with the length field replaced. */
function withLengthField(packet: Buffer, length: number): Buffer {
  const copy = Buffer.from(packet);
  copy.writeUInt32BE(length, 0);
  return copy;
}

const cstr = (s: string) => Buffer.from(`${s}\0`);
const version = (major: number, minor: number) => ((major << 16) | minor) >>> 0;
const aliceStartup = () => serializeStartupMessage({ parameters: { user: 'alice', database: 'app', application_name: 'psql' } });

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isTeleportError(err) ? err.code : `not a TeleportError: ${String(err)}`;
  }
  return undefined;
}

async function rejectionCode(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (err) {
    return isTeleportError(err) ? err.code : `not a TeleportError: ${String(err)}`;
  }
  return undefined;
}

describe('parseStartupMessage', () => {
  it('asks for more bytes on every proper prefix', () => {
    for (const message of [aliceStartup(), serializeSslRequest(), serializeCancelRequest({ processId: 1, secretKey: Buffer.alloc(4, 1) })]) {
      for (let n = 0; n < message.length; n++) expect(parseStartupMessage(message.subarray(0, n))).toBeUndefined();
      expect(parseStartupMessage(message)?.length).toBe(message.length);
    }
  });

  it('reports its length so following bytes are left alone', () => {
    const bytes = Buffer.concat([serializeSslRequest(), aliceStartup()]);
    expect(parseStartupMessage(bytes)).toEqual({ message: { type: 'sslRequest' }, length: 8 });
  });

  it('refuses a length field over the cap from its first 4 bytes', () => {
    const huge = withLengthField(aliceStartup(), DEFAULT_MAX_STARTUP_MESSAGE_LENGTH + 1);
    expect(codeOf(() => parseStartupMessage(huge.subarray(0, 4)))).toBe('ERR_TP_PG_MESSAGE_TOO_LARGE');
    expect(codeOf(() => parseStartupMessage(withLengthField(aliceStartup(), 0xffffffff)))).toBe('ERR_TP_PG_MESSAGE_TOO_LARGE');
  });

  it('has a configurable cap', () => {
    const big = serializeStartupMessage({ parameters: { user: 'alice', options: 'x'.repeat(500) } });
    expect(parseStartupMessage(big)).toBeDefined();
    expect(codeOf(() => parseStartupMessage(big, { maxMessageLength: 400 }))).toBe('ERR_TP_PG_MESSAGE_TOO_LARGE');
    expect(() => parseStartupMessage(big, { maxMessageLength: 10 })).toThrow(TypeError);
  });

  it.each<[string, Buffer, string]>([
    ['length below the minimum', withLengthField(aliceStartup(), 7), 'ERR_TP_PG_MALFORMED_MESSAGE'],
    ['length 0', withLengthField(serializeSslRequest(), 0), 'ERR_TP_PG_MALFORMED_MESSAGE'],
    ['SSLRequest with a body', startupPacket(SSL_REQUEST_CODE, Buffer.alloc(4)), 'ERR_TP_PG_MALFORMED_MESSAGE'],
    ['GSSENCRequest with a body', Buffer.concat([withLengthField(serializeGssEncRequest(), 9), Buffer.alloc(1)]), 'ERR_TP_PG_MALFORMED_MESSAGE'],
    ['CancelRequest with a 3-byte secret', startupPacket(80877102, Buffer.alloc(4), Buffer.alloc(3)), 'ERR_TP_PG_MALFORMED_MESSAGE'],
    ['CancelRequest with a 257-byte secret', startupPacket(80877102, Buffer.alloc(4), Buffer.alloc(257)), 'ERR_TP_PG_MALFORMED_MESSAGE'],
    ['an unknown special request code', startupPacket(version(1234, 5681)), 'ERR_TP_PG_MALFORMED_MESSAGE'],
    ['protocol 2.0', startupPacket(version(2, 0), cstr('user'), cstr('alice'), cstr('')), 'ERR_TP_PG_UNSUPPORTED_PROTOCOL'],
    ['protocol 4.0', startupPacket(version(4, 0), cstr('')), 'ERR_TP_PG_UNSUPPORTED_PROTOCOL'],
    ['no final terminator', startupPacket(PROTOCOL_VERSION_3_0, cstr('user'), cstr('alice')), 'ERR_TP_PG_MALFORMED_MESSAGE'],
    ['a name without a value', startupPacket(PROTOCOL_VERSION_3_0, cstr('user'), cstr('')), 'ERR_TP_PG_MALFORMED_MESSAGE'],
    ['an unterminated value', startupPacket(PROTOCOL_VERSION_3_0, cstr('user'), Buffer.from('alice')), 'ERR_TP_PG_MALFORMED_MESSAGE'],
    ['bytes after the terminator', startupPacket(PROTOCOL_VERSION_3_0, cstr('user'), cstr('alice'), cstr(''), Buffer.from('x')), 'ERR_TP_PG_MALFORMED_MESSAGE'],
    ['a repeated parameter', startupPacket(PROTOCOL_VERSION_3_0, cstr('user'), cstr('alice'), cstr('user'), cstr('postgres'), cstr('')), 'ERR_TP_PG_MALFORMED_MESSAGE'],
  ])('refuses %s', (_name, bytes, code) => {
    expect(codeOf(() => parseStartupMessage(bytes))).toBe(code);
  });

  it('fuzz: random input never throws anything but a TeleportError', () => {
    for (let i = 0; i < 5_000; i++) {
      const len = 1 + Math.floor(Math.random() * 40);
      const input = randomBytes(len);
      // Bias half of the inputs towards plausible headers so parsing goes deeper than the length check.
      if (i % 2 === 0 && len >= 8) {
        input.writeUInt32BE(len, 0);
        input.writeUInt32BE(i % 4 === 0 ? PROTOCOL_VERSION_3_0 : 80877102, 4);
      }
      const code = codeOf(() => parseStartupMessage(input));
      if (code !== undefined) expect(code).toMatch(/^ERR_TP_PG_/);
    }
  });
});

describe('readStartupMessage', () => {
  async function dribble(stream: PassThrough, bytes: Buffer): Promise<void> {
    for (const byte of bytes) {
      stream.write(Buffer.from([byte]));
      await nextTurn();
    }
  }

  it('reads one message fed byte by byte and leaves the following bytes in the stream', async () => {
    const stream = new PassThrough();
    const startup = aliceStartup();
    const following = serializeQuery('select 1');
    const reading = readStartupMessage(stream);
    await dribble(stream, Buffer.concat([startup, following.subarray(0, 3)]));
    const { message, raw } = await reading;
    expect(message).toEqual({ type: 'startupMessage', protocolVersion: { major: 3, minor: 0 }, parameters: { user: 'alice', database: 'app', application_name: 'psql' } });
    expect(raw.equals(startup)).toBe(true);
    stream.end(following.subarray(3));
    const rest: Buffer[] = [];
    for await (const chunk of stream) rest.push(chunk as Buffer);
    expect(Buffer.concat(rest).equals(following)).toBe(true);
  });

  it('reads an SSLRequest then the StartupMessage that arrived in the same chunk', async () => {
    const stream = new PassThrough();
    stream.write(Buffer.concat([serializeSslRequest(), aliceStartup()]));
    expect((await readStartupMessage(stream)).message).toEqual({ type: 'sslRequest' });
    expect(stream.readableLength).toBe(aliceStartup().length);
    expect((await readStartupMessage(stream)).message.type).toBe('startupMessage');
    expect(stream.readableLength).toBe(0);
  });

  it('refuses an oversized length as soon as the length field arrives, without waiting for the body', async () => {
    const stream = new PassThrough();
    const reading = readStartupMessage(stream, { maxMessageLength: 1000 });
    stream.write(withLengthField(aliceStartup(), 1001).subarray(0, 4));
    expect(await rejectionCode(reading)).toBe('ERR_TP_PG_MESSAGE_TOO_LARGE');
  });

  it('fails with ERR_TP_PG_TRUNCATED when the stream ends mid-message', async () => {
    const stream = new PassThrough();
    const reading = readStartupMessage(stream);
    stream.end(aliceStartup().subarray(0, 10));
    expect(await rejectionCode(reading)).toBe('ERR_TP_PG_TRUNCATED');
    expect(await rejectionCode(readStartupMessage(stream))).toBe('ERR_TP_PG_TRUNCATED');
  });

  it('fails with a malformed message', async () => {
    const stream = new PassThrough();
    const reading = readStartupMessage(stream);
    stream.write(startupPacket(version(1234, 5681)));
    expect(await rejectionCode(reading)).toBe('ERR_TP_PG_MALFORMED_MESSAGE');
  });

  it('gives up when the signal aborts', async () => {
    const stream = new PassThrough();
    const controller = new AbortController();
    const reading = readStartupMessage(stream, { signal: controller.signal });
    stream.write(aliceStartup().subarray(0, 5));
    controller.abort(new Error('startup timeout'));
    await expect(reading).rejects.toThrow('startup timeout');
    expect(stream.listenerCount('readable')).toBe(0);
  });
});
