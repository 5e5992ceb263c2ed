#!/usr/bin/env node
import { runCli } from '@teleport-ts/core/cli';
import type { TshCommand } from './commands/context.js';

const FAST_COMMANDS = new Map<string, () => Promise<TshCommand>>([
  ['version', async () => (await import('./commands/version.js')).versionCommand],
  ['status', async () => (await import('./commands/status.js')).statusCommand],
  ['ls', async () => (await import('./commands/ls.js')).lsCommand as TshCommand],
  ['db ls', async () => (await import('./commands/db-commands.js')).dbLsCommand as TshCommand],
]);

/**
 * `tsh version` and `tsh status` run on every prompt refresh in some shells, and `tsh ls` / `tsh db ls` are what
 * people type most: without arguments (`--insecure` aside) they skip the command tree, since loading and building it
 * (commander and every command's options) is most of tsh's start-up cost (`pnpm bench tsh`; about 130 ms of
 * `tsh ls` in `pnpm bench scale`). They run the same descriptors with their defaults; anything else goes through
 * the full parser, so behaviour is the same.
 */
async function fastPath(args: readonly string[]): Promise<boolean> {
  const flags = args.filter((a) => a.startsWith('-'));
  if (flags.some((f) => f !== '--insecure')) return false;
  const load = FAST_COMMANDS.get(args.filter((a) => !a.startsWith('-')).join(' '));
  if (load === undefined) return false;
  const [{ runCommand }, command] = await Promise.all([import('./commands/context.js'), load()]);
  await runCommand(command, { args: [], opts: { format: 'text' } }, flags.length > 0 ? { insecure: true } : {});
  return true;
}

await runCli(async () => {
  if (await fastPath(process.argv.slice(2))) return;
  const { buildProgram, tshArgv } = await import('./program.js');
  await buildProgram().parseAsync(tshArgv(process.argv));
});
