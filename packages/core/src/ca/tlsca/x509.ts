/**
 * `@peculiar/x509`, wired to Node's WebCrypto. Import the library through this module only.
 *
 * The library needs a Reflect metadata polyfill installed before it loads, so the polyfill is imported first.
 * ES module evaluation follows import order; the bundles (core's and the CLIs') inline `@peculiar/x509` rather
 * than leave it external, because an external import would be hoisted above the inlined polyfill.
 */
import './reflect-metadata.js';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export { x509 };
export type { X509Certificate } from '@peculiar/x509';
