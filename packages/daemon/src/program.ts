import { Command } from 'commander';
import { versionLine } from '@teleport-ts/core/version';
import { configureCommander } from '@teleport-ts/core/cli';
import { configureCommand } from './configure.js';
import { dbCommand } from './roles/db/command.js';
import { startCommand } from './start.js';

/** The `teleport-ts` daemon command tree. */
export function buildProgram(): Command {
  const program = configureCommander(
    new Command('teleport-ts').description('Teleport access plane (TypeScript): certificate authority, access proxy, audit log'),
  );
  program
    .command('version')
    .description('Print the version of your teleport-ts binary.')
    .action(() => {
      process.stdout.write(`${versionLine()}\n`);
    });
  program.addCommand(startCommand());
  program.addCommand(configureCommand());
  program.addCommand(dbCommand());
  return program;
}
