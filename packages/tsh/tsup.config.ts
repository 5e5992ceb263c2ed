import type { Options } from 'tsup';
import { cliConfig } from '../../scripts/tsup-cli.js';

const base = cliConfig() as Options;

/**
 * tsh starts on every command, so startup is the budget (`pnpm bench tsh`): commander is inlined too (loading
 * it as an external CommonJS package costs ~30 ms). Inlined CommonJS calls `require` for Node's built-ins,
 * which an ESM bundle has only when it makes one.
 */
export default {
  ...base,
  noExternal: [/^@teleport-ts\//, 'commander'],
  banner: { js: "import { createRequire as __tshCreateRequire } from 'node:module'; const require = __tshCreateRequire(import.meta.url);" },
} satisfies Options;
