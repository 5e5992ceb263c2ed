import jsqr from 'jsqr';
import { describe, expect, it } from 'vitest';
import { newTotpSecret, totpUrl } from '@teleport-ts/core/authn';
import { userTokenPage } from './page.js';
import { QR_QUIET_ZONE, qrSvg } from './qr.js';

// jsqr is CommonJS with an ES-style `default`: under NodeNext the function is that property.
const jsQR = jsqr.default;
const SCALE = 6;

/**
 * Draws the SVG the page embeds into RGBA pixels: the white square of the viewBox, then each unit square of the path
 * (the only shape `qrSvg` draws), `SCALE` pixels a module. A real decoder then reads the pixels.
 */
function rasterize(svg: string): { data: Uint8ClampedArray; width: number; height: number } {
  const dim = Number(/viewBox="0 0 (\d+) \1"/.exec(svg)?.[1]);
  expect(dim).toBeGreaterThan(2 * QR_QUIET_ZONE);
  const path = /<path fill="#000" d="([^"]*)"/.exec(svg)?.[1] ?? '';
  const squares = [...path.matchAll(/M(\d+),(\d+)h1v1h-1z/g)].map((m) => [Number(m[1]), Number(m[2])] as const);
  // Every command of the path is a unit square: nothing else would be drawn by a browser that this misses.
  expect(squares.map(([x, y]) => `M${x},${y}h1v1h-1z`).join('')).toBe(path);
  const width = dim * SCALE;
  const data = new Uint8ClampedArray(width * width * 4).fill(255);
  for (const [x, y] of squares) {
    for (let py = y * SCALE; py < (y + 1) * SCALE; py++) {
      for (let px = x * SCALE; px < (x + 1) * SCALE; px++) data.fill(0, (py * width + px) * 4, (py * width + px) * 4 + 3);
    }
  }
  return { data, width, height: width };
}

function decode(svg: string): string | undefined {
  const { data, width, height } = rasterize(svg);
  return jsQR(data, width, height)?.data;
}

describe('the invite page QR code', () => {
  it('decodes with jsQR to the exact otpauth:// URL', () => {
    for (const [issuer, account] of [
      ['example.com', 'alice'],
      ['a cluster with spaces & symbols.example.com', 'bob.o\'neil+ops@example.com'],
    ] as const) {
      const url = totpUrl({ secret: newTotpSecret(), issuer, account });
      const page = userTokenPage({ kind: 'invite', token: 't0ken', user: account, clusterName: issuer, proxyAddr: 'proxy:3080', minPasswordLength: 12, totp: { secret: 'S', url } });
      const svg = /<svg[\s\S]*?<\/svg>/.exec(page)?.[0];
      expect(svg).toBeDefined();
      expect(decode(svg!)).toBe(url);
    }
  });

  it('draws an accessible SVG of the requested size with a quiet zone', () => {
    const svg = qrSvg('otpauth://totp/x:y?secret=ABC', { title: 'QR <code> & "more"', pixels: 180 });
    expect(svg).toMatch(/^<svg [^>]*role="img" aria-labelledby="qr-title" width="180" height="180"/);
    expect(svg).toContain('<title id="qr-title">QR &#60;code&#62; &#38; &#34;more&#34;</title>');
    // 29 bytes at level M need version 3 (29 modules), plus 4 light modules each side.
    expect(svg).toContain('viewBox="0 0 37 37"');
    expect(decode(svg)).toBe('otpauth://totp/x:y?secret=ABC');
  });
});
