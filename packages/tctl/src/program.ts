import { Command } from 'commander';
import { configureCommander, registerCommands, reportUnknownCommands, writeRendered, type CommandGroup, type CommandRunner } from '@teleport-ts/core/cli';
import type { TctlCommand, TctlContext } from './command.js';
import { auditEventsCommand, auditGroup } from './commands/audit.js';
import { authExportCommand, authGroup } from './commands/auth-export.js';
import { authRotateCommand } from './commands/auth-rotate.js';
import { authSignCommand } from './commands/auth-sign.js';
import { dbGroup, dbLsCommand } from './commands/db.js';
import { lockCommand } from './commands/lock.js';
import { nodesGroup, nodesLsCommand } from './commands/nodes.js';
import { createCommand, getCommand, rmCommand } from './commands/resources.js';
import {
  requestApproveCommand,
  requestCreateCommand,
  requestDenyCommand,
  requestGetCommand,
  requestGroup,
  requestLsCommand,
  requestRmCommand,
} from './commands/requests.js';
import { statusCommand } from './commands/status.js';
import { tokensAddCommand, tokensGroup, tokensLsCommand, tokensRmCommand } from './commands/tokens.js';
import { usersAddCommand, usersGroup, usersLsCommand, usersResetCommand, usersRmCommand, usersUpdateCommand } from './commands/users.js';
import { versionCommand } from './commands/version.js';
import { connectAuth, type ConnectedApi } from './connect.js';
import type { GlobalOptions } from './connection.js';
import { NOT_IMPLEMENTED } from './teleport-commands.js';

/** Every tctl command, in the order of `tctl --help`; a group comes before its subcommands. */
const COMMANDS: readonly (TctlCommand | CommandGroup)[] = [
  versionCommand,
  statusCommand,
  authGroup,
  authExportCommand,
  authSignCommand,
  authRotateCommand,
  usersGroup,
  usersAddCommand,
  usersLsCommand,
  usersRmCommand,
  usersResetCommand,
  usersUpdateCommand,
  nodesGroup,
  nodesLsCommand,
  dbGroup,
  dbLsCommand,
  tokensGroup,
  tokensAddCommand,
  tokensLsCommand,
  tokensRmCommand,
  getCommand,
  createCommand,
  rmCommand,
  lockCommand,
  auditGroup,
  auditEventsCommand,
  requestGroup,
  requestLsCommand,
  requestGetCommand,
  requestApproveCommand,
  requestDenyCommand,
  requestCreateCommand,
  requestRmCommand,
];

/** What the command tree needs from the outside world; tests replace it. */
export interface ProgramDependencies {
  /** Opens the auth client for the global flags. */
  connect(globals: GlobalOptions): Promise<ConnectedApi>;
  stdout(chunk: string | Uint8Array): void;
  now(): Date;
  readStdin(): Promise<string>;
}

async function readAllStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const defaultDependencies = (): ProgramDependencies => ({
  connect: connectAuth,
  stdout: (chunk) => {
    process.stdout.write(chunk);
  },
  now: () => new Date(),
  readStdin: readAllStdin,
});

/** Runs one command: the handler (which connects when it first asks for the client), the output, then close. */
function runner(deps: ProgramDependencies): CommandRunner<TctlContext> {
  return async (command, input, globals) => {
    const options = globals as GlobalOptions;
    let api: ConnectedApi | undefined;
    const ctx: TctlContext = {
      api: async () => (api ??= await deps.connect(options)),
      globals: options,
      now: deps.now,
      readStdin: deps.readStdin,
    };
    try {
      const data = await command.handler(input, ctx);
      writeRendered(await command.render(data, input, ctx), deps.stdout);
      await command.finish?.(data, ctx);
    } finally {
      await api?.close();
    }
  };
}

/** The `tctl` command tree. */
export function buildProgram(overrides: Partial<ProgramDependencies> = {}): Command {
  const deps: ProgramDependencies = { ...defaultDependencies(), ...overrides };
  const program = configureCommander(new Command('tctl').description('Admin tool for the Teleport Access Platform'));
  program
    .option('-c, --config <path>', 'Path to a configuration file [/etc/teleport.yaml] for an Auth Service.')
    .option('--auth-server <host:port>', 'Attempts to connect to specific auth/proxy address(es) instead of local auth [127.0.0.1:3025].')
    .option('-i, --identity <path>', 'Path to an identity file. Must be provided to make remote connections to auth.');
  registerCommands(program, COMMANDS, runner(deps));
  reportUnknownCommands(program, { tool: 'tctl', notImplemented: NOT_IMPLEMENTED });
  return program;
}
