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

/** Shared tsup settings for the three CLIs: one ESM bundle with core inlined, native drivers external. */
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
    noExternal: [/^@teleport-ts\//],
    external: ['pg', 'better-sqlite3', 'pg-native'],
    define: {
      __TELEPORT_TS_VERSION__: JSON.stringify(rootPkg.version),
      __TELEPORT_TS_GIT__: JSON.stringify(gitCommit()),
    },
    esbuildOptions(o) {
      o.conditions = ['source'];
    },
  };
  return defineConfig(options);
}
