import net from 'node:net';
import tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import {
  HANDSHAKE_TYPE_CLIENT_HELLO,
  MAX_CLIENT_HELLO_BYTES,
  RECORD_TYPE_HANDSHAKE,
  parseClientHelloBody,
  readClientHello,
} from './clienthello.js';

// Fixture builders: a ClientHello is assembled from named parts, never from hex blobs.
const u16 = (n: number): Buffer => Buffer.from([n >> 8, n & 0xff]);
const u24 = (n: number): Buffer => Buffer.from([n >> 16, (n >> 8) & 0xff, n & 0xff]);
const vec8 = (b: Buffer): Buffer => Buffer.concat([Buffer.from([b.length]), b]);
const vec16 = (b: Buffer): Buffer => Buffer.concat([u16(b.length), b]);
const extension = (type: number, data: Buffer): Buffer => Buffer.concat([u16(type), vec16(data)]);
const alpnExtension = (protocols: string[]): Buffer =>
  extension(0x10, vec16(Buffer.concat(protocols.map((p) => vec8(Buffer.from(p, 'latin1'))))));
const sniExtension = (name: string): Buffer =>
  extension(0x00, vec16(Buffer.concat([Buffer.from([0]), vec16(Buffer.from(name, 'latin1'))])));

function helloBody(extensions: Buffer[]): Buffer {
  return Buffer.concat([
    u16(0x0303),
    Buffer.alloc(32, 7),
    vec8(Buffer.alloc(32, 1)),
    vec16(Buffer.from([0x13, 0x01, 0x13, 0x02])),
    vec8(Buffer.from([0])),
    vec16(Buffer.concat(extensions)),
  ]);
}

function handshake(body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([HANDSHAKE_TYPE_CLIENT_HELLO]), u24(body.length), body]);
}

function records(message: Buffer, fragmentSize = 1 << 14): Buffer {
  const out: Buffer[] = [];
  for (let i = 0; i < message.length; i += fragmentSize) {
    const fragment = message.subarray(i, i + fragmentSize);
    out.push(Buffer.concat([Buffer.from([RECORD_TYPE_HANDSHAKE, 0x03, 0x01]), u16(fragment.length), fragment]));
  }
  return Buffer.concat(out);
}

/** The first bytes a real Node TLS client sends. */
async function captureNodeClientHello(options: tls.ConnectionOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((socket) => {
      let got = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        got = Buffer.concat([got, chunk]);
        const r = readClientHello(got);
        if (r.done) {
          socket.destroy();
          server.close();
          resolve(got);
        }
      });
    });
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      const client = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options });
      client.on('error', () => {});
      setTimeout(() => reject(new Error('no ClientHello')), 5000).unref();
    });
  });
}

describe('readClientHello', () => {
  it('reads ALPN (in the client order) and SNI', () => {
    const bytes = records(handshake(helloBody([sniExtension('proxy.example.com'), alpnExtension(['teleport-auth', 'http/1.1'])])));
    expect(readClientHello(bytes)).toEqual({
      done: true,
      hello: { serverName: 'proxy.example.com', alpnProtocols: ['teleport-auth', 'http/1.1'] },
    });
  });

  it('asks for more bytes until the whole message is there, at every split point', () => {
    const bytes = records(handshake(helloBody([alpnExtension(['http/1.1'])])));
    for (let n = 0; n < bytes.length; n++) expect(readClientHello(bytes.subarray(0, n))).toEqual({ done: false });
    expect(readClientHello(bytes).done).toBe(true);
  });

  it('reassembles a ClientHello split over several records', () => {
    const bytes = records(handshake(helloBody([sniExtension('a.example'), alpnExtension(['teleport-postgres'])])), 17);
    expect(readClientHello(bytes)).toEqual({ done: true, hello: { serverName: 'a.example', alpnProtocols: ['teleport-postgres'] } });
  });

  it('returns no ALPN protocols when the extension is absent', () => {
    expect(readClientHello(records(handshake(helloBody([]))))).toEqual({ done: true, hello: { serverName: undefined, alpnProtocols: [] } });
  });

  it('reads what real Node clients send', async () => {
    const withAlpn = await captureNodeClientHello({ ALPNProtocols: ['teleport-auth', 'http/1.1'], servername: 'teleport.cluster.local' });
    expect(readClientHello(withAlpn)).toEqual({ done: true, hello: { serverName: 'teleport.cluster.local', alpnProtocols: ['teleport-auth', 'http/1.1'] } });
    const plain = await captureNodeClientHello({});
    expect(readClientHello(plain)).toMatchObject({ done: true, hello: { alpnProtocols: [] } });
  });

  it('rejects what is not a TLS ClientHello', () => {
    expect(() => readClientHello(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))).toThrow(/not a handshake record/);
    expect(() => readClientHello(Buffer.from('SSH-2.0-OpenSSH_9.2\r\n'))).toThrow(/not a handshake record/);
    const serverHello = Buffer.concat([Buffer.from([2]), u24(4), Buffer.alloc(4)]);
    expect(() => readClientHello(records(serverHello))).toThrow(/not a ClientHello/);
  });

  it('never trusts a length field beyond the bounds', () => {
    const hugeRecord = Buffer.concat([Buffer.from([RECORD_TYPE_HANDSHAKE, 3, 1]), u16(0xffff)]);
    expect(() => readClientHello(hugeRecord)).toThrow(/bad record length/);
    const hugeMessage = records(Buffer.concat([Buffer.from([HANDSHAKE_TYPE_CLIENT_HELLO]), u24(MAX_CLIENT_HELLO_BYTES), Buffer.alloc(100)]));
    expect(() => readClientHello(hugeMessage)).toThrow(/too large/);
    const body = helloBody([alpnExtension(['http/1.1'])]);
    // An extension length running past the end of the message.
    const truncated = Buffer.from(body);
    truncated.writeUInt16BE(0xfff0, truncated.length - alpnExtension(['http/1.1']).length - 2);
    expect(() => parseClientHelloBody(truncated)).toThrow(/truncated/);
    expect(() => parseClientHelloBody(helloBody([alpnExtension([]).subarray(0, 4), Buffer.alloc(0)]))).toThrow();
    expect(() => parseClientHelloBody(helloBody([alpnExtension(['a']), alpnExtension(['b'])]))).toThrow(/duplicate/);
  });

  it('survives random garbage without hanging or throwing anything but its own error', () => {
    const valid = records(handshake(helloBody([sniExtension('x.example'), alpnExtension(['http/1.1'])])));
    let seed = 42;
    const rand = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    for (let i = 0; i < 2000; i++) {
      const mutated = Buffer.from(valid);
      for (let j = 0; j < 3; j++) mutated[Math.floor(rand() * mutated.length)] = Math.floor(rand() * 256);
      try {
        readClientHello(mutated);
      } catch (err) {
        expect((err as { code?: string }).code).toBe('ERR_TP_BAD_CLIENT_HELLO');
      }
    }
  });
});
