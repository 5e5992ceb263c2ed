#!/usr/bin/env node
import { runCli } from '@teleport-ts/core/cli';

/**
 * `tsh version` and `tsh status` run on every prompt refresh in some shells, so they skip the command tree:
 * loading and building it (commander and every command's options) is most of tsh's start-up cost
 * (`pnpm bench tsh`). Anything with flags goes through the full parser, so behaviour is the same.
 */
async function fastPath(args: readonly string[]): Promise<boolean> {
  if (args.length !== 1) return false;
  if (args[0] === 'version') {
    const { versionLine } = await import('@teleport-ts/core/version');
    process.stdout.write(`${versionLine()}\n`);
    return true;
  }
  if (args[0] === 'status') {
    const [{ status }, { renderStatuses }] = await Promise.all([import('./commands/status.js'), import('./render/status.js')]);
    process.stdout.write(renderStatuses(await status(process.env), 'text', new Date()));
    return true;
  }
  return false;
}

await runCli(async () => {
  if (await fastPath(process.argv.slice(2))) return;
  const { buildProgram } = await import('./program.js');
  await buildProgram().parseAsync(process.argv);
});
