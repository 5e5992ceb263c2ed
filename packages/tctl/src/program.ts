import { Command } from 'commander';
import { versionLine } from '@teleport-ts/core/version';
import { configureCommander } from '@teleport-ts/core/cli';

/** The `tctl` command tree. */
export function buildProgram(): Command {
  const program = configureCommander(new Command('tctl').description('Admin tool for the Teleport Access Platform'));
  program
    .command('version')
    .description('Print the version of your tctl binary.')
    .action(() => {
      process.stdout.write(`${versionLine()}\n`);
    });
  return program;
}
