/**
 * The invite page's QR code: the `qrcode` package encodes, this file only draws the symbol as an inline SVG
 * (one path, a quiet zone, an accessible title) so the page needs no image request under its strict CSP.
 */

import { create } from 'qrcode';

/** Light modules around the symbol, as the standard requires. */
export const QR_QUIET_ZONE = 4;

/**
 * Encodes `text` (error correction level M, as authenticator apps expect) and renders it as a standalone SVG
 * element scaled by its `viewBox`; `title` becomes the accessible name.
 *
 * @example
 * ```ts
 * qrSvg(totpUrl, { title: 'QR code for your authenticator app', pixels: 180 });
 * ```
 */
export function qrSvg(text: string, options: { title: string; pixels?: number }): string {
  const { size, data } = create(text, { errorCorrectionLevel: 'M' }).modules;
  const dim = size + QR_QUIET_ZONE * 2;
  let path = '';
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) if (data[y * size + x]) path += `M${x + QR_QUIET_ZONE},${y + QR_QUIET_ZONE}h1v1h-1z`;
  }
  const px = options.pixels ?? dim * 5;
  const title = options.title.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="qr-title" width="${px}" height="${px}" ` +
    `viewBox="0 0 ${dim} ${dim}" shape-rendering="crispEdges"><title id="qr-title">${title}</title>` +
    `<rect width="${dim}" height="${dim}" fill="#fff"/><path fill="#000" d="${path}"/></svg>`
  );
}
