import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { defineConfig, type Options } from 'tsup';

function gitCommit(): string {
  try {
    return execFileSync('git', ['describe', '--always', '--dirty', '--abbrev=12'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

/**
 * Packages a CLI bundle leaves to Node at run time: native addons and the driver that loads them. `cpu-features`
 * is ssh2's optional addon, required inside a try: missing at run time, ssh2 does without.
 */
export const RUNTIME_EXTERNALS = ['pg', 'pg-native', 'better-sqlite3', 'ssh2', 'node-pty', 'cpu-features'];

/**
 * Shared tsup settings for the three CLIs: one ESM bundle with everything inlined but the native drivers.
 * Inlining everything keeps startup fast (no CommonJS package resolution at run time: `pnpm bench tsh`) and keeps
 * import order, which `@peculiar/x509` needs (its Reflect polyfill must run first). Inlined CommonJS calls
 * `require` for Node's built-ins, which an ESM bundle has only when it makes one: hence the banner.
 */
export function cliConfig(): ReturnType<typeof defineConfig> {
  const rootPkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  const options: Options = {
    entry: ['src/cli.ts', 'src/index.ts'],
    format: ['esm'],
    target: 'node20',
    platform: 'node',
    outDir: 'dist',
    clean: true,
    sourcemap: true,
    splitting: true,
    noExternal: [new RegExp(`^(?!(${RUNTIME_EXTERNALS.join('|')})(/|$))`)],
    external: RUNTIME_EXTERNALS,
    banner: { js: "import { createRequire as __cliCreateRequire } from 'node:module'; const require = __cliCreateRequire(import.meta.url);" },
    define: {
      __TELEPORT_TS_VERSION__: JSON.stringify(rootPkg.version),
      __TELEPORT_TS_GIT__: JSON.stringify(gitCommit()),
      // Inlined CommonJS that reads its directory (ssh2's agent.js, for Windows' pageant) gets the bundle's.
      __dirname: 'import.meta.dirname',
    },
    esbuildOptions(o) {
      o.conditions = ['source'];
    },
  };
  return defineConfig(options);
}
