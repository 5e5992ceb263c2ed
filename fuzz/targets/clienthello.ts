/** The TLS ClientHello peeker that routes the proxy's public port by ALPN and SNI. */

import { isDeepStrictEqual } from 'node:util';
import * as fc from 'fast-check';
import {
  HANDSHAKE_TYPE_CLIENT_HELLO,
  RECORD_TYPE_HANDSHAKE,
  readClientHello,
  type ClientHelloResult,
} from '../../packages/daemon/src/roles/proxy/clienthello.js';
import type { Target } from '../harness.js';
import { mutatedBytes, randomBytes } from '../mutate.js';

// The same named parts as clienthello.test.ts: a ClientHello is assembled, never written as hex.
const u16 = (n: number): Buffer => Buffer.from([n >> 8, n & 0xff]);
const u24 = (n: number): Buffer => Buffer.from([n >> 16, (n >> 8) & 0xff, n & 0xff]);
const vec8 = (b: Buffer): Buffer => Buffer.concat([Buffer.from([b.length]), b]);
const vec16 = (b: Buffer): Buffer => Buffer.concat([u16(b.length), b]);
const extension = (type: number, data: Buffer): Buffer => Buffer.concat([u16(type), vec16(data)]);
const alpnExtension = (protocols: readonly string[]): Buffer => extension(0x10, vec16(Buffer.concat(protocols.map((p) => vec8(Buffer.from(p, 'latin1'))))));
const sniExtension = (name: string): Buffer => extension(0x00, vec16(Buffer.concat([Buffer.from([0]), vec16(Buffer.from(name, 'latin1'))])));
const SUPPORTED_VERSIONS_TLS13 = extension(0x2b, vec8(u16(0x0304)));

interface HelloSpec {
  sni: string | undefined;
  alpn: readonly string[];
  /** Extensions the peeker skips (type, data). */
  other: readonly (readonly [number, Buffer])[];
  fragmentSize: number;
}

function helloBody(extensions: readonly Buffer[]): Buffer {
  return Buffer.concat([u16(0x0303), Buffer.alloc(32, 7), vec8(Buffer.alloc(32, 1)), vec16(Buffer.from([0x13, 0x01, 0x13, 0x02])), vec8(Buffer.from([0])), vec16(Buffer.concat(extensions))]);
}

const handshake = (body: Buffer): Buffer => Buffer.concat([Buffer.from([HANDSHAKE_TYPE_CLIENT_HELLO]), u24(body.length), body]);

function records(message: Buffer, fragmentSize: number): Buffer {
  const out: Buffer[] = [];
  for (let i = 0; i < message.length; i += fragmentSize) {
    const fragment = message.subarray(i, i + fragmentSize);
    out.push(Buffer.concat([Buffer.from([RECORD_TYPE_HANDSHAKE, 0x03, 0x01]), u16(fragment.length), fragment]));
  }
  return Buffer.concat(out);
}

function buildHello(spec: HelloSpec): Buffer {
  const extensions: Buffer[] = [];
  if (spec.sni !== undefined) extensions.push(sniExtension(spec.sni));
  if (spec.alpn.length > 0) extensions.push(alpnExtension(spec.alpn));
  const seen = new Set([0x00, 0x10]);
  for (const [type, data] of spec.other) {
    if (seen.has(type)) continue;
    seen.add(type);
    extensions.push(extension(type, data));
  }
  return records(handshake(helloBody(extensions)), spec.fragmentSize);
}

const helloSpec: fc.Arbitrary<HelloSpec> = fc.record({
  sni: fc.option(fc.stringMatching(/^[A-Za-z0-9._-]{1,40}$/), { nil: undefined }),
  alpn: fc.array(fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 20 }), { maxLength: 4 }),
  other: fc.array(fc.tuple(fc.nat(0xffff), fc.uint8Array({ maxLength: 24 }).map((b) => Buffer.from(b))), { maxLength: 3 }),
  fragmentSize: fc.oneof(fc.constant(1 << 14), fc.integer({ min: 1, max: 64 })),
});

function seeds(): Uint8Array[] {
  return [
    buildHello({ sni: 'proxy.example.com', alpn: ['teleport-postgres', 'h2', 'http/1.1'], other: [[0x2b, vec8(u16(0x0304))]], fragmentSize: 1 << 14 }),
    buildHello({ sni: undefined, alpn: ['teleport-auth@example.com'], other: [], fragmentSize: 1 << 14 }),
    buildHello({ sni: 'db.example.com', alpn: [], other: [], fragmentSize: 16 }), // one handshake over several records
    records(handshake(helloBody([SUPPORTED_VERSIONS_TLS13])), 1 << 14),
  ];
}

/** The peeker, given the bytes received so far. */
export const tlsClientHello: Target<'bytes', ClientHelloResult> = {
  name: 'tls-clienthello',
  description: 'TLS ClientHello records, SNI and ALPN on the proxy\'s public port (readClientHello)',
  kind: 'bytes',
  seeds,
  arbitrary: (s) =>
    fc.oneof(
      { weight: 6, arbitrary: mutatedBytes(s) },
      { weight: 1, arbitrary: randomBytes(48) },
      { weight: 2, arbitrary: helloSpec.map(buildHello) },
    ),
  parse: (input) => readClientHello(input),
  check(result, input) {
    if (!result.done) return;
    // The proxy calls the peeker as bytes arrive: every strict prefix of an accepted hello must ask for more.
    const prefix = readClientHello(input.subarray(0, input.length === 0 ? 0 : (input.length * 7919) % input.length));
    if (prefix.done && !isDeepStrictEqual(prefix, result)) throw new Error('a prefix of an accepted ClientHello reads differently');
  },
};

/** Random hello specs, for the round trip in fuzz.test.ts (build with {@link buildHello}, read back the SNI and ALPN). */
export const tlsClientHelloRoundTrip: fc.Arbitrary<HelloSpec> = helloSpec;
export { buildHello };
