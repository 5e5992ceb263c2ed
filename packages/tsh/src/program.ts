import { Command, Option } from 'commander';
import { versionLine } from '@teleport-ts/core/version';
import { configureCommander } from '@teleport-ts/core/cli';
import { BadParameterError } from '@teleport-ts/core/errors';

const FORMATS = ['text', 'json', 'yaml'] as const;
type Format = (typeof FORMATS)[number];

function formatOption(): Option {
  return new Option('-f, --format <format>', 'Output format: text, json or yaml.').choices(FORMATS).default('text');
}

/** The `tsh` command tree. Command modules load on use, so `tsh version` and `tsh status` start fast. */
export function buildProgram(): Command {
  const program = configureCommander(new Command('tsh').description('Teleport command-line client'));
  program
    .option('--proxy <addr>', 'Teleport proxy address (host[:port]) [$TELEPORT_PROXY].')
    .option('--user <user>', 'Teleport user, defaults to the current local user [$TELEPORT_USER].')
    .option('--ttl <minutes>', 'Minutes to live for the session (the roles may cap it).')
    .option('--insecure', 'Do not verify the server certificate and host name. Use only in test environments.');

  program
    .command('version')
    .description('Print the version of your tsh binary.')
    .action(() => {
      process.stdout.write(`${versionLine()}\n`);
    });

  program
    .command('login')
    .description('Log in to a cluster and retrieve the session certificate.')
    .action(async (_opts: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<{ proxy?: string; user?: string; ttl?: string; insecure?: boolean }>();
      const [{ login }, { newPrompter }, { renderStatusText }] = await Promise.all([
        import('./commands/login.js'),
        import('./prompt.js'),
        import('./render/status.js'),
      ]);
      const status = await login(opts, { env: process.env, prompter: newPrompter() });
      process.stdout.write(renderStatusText(status, new Date()));
    });

  program
    .command('status')
    .description('Display the list of proxy servers and retrieved certificates.')
    .addOption(formatOption())
    .action(async (opts: { format: Format }) => {
      const [{ status }, { renderStatuses }] = await Promise.all([import('./commands/status.js'), import('./render/status.js')]);
      process.stdout.write(renderStatuses(await status(process.env), opts.format, new Date()));
    });

  program
    .command('logout')
    .description('Delete a cluster certificate.')
    .action(async () => {
      const { logout } = await import('./commands/logout.js');
      process.stdout.write(`${await logout(process.env)}\n`);
    });

  program
    .command('env')
    .description('Print commands to set Teleport session environment variables.')
    .option('--unset', 'Print commands to clear Teleport session environment variables.')
    .addOption(formatOption())
    .action(async (opts: { unset?: boolean; format: Format }) => {
      const { environment, renderEnv } = await import('./commands/env.js');
      const vars = await environment(process.env);
      if (opts.format === 'text') process.stdout.write(renderEnv(vars, opts.unset === true));
      else if (opts.unset) throw new BadParameterError('--unset prints shell commands; use it with --format text');
      else if (opts.format === 'json') process.stdout.write(`${JSON.stringify(vars, null, 2)}\n`);
      else process.stdout.write(Object.entries(vars).map(([k, v]) => `${k}: ${v}\n`).join(''));
    });
  return program;
}
