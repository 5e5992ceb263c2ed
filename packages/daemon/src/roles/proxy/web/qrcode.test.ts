import { describe, expect, it } from 'vitest';
import { encodeQr, qrSvg, QR_QUIET_ZONE, type QrCode } from './qrcode.js';

/** Reads the 15-bit format information next to the top-left finder and checks its BCH code. */
function formatInfo(qr: QrCode): { ecc: number; mask: number } {
  const m = qr.modules;
  let bits = 0;
  const order: [number, number][] = [
    ...[0, 1, 2, 3, 4, 5].map((i) => [8, i] as [number, number]),
    [8, 7],
    [8, 8],
    [7, 8],
    ...[9, 10, 11, 12, 13, 14].map((i) => [14 - i, 8] as [number, number]),
  ];
  order.forEach(([x, y], i) => {
    if (m[y]![x]) bits |= 1 << i;
  });
  bits ^= 0x5412;
  const data = bits >>> 10;
  let rem = data;
  for (let i = 0; i < 10; i++) rem = (rem << 1) ^ ((rem >>> 9) * 0x537);
  expect(((data << 10) | (rem & 0x3ff)) >>> 0).toBe(bits);
  return { ecc: data >>> 3, mask: data & 7 };
}

describe('encodeQr', () => {
  it('picks the smallest version for byte mode at level M (capacity boundaries)', () => {
    const cases: [number, number][] = [
      [14, 1],
      [15, 2],
      [26, 2],
      [84, 5],
      [152, 8],
      [153, 9],
      [213, 10],
      [2331, 40],
    ];
    for (const [bytes, version] of cases) {
      const qr = encodeQr('x'.repeat(bytes), 'M');
      expect(qr.version, `${bytes} bytes`).toBe(version);
      expect(qr.size).toBe(version * 4 + 17);
    }
    expect(() => encodeQr('x'.repeat(2332), 'M')).toThrow(RangeError);
  });

  it('draws finder and timing patterns, the dark module and valid format information', () => {
    const qr = encodeQr('otpauth://totp/example.com:alice?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=example.com', 'M');
    const m = qr.modules;
    const n = qr.size;
    for (const [x0, y0] of [
      [0, 0],
      [n - 7, 0],
      [0, n - 7],
    ]) {
      for (let d = 0; d < 7; d++) {
        expect(m[y0!]![x0! + d]).toBe(true); // top edge of the finder
        expect(m[y0! + 6]![x0! + d]).toBe(true); // bottom edge
      }
      expect(m[y0! + 3]![x0! + 3]).toBe(true); // centre
      expect(m[y0! + 1]![x0! + 1]).toBe(false); // light ring
    }
    for (let i = 8; i < n - 8; i++) {
      expect(m[6]![i]).toBe(i % 2 === 0);
      expect(m[i]![6]).toBe(i % 2 === 0);
    }
    expect(m[n - 8]![8]).toBe(true);
    expect(formatInfo(qr)).toEqual({ ecc: 0, mask: qr.mask });
    expect(formatInfo(encodeQr('hello', 'H')).ecc).toBe(2);
  });

  it('is deterministic', () => {
    expect(encodeQr('same input').modules).toEqual(encodeQr('same input').modules);
  });
});

describe('qrSvg', () => {
  it('renders an accessible SVG with a quiet zone and escapes the title', () => {
    const qr = encodeQr('hi');
    const svg = qrSvg(qr, { title: 'scan <me> & go', pixels: 100 });
    const dim = qr.size + 2 * QR_QUIET_ZONE;
    expect(svg).toContain(`viewBox="0 0 ${dim} ${dim}"`);
    expect(svg).toContain('role="img"');
    expect(svg).toContain('<title id="qr-title">scan &#60;me&#62; &#38; go</title>');
    const squares = svg.match(/h1v1h-1z/g)?.length ?? 0;
    expect(squares).toBe(qr.modules.flat().filter(Boolean).length);
  });
});
