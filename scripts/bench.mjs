#!/usr/bin/env node
// `pnpm bench <name>`: runs bench/<name>.ts (all benches when no name) with tsx and the `source` condition,
// so benchmarks measure the current source without a build step.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const available = readdirSync(path.join(root, 'bench'))
  .filter((f) => f.endsWith('.ts') && !f.startsWith('_') && f !== 'package.json')
  .map((f) => f.slice(0, -3));
const [name, ...rest] = process.argv.slice(2);
const names = name ? [name] : available;
for (const n of names) {
  if (!available.includes(n)) {
    process.stderr.write(`ERROR: unknown benchmark "${n}"\navailable: ${available.join(', ')}\n`);
    process.exit(1);
  }
  const r = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', path.join(root, 'bench', `${n}.ts`), ...rest], {
    stdio: 'inherit',
    cwd: root,
  });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
