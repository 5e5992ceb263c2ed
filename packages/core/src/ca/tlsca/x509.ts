/**
 * `@peculiar/x509`, wired to Node's WebCrypto. Import the library through this module only.
 *
 * The library needs a Reflect metadata polyfill installed before it loads. A static `import` cannot guarantee
 * that once bundled (bundlers hoist external imports above inlined code), so the library is loaded with `require`
 * after the polyfill has run; Node resolves it to its CommonJS build either way.
 */
import './reflect-metadata.js';
import { webcrypto } from 'node:crypto';
import { createRequire } from 'node:module';
import type * as X509Module from '@peculiar/x509';

const require = createRequire(import.meta.url);
const x509 = require('@peculiar/x509') as typeof X509Module;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export { x509 };
export type { X509Certificate } from '@peculiar/x509';
