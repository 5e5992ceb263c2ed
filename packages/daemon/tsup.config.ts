import type { Options } from 'tsup';
import { cliConfig } from '../../scripts/tsup-cli.js';

const base = cliConfig() as Options;

/**
 * Core loads `@peculiar/x509` with a runtime `require` (so its Reflect polyfill runs first), which a bundle in
 * packages/daemon/dist cannot resolve: the library is core's dependency, not the daemon's. Inside one bundle the import
 * order is kept, so the same module with static imports bundles the library after the polyfill.
 */
const bundlePeculiarX509 = {
  name: 'bundle-peculiar-x509',
  setup(build: { onLoad(options: { filter: RegExp }, cb: () => { contents: string; loader: 'ts'; resolveDir?: string }): void }) {
    build.onLoad({ filter: /[\\/]core[\\/]src[\\/]ca[\\/]tlsca[\\/]x509\.ts$/ }, () => ({
      loader: 'ts',
      contents: [
        "import './reflect-metadata.js';",
        "import { webcrypto } from 'node:crypto';",
        "import * as x509 from '@peculiar/x509';",
        'x509.cryptoProvider.set(webcrypto as never);',
        'export { x509 };',
        "export type { X509Certificate } from '@peculiar/x509';",
      ].join('\n'),
    }));
  },
};

export default {
  ...base,
  esbuildPlugins: [...(base.esbuildPlugins ?? []), bundlePeculiarX509],
  // `yaml` (bundled through core) ships CommonJS for Node and calls require('process'); an ESM bundle has no
  // `require` unless it makes one.
  banner: { js: "import { createRequire as __daemonCreateRequire } from 'node:module'; const require = __daemonCreateRequire(import.meta.url);" },
} satisfies Options;
