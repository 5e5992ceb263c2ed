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
  addDbCommands(program);
  return program;
}

type GlobalOpts = { proxy?: string; insecure?: boolean };

/** `tsh db ...` and `tsh proxy db`: modules load on use. */
function addDbCommands(program: Command): void {
  const db = program.command('db').description('View and control proxied databases.');
  const session = async (cmd: Command) => {
    const { openDbSession } = await import('./commands/db.js');
    return openDbSession(cmd.optsWithGlobals<GlobalOpts>(), { env: process.env });
  };
  const dbFlags = (c: Command): Command =>
    c.option('--db-user <user>', 'Database user to configure as default.').option('--db-name <name>', 'Database name to configure as default.');

  db.command('ls')
    .description('List all available databases.')
    .argument('[labels]', 'List of labels to filter database list (key1=value1,key2=value2).')
    .option('-v, --verbose', 'Show extra database fields.')
    .addOption(formatOption())
    .action(async (labels: string | undefined, opts: { verbose?: boolean; format: Format }, cmd: Command) => {
      const s = await session(cmd);
      try {
        const [{ dbList, dbListTable }, { asciiTable }, { toYaml }] = await Promise.all([
          import('./commands/db.js'),
          import('./render/table.js'),
          import('@teleport-ts/core/profile'),
        ]);
        const rows = await dbList(s, { ...(labels !== undefined ? { labels } : {}), verbose: opts.verbose === true });
        if (opts.format === 'json') process.stdout.write(`${JSON.stringify(rows.map((r) => r.resource), null, 2)}\n`);
        else if (opts.format === 'yaml') process.stdout.write(rows.length === 0 ? '[]\n' : toYaml(rows.map((r) => r.resource) as never));
        else {
          const table = dbListTable(rows, opts.verbose === true);
          process.stdout.write(`${asciiTable(table.headers, table.cells)}\n`);
        }
      } finally {
        await s.close();
      }
    });

  dbFlags(db.command('login').description('Retrieve credentials for a database.').argument('<db>', 'Database to retrieve credentials for.')).action(
    async (name: string, opts: { dbUser?: string; dbName?: string }, cmd: Command) => {
      const s = await session(cmd);
      try {
        const { dbLogin } = await import('./commands/db.js');
        process.stdout.write(await dbLogin(s, { db: name, ...opts }));
      } finally {
        await s.close();
      }
    },
  );

  db.command('logout')
    .description('Remove database credentials.')
    .argument('[db]', 'Database to remove credentials for (all when omitted).')
    .action(async (name: string | undefined, _opts: unknown, cmd: Command) => {
      const s = await session(cmd);
      const { dbLogout } = await import('./commands/db.js');
      process.stdout.write(`${await dbLogout(s, name)}\n`);
    });

  db.command('env')
    .description('Print environment variables for the configured database.')
    .argument('[db]', 'Print environment for the specified database.')
    .addOption(formatOption())
    .action(async (name: string | undefined, _opts: unknown, cmd: Command) => {
      const s = await session(cmd);
      const { dbNativeClientInfo } = await import('./commands/db.js');
      await dbNativeClientInfo(s, 'tsh db env', name);
    });

  db.command('config')
    .description('Print database connection information. Useful when configuring GUI clients.')
    .argument('[db]', 'Print information for the specified database.')
    .addOption(new Option('-f, --format <format>', 'Print format: "text" to print in table format (default), "cmd" to print the connect command, "json" or "yaml".').choices(['text', 'cmd', 'json', 'yaml']).default('text'))
    .action(async (name: string | undefined, _opts: unknown, cmd: Command) => {
      const s = await session(cmd);
      const { dbNativeClientInfo } = await import('./commands/db.js');
      await dbNativeClientInfo(s, 'tsh db config', name);
    });

  dbFlags(
    db
      .command('connect')
      .description('Connect to a database: runs psql (or cockroach sql for CockroachDB when installed) through a local proxy.')
      .argument('<db>', 'Database service name to connect to.'),
  ).action(async (name: string, opts: { dbUser?: string; dbName?: string }, cmd: Command) => {
    const s = await session(cmd);
    try {
      const { dbConnect } = await import('./commands/db.js');
      process.exitCode = await dbConnect(s, { db: name, ...opts }, process.env);
    } finally {
      await s.close();
    }
  });

  const proxy = program.command('proxy').description('Run local TLS proxy allowing connecting to Teleport in single-port mode.');
  dbFlags(
    proxy
      .command('db')
      .description(
        'Start a local proxy for a database. It listens on 127.0.0.1 without TLS and authenticates to Teleport with your database certificate ' +
          '(renewed as needed), so any PostgreSQL client connects to it without credentials. This is Teleport\'s --tunnel mode; ' +
          'the local TLS listener Teleport runs without --tunnel is not implemented, so the same tunnel is started either way.',
      )
      .argument('<db>', 'The name of the database to start local proxy for.')
      .option('--tunnel', 'Open authenticated tunnel using database\'s client certificate so clients don\'t need to authenticate (always on).')
      .option('-p, --port <port>', 'Specifies the source port used by proxy db listener.'),
  ).action(async (name: string, opts: { dbUser?: string; dbName?: string; port?: string; tunnel?: boolean }, cmd: Command) => {
    const port = opts.port === undefined ? undefined : Number(opts.port);
    if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) throw new BadParameterError(`invalid --port ${JSON.stringify(opts.port)}`);
    const s = await session(cmd);
    const { proxyDb } = await import('./commands/db.js');
    let running;
    try {
      running = await proxyDb(
        s,
        { db: name, ...(opts.dbUser !== undefined ? { dbUser: opts.dbUser } : {}), ...(opts.dbName !== undefined ? { dbName: opts.dbName } : {}), ...(port !== undefined ? { port } : {}), tunnel: opts.tunnel === true },
        process.env,
      );
    } catch (err) {
      await s.close();
      throw err;
    }
    process.stdout.write(running.banner);
    await new Promise<void>((resolve) => {
      const stop = (): void => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        resolve();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    await running.proxy.close();
    await s.close();
  });
}
