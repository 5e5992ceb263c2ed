/**
 * The light client boundary, checked on the built tsh (`pnpm build` first): what each command loads is the static
 * import closure of the bundle's entry plus the chunks its command path imports on use; the sources behind those
 * chunks (from their source maps) and the packages left external must hold no issuance library, database driver or
 * server code. `tsh status` and `tsh version` run on shell prompts, so they must not even load crypto or HTTPS.
 */

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const dist = path.join(root, 'packages', 'tsh', 'dist');

interface Chunk {
  /** Chunk files and packages imported at load time. */
  staticImports: string[];
  /** Chunk files imported on use (`import("./x.js")`). */
  dynamicImports: string[];
  /** The sources bundled into the chunk, as its source map names them. */
  sources: string[];
}

const chunks = new Map<string, Chunk>();

function readChunk(file: string): Chunk {
  const known = chunks.get(file);
  if (known) return known;
  const code = readFileSync(path.join(dist, file), 'utf8');
  // esbuild writes each import statement at the start of a line; none contains a `;` before its end.
  const staticImports = [...code.matchAll(/^(?:import|export)\b[^;]*?["']([^"']+)["'];?$/gm)].map((m) => m[1]!);
  const dynamicImports = [...code.matchAll(/\bimport\(\s*"(\.\/[^"]+)"\s*\)/g)].map((m) => m[1]!);
  const map = JSON.parse(readFileSync(path.join(dist, `${file}.map`), 'utf8')) as { sources: string[] };
  const chunk = { staticImports, dynamicImports, sources: map.sources.map((s) => path.resolve(dist, s)) };
  chunks.set(file, chunk);
  return chunk;
}

const local = (spec: string): string | undefined => (spec.startsWith('./') ? spec.slice(2) : undefined);

/** What a command loads: `cli.js`, the chunks it imports on use whose names match `onUse`, and their static imports. */
function loadedBy(onUse: RegExp): { files: string[]; sources: string[]; packages: string[] } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const queue = ['cli.js'];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    const chunk = readChunk(file);
    for (const spec of chunk.staticImports) {
      const f = local(spec);
      if (f === undefined) packages.add(spec.replace(/^node:/, ''));
      else queue.push(f);
    }
    for (const spec of chunk.dynamicImports) {
      const f = local(spec)!;
      if (onUse.test(f)) queue.push(f);
    }
  }
  return { files: [...files], sources: [...files].flatMap((f) => readChunk(f).sources), packages: [...packages] };
}

/** Issuance (`@peculiar/x509` and its polyfill), the database drivers, undici, and server-side code. */
const FORBIDDEN_SOURCE = [
  /node_modules\/\.pnpm\/(undici|@peculiar|pg|pg-[a-z-]+|better-sqlite3|reflect-metadata|tsyringe|asn1js|pvtsutils)@/,
  /packages\/daemon\//,
  /packages\/core\/src\/(backend|services|tunnel)\//,
  /packages\/core\/src\/ca\/(authority|rotation)\.ts$/,
  /packages\/core\/src\/ca\/tlsca\/(x509|reflect-metadata|issue|signer|ca-certificate)\.ts$/,
];
const FORBIDDEN_PACKAGE = /^(undici|pg|pg-native|better-sqlite3|@peculiar\/.*|reflect-metadata)$/;

function expectLight(loaded: ReturnType<typeof loadedBy>): void {
  expect(loaded.sources.filter((s) => FORBIDDEN_SOURCE.some((re) => re.test(s)))).toEqual([]);
  expect(loaded.packages.filter((p) => FORBIDDEN_PACKAGE.test(p))).toEqual([]);
}

describe('built tsh: the light client boundary', () => {
  it('is checked on a build', () => {
    expect(existsSync(path.join(dist, 'cli.js')), 'run `pnpm build` first').toBe(true);
    // The patterns match the paths source maps use: core's own bundle does hold the X.509 library.
    const coreDist = path.join(root, 'packages', 'core', 'dist');
    const coreSources = readdirSync(coreDist, { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.js.map'))
      .flatMap((f) => (JSON.parse(readFileSync(path.join(coreDist, f), 'utf8')) as { sources: string[] }).sources.map((s) => path.resolve(coreDist, path.dirname(f), s)));
    expect(coreSources.some((s) => FORBIDDEN_SOURCE[0]!.test(s))).toBe(true);
    expect(coreSources.some((s) => /packages\/core\/src\/ca\/tlsca\/issue\.ts$/.test(s))).toBe(true);
  });

  it('tsh status and tsh version load no issuance, driver or server code, nor crypto or HTTPS', () => {
    for (const onUse of [/^status-/, /^version-/]) {
      const loaded = loadedBy(onUse);
      expectLight(loaded);
      expect(loaded.packages.filter((p) => /^(crypto|https|http|tls|net)$/.test(p))).toEqual([]);
      expect(loaded.sources.filter((s) => /node_modules\/\.pnpm\/(valibot|yaml)@/.test(s))).toEqual([]);
    }
    // The profile store and the certificate reader are what status reads with.
    const status = loadedBy(/^status-/).sources;
    expect(status.some((s) => s.endsWith('packages/core/src/profile/store.ts'))).toBe(true);
    expect(status.some((s) => s.endsWith('packages/core/src/ca/sshca/summary.ts'))).toBe(true);
  });

  it('tsh ls and tsh db ls (no arguments) skip the command tree: no commander, no program chunk', () => {
    for (const onUse of [/^(ls|context|nodes|db|table|profile)-/, /^(db-commands|context|db|table|profile)-/]) {
      const loaded = loadedBy(onUse);
      expectLight(loaded);
      expect(loaded.files.filter((f) => f.startsWith('program-'))).toEqual([]);
      expect([...loaded.packages, ...loaded.sources].filter((s) => /commander/.test(s))).toEqual([]);
      expect(loaded.sources.some((s) => s.endsWith('packages/core/src/api/auth.ts'))).toBe(true);
      // core is marked side-effect free (but its Reflect polyfill): resource YAML, unused by listings, stays out.
      expect(loaded.sources.filter((s) => /node_modules\/\.pnpm\/yaml@/.test(s))).toEqual([]);
    }
    // The full parser does load commander: the check above sees it when it is there.
    expect(loadedBy(/^program-/).packages.concat(loadedBy(/^program-/).sources).some((s) => /commander/.test(s))).toBe(true);
  });

  it('tsh db and tsh login load the auth API client without issuance, driver or server code', () => {
    for (const onUse of [/^(program|db|table|profile)-/, /^(program|login|prompt|status)-/]) {
      const loaded = loadedBy(onUse);
      expectLight(loaded);
      expect(loaded.sources.some((s) => s.endsWith('packages/core/src/api/auth.ts'))).toBe(true);
    }
    // The checker sees what it is meant to: the full CLI bundle (every chunk) does hold core's API client.
    expect(loadedBy(/^(program|db)-/).files.length).toBeGreaterThan(loadedBy(/^status-/).files.length);
  });
});
