import { Command } from 'commander';
import { versionLine } from '@teleport-ts/core/version';
import { configureCommander } from '@teleport-ts/core/cli';

/** The `tsh` command tree. */
export function buildProgram(): Command {
  const program = configureCommander(new Command('tsh').description('Teleport command-line client'));
  program
    .command('version')
    .description('Print the version of your tsh binary.')
    .action(() => {
      process.stdout.write(`${versionLine()}\n`);
    });
  return program;
}
