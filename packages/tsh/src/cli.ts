#!/usr/bin/env node
import { runCli } from '@teleport-ts/core/cli';
import type { TshCommand } from './commands/context.js';

const FAST_COMMANDS = new Map<string, () => Promise<TshCommand>>([
  ['version', async () => (await import('./commands/version.js')).versionCommand],
  ['status', async () => (await import('./commands/status.js')).statusCommand],
]);

/**
 * `tsh version` and `tsh status` run on every prompt refresh in some shells, so they skip the command tree:
 * loading and building it (commander and every command's options) is most of tsh's start-up cost
 * (`pnpm bench tsh`). They run the same descriptors with their defaults; anything with flags goes through the
 * full parser, so behaviour is the same.
 */
async function fastPath(args: readonly string[]): Promise<boolean> {
  const load = args.length !== 1 ? undefined : FAST_COMMANDS.get(args[0]!);
  if (load === undefined) return false;
  const [{ runCommand }, command] = await Promise.all([import('./commands/context.js'), load()]);
  await runCommand(command, { args: [], opts: { format: 'text' } }, {});
  return true;
}

await runCli(async () => {
  if (await fastPath(process.argv.slice(2))) return;
  const { buildProgram, tshArgv } = await import('./program.js');
  await buildProgram().parseAsync(tshArgv(process.argv));
});
