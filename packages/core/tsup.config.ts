import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts', 'src/**/index.ts'],
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  outDir: 'dist',
  clean: true,
  sourcemap: true,
  splitting: true,
  external: ['pg', 'better-sqlite3'],
  // Inlined so that ca/tlsca/x509.ts can import its Reflect polyfill before the library (see that file).
  noExternal: [/^@peculiar\//],
  esbuildOptions(options) {
    options.conditions = ['source'];
  },
});
