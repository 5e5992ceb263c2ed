import { Command } from 'commander';
import { configureCommander, registerCommands, reportUnknownCommands, type CommandGroup, type OptionSpec } from '@teleport-ts/core/cli';
import { runCommand, type TshCommand, type TshGlobals } from './commands/context.js';
import {
  dbConfigCommand,
  dbConnectCommand,
  dbEnvCommand,
  dbGroup,
  dbLoginCommand,
  dbLogoutCommand,
  dbLsCommand,
  proxyDbCommand,
  proxyGroup,
} from './commands/db-commands.js';
import { envCommand } from './commands/env.js';
import { configCommand, proxySshCommand, scpCommand, sshCommand } from './commands/ssh-commands.js';
import { stopFlagsAfterHost, valueFlags } from './argv.js';
import {
  requestDropCommand,
  requestGroup,
  requestLsCommand,
  requestNewCommand,
  requestReviewCommand,
  requestSearchCommand,
  requestShowCommand,
} from './commands/request-commands.js';
import { loginCommand } from './commands/login.js';
import { playCommand, recordingsGroup, recordingsLsCommand } from './commands/recording-commands.js';
import { lsCommand } from './commands/ls.js';
import { logoutCommand } from './commands/logout.js';
import { statusCommand } from './commands/status.js';
import { versionCommand } from './commands/version.js';
import { NOT_IMPLEMENTED } from './teleport-commands.js';

/** Every tsh command, in the order of `tsh --help`; a group comes before its subcommands. */
const COMMANDS: readonly (TshCommand | CommandGroup)[] = [
  versionCommand,
  loginCommand,
  statusCommand,
  logoutCommand,
  envCommand,
  sshCommand,
  scpCommand,
  lsCommand,
  configCommand,
  dbGroup,
  dbLsCommand,
  dbLoginCommand,
  dbLogoutCommand,
  dbEnvCommand,
  dbConfigCommand,
  dbConnectCommand,
  proxyGroup,
  proxyDbCommand,
  proxySshCommand,
  requestGroup,
  requestNewCommand,
  requestLsCommand,
  requestShowCommand,
  requestReviewCommand,
  requestDropCommand,
  requestSearchCommand,
  recordingsGroup,
  recordingsLsCommand,
  playCommand,
];

/** tsh's global flags. */
const GLOBAL_OPTIONS: readonly OptionSpec[] = [
  { flags: '--proxy <addr>', description: 'Teleport proxy address (host[:port]) [$TELEPORT_PROXY].' },
  { flags: '--user <user>', description: 'Teleport user, defaults to the current local user [$TELEPORT_USER].' },
  { flags: '--ttl <minutes>', description: 'Minutes to live for the session (the roles may cap it).' },
  { flags: '--insecure', description: 'Do not verify the server certificate and host name. Use only in test environments.' },
];

/** The command line as commander should read it: what follows `tsh ssh`'s host is the remote command's. */
export function tshArgv(argv: readonly string[]): string[] {
  return stopFlagsAfterHost(argv, 'ssh', valueFlags([...GLOBAL_OPTIONS, ...(sshCommand.options ?? [])]));
}

/** The `tsh` command tree. The database code loads only when a database command runs. */
export function buildProgram(): Command {
  const program = configureCommander(new Command('tsh').description('Teleport command-line client'));
  for (const option of GLOBAL_OPTIONS) program.option(option.flags, option.description);
  registerCommands(program, COMMANDS, (command, input, globals) => runCommand(command, input, globals as TshGlobals));
  reportUnknownCommands(program, { tool: 'tsh', notImplemented: NOT_IMPLEMENTED });
  return program;
}
