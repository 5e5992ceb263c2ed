import { readFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { configureCommander } from '@teleport-ts/core/cli';
import { NotFoundError } from '@teleport-ts/core/errors';
import { resourceFromYaml } from '@teleport-ts/core/types';
import { versionLine } from '@teleport-ts/core/version';
import * as auditCmd from './commands/audit.js';
import * as exportCmd from './commands/auth-export.js';
import * as rotateCmd from './commands/auth-rotate.js';
import * as signCmd from './commands/auth-sign.js';
import * as dbCmd from './commands/db.js';
import { parseFormat, OUTPUT_FORMATS } from './commands/format.js';
import { collect } from './commands/lists.js';
import * as lockCmd from './commands/lock.js';
import * as resources from './commands/resources.js';
import * as statusCmd from './commands/status.js';
import * as tokens from './commands/tokens.js';
import * as users from './commands/users.js';
import { connectAuth, type ConnectedApi } from './connect.js';
import type { GlobalOptions } from './connection.js';
import { writeOutputFiles } from './files.js';

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

async function readResourceFile(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`file ${file} does not exist`);
    throw err;
  }
}

const defaultDependencies = (): ProgramDependencies => ({
  connect: connectAuth,
  stdout: (chunk) => {
    process.stdout.write(chunk);
  },
  now: () => new Date(),
  readStdin: readAllStdin,
});

/** The `tctl` command tree. */
export function buildProgram(overrides: Partial<ProgramDependencies> = {}): Command {
  const deps: ProgramDependencies = { ...defaultDependencies(), ...overrides };
  const program = configureCommander(new Command('tctl').description('Admin tool for the Teleport Access Platform'));
  program
    .option('-c, --config <path>', 'Path to a configuration file [/etc/teleport.yaml] for an Auth Service.')
    .option('--auth-server <host:port>', 'Attempts to connect to specific auth/proxy address(es) instead of local auth [127.0.0.1:3025].')
    .option('-i, --identity <path>', 'Path to an identity file. Must be provided to make remote connections to auth.');

  /**
   * Runs a command against the auth server: check the input, connect, compute, print, close. Bad input fails
   * before any connection, so it never depends on the server being up and never half-creates anything.
   */
  const withApi =
    <A extends unknown[]>(fn: (api: ConnectedApi, ...args: A) => Promise<string | Uint8Array>, check?: (...args: A) => void) =>
    async (...args: A): Promise<void> => {
      check?.(...args);
      const command = args[args.length - 1] as Command;
      const api = await deps.connect(command.optsWithGlobals<GlobalOptions>());
      try {
        deps.stdout(await fn(api, ...args));
      } finally {
        await api.close();
      }
    };

  program
    .command('version')
    .description('Print the version of your tctl binary.')
    .action(() => {
      deps.stdout(`${versionLine()}\n`);
    });

  // ---- status ----------------------------------------------------------------------------------------
  program
    .command(statusCmd.name)
    .description(statusCmd.help)
    .option('--format <format>', `Output format: ${OUTPUT_FORMATS.join(', ')}.`, 'text')
    .action(
      withApi(async (api, opts: { format: string }, command: Command) => {
        const format = parseFormat(opts.format, OUTPUT_FORMATS, 'text');
        const debug = command.optsWithGlobals<GlobalOptions>().debug === true;
        return statusCmd.render(await statusCmd.handler(api), { format, debug });
      }, (opts: { format: string }, _command: Command) => void parseFormat(opts.format, OUTPUT_FORMATS, 'text')),
    );

  // ---- auth ------------------------------------------------------------------------------------------
  const auth = program.command('auth').description('Operations with user and host certificate authorities (CAs).');
  auth
    .command('export')
    .description(exportCmd.help)
    .option('--type <type>', `Export certificate type: ${exportCmd.EXPORT_TYPES.join(', ')}.`)
    .option('-o, --out <path>', 'If set, writes the exported authority to this file instead of stdout.')
    .action(
      withApi(async (api, opts: { type?: string; out?: string }) => {
        const result = await exportCmd.handler(api, { ...(opts.type !== undefined ? { type: opts.type } : {}) });
        if (opts.out) {
          await writeOutputFiles([{ path: opts.out, data: exportCmd.render(result, { toFile: true }), mode: 0o644 }], { overwrite: true });
          return '';
        }
        return exportCmd.render(result, { toFile: false });
      }, (opts: { type?: string }) => void exportCmd.parseType(opts.type)),
    );
  auth
    .command('sign')
    .description(signCmd.help)
    .option('--user <user>', 'Teleport user name.')
    .option('--host <hosts>', 'Teleport host name(s), comma-separated.')
    .option('-o, --out <path>', 'Identity output.')
    .option('--format <format>', `Identity format: ${signCmd.SIGN_FORMATS.join(', ')}. file is the default.`, 'file')
    .option('--ttl <duration>', 'TTL (time to live) for the generated certificate.', signCmd.DEFAULT_SIGN_TTL)
    .option('--overwrite', 'Whether to overwrite existing destination files.', false)
    .action(
      withApi(
        async (api, opts: signCmd.SignOptions) => signCmd.render(await signCmd.handler(api, opts)),
        (opts: signCmd.SignOptions) => void signCmd.checkOptions(opts),
      ),
    );
  auth
    .command('rotate')
    .description(rotateCmd.help)
    .option('--manual', 'Activate manual rotation, set rotation phases manually.', false)
    .option('--type <type>', `Certificate authority to rotate, one of: ${rotateCmd.ROTATE_TYPES.join(', ')}.`)
    .option('--phase <phase>', `Target rotation phase to set, used in manual rotation, one of: ${rotateCmd.PHASES.join(', ')}.`)
    .option('--grace-period <duration>', 'Grace period keeps previous certificate authorities signatures valid.', rotateCmd.DEFAULT_GRACE_PERIOD)
    .action(
      withApi(
        async (api, opts: rotateCmd.RotateOptions) => rotateCmd.render(await rotateCmd.handler(api, opts)),
        (opts: rotateCmd.RotateOptions) => void rotateCmd.checkOptions(opts),
      ),
    );

  // ---- users -----------------------------------------------------------------------------------------
  const usersGroup = program.command('users').description(users.help.users);
  usersGroup
    .command('add')
    .description(users.help.add)
    .argument('<account>', 'Teleport user account name.')
    .option('--roles <roles>', 'List of roles for the new user to assume.', collect)
    .option('--logins <logins>', 'List of allowed SSH logins for the new user.', collect)
    .option('--db-users <users>', 'List of allowed database users for the new user.', collect)
    .option('--db-names <names>', 'List of allowed database names for the new user.', collect)
    .option('--ttl <duration>', 'Set expiration time for token, default is 1h0m0s, maximum is 48h0m0s.', users.SIGNUP_TOKEN_TTL)
    .addOption(new Option('--format <format>', "Output format, 'text' or 'json'.").hideHelp())
    .action(
      withApi(
        async (api, account: string, opts: users.AddOptions) => users.renderAdd(await users.add(api, account, opts, deps.now), opts.format),
        (_account: string, opts: users.AddOptions) => void users.checkAdd(opts),
      ),
    );
  usersGroup
    .command('ls')
    .description(users.help.ls)
    .addOption(new Option('--format <format>', "Output format, 'text' or 'json'.").hideHelp())
    .action(withApi(async (api, opts: { format?: string }) => users.renderList(await users.list(api), opts.format)));
  usersGroup
    .command('rm')
    .alias('del')
    .description(users.help.rm)
    .argument('<logins>', 'Comma-separated list of user logins to delete.')
    .action(withApi(async (api, logins: string) => users.renderRemove(await users.remove(api, logins))));
  usersGroup
    .command('reset')
    .description(users.help.reset)
    .argument('<account>', 'Teleport user account name.')
    .option('--ttl <duration>', 'Set expiration time for token, default is 8h0m0s, maximum is 24h0m0s.', users.RESET_TOKEN_TTL)
    .addOption(new Option('--format <format>', "Output format, 'text' or 'json'.").hideHelp())
    .action(
      withApi(
        async (api, account: string, opts: { ttl?: string; format?: string }) =>
          users.renderReset(await users.reset(api, account, opts, deps.now), opts.format),
        (_account: string, opts: { ttl?: string }) => void users.checkReset(opts),
      ),
    );
  usersGroup
    .command('update')
    .description(users.help.update)
    .argument('<account>', 'Teleport user account name.')
    .option('--set-roles <roles>', 'List of roles for the user to assume, replaces current roles.', collect)
    .option('--set-logins <logins>', 'List of allowed SSH logins for the user, replaces current logins.', collect)
    .option('--set-db-users <users>', 'List of allowed database users for the user, replaces current database users.', collect)
    .option('--set-db-names <names>', 'List of allowed database names for the user, replaces current database names.', collect)
    .action(
      withApi(
        async (api, account: string, opts: users.UpdateOptions) => users.renderUpdate(await users.update(api, account, opts)),
        (_account: string, opts: users.UpdateOptions) => users.checkUpdate(opts),
      ),
    );

  // ---- db --------------------------------------------------------------------------------------------
  program
    .command('db')
    .description(dbCmd.help.db)
    .command('ls')
    .description(dbCmd.help.ls)
    .option('--format <format>', `Output format: ${dbCmd.DB_LS_FORMATS.join(', ')}.`, 'text')
    .action(
      withApi(
        async (api, opts: { format: string }) => dbCmd.render(await dbCmd.list(api), parseFormat(opts.format, dbCmd.DB_LS_FORMATS, 'text')),
        (opts: { format: string }) => void parseFormat(opts.format, dbCmd.DB_LS_FORMATS, 'text'),
      ),
    );

  // ---- tokens ----------------------------------------------------------------------------------------
  const tokensGroup = program.command('tokens').description(tokens.help.tokens);
  tokensGroup
    .command('add')
    .description(tokens.help.add)
    .option('--type <types>', 'Type(s) of token to add, e.g. --type=node,db.')
    .option('--value <token>', 'Override the default random generated token with a specified value.')
    .option('--labels <labels>', 'Set token labels, e.g. env=prod,region=us-west.')
    .option('--ttl <duration>', 'Set expiration time for token, default is 30 minutes.', tokens.DEFAULT_TOKEN_TTL)
    .option('--db-name <name>', 'Name of the database to add.')
    .option('--db-protocol <protocol>', 'Database protocol to use: postgres, cockroachdb.')
    .option('--db-uri <uri>', 'Address the database is reachable at.')
    .option('--format <format>', "Output format, 'text', 'json', or 'yaml'.")
    .action(
      withApi(async (api, opts: tokens.AddOptions) => {
        const format = opts.format === undefined ? undefined : parseFormat(opts.format, tokens.TOKEN_FORMATS, 'text');
        return tokens.renderAdd(await tokens.add(api, opts, deps.now, api.joinAddr), format);
      }, (opts: tokens.AddOptions) => {
        tokens.checkAdd(opts);
        if (opts.format !== undefined) parseFormat(opts.format, tokens.TOKEN_FORMATS, 'text');
      }),
    );
  tokensGroup
    .command('ls')
    .description(tokens.help.ls)
    .option('--format <format>', "Output format, 'text', 'json' or 'yaml'.")
    .option('--with-secrets', 'Do not redact join tokens.', false)
    .option('--labels <labels>', 'List of comma separated labels to filter by labels (e.g. key1=value1,key2=value2).')
    .action(
      withApi(async (api, opts: tokens.ListOptions) => {
        const format = opts.format === undefined ? undefined : parseFormat(opts.format, tokens.TOKEN_FORMATS, 'text');
        return tokens.renderList(await tokens.list(api, opts), { ...opts, ...(format ? { format } : {}), now: deps.now() });
      }, (opts: tokens.ListOptions) => {
        tokens.parseLabels(opts.labels);
        if (opts.format !== undefined) parseFormat(opts.format, tokens.TOKEN_FORMATS, 'text');
      }),
    );
  tokensGroup
    .command('rm')
    .alias('del')
    .description(tokens.help.rm)
    .argument('[token]', 'Token to delete.')
    .action(withApi(async (api, token: string | undefined) => tokens.renderRemove(await tokens.remove(api, token))));

  // ---- resources -------------------------------------------------------------------------------------
  program
    .command('get')
    .description(resources.help.get)
    .argument('<resources>', 'Resource spec: type/[name][,...]')
    .option('--format <format>', `Output format: ${OUTPUT_FORMATS.join(', ')}.`, 'yaml')
    .action(
      withApi(async (api, spec: string, opts: { format: string }) => {
        const format = parseFormat(opts.format, OUTPUT_FORMATS, 'yaml');
        return resources.renderGet(await resources.get(api, resources.parseRefs(spec)), { format, now: deps.now() });
      }, (spec: string, opts: { format: string }) => {
        resources.parseRefs(spec);
        parseFormat(opts.format, OUTPUT_FORMATS, 'yaml');
      }),
    );
  program
    .command('create')
    .description(resources.help.create)
    .argument('[filename]', 'Resource definition file, empty for stdin.')
    .option('-f, --force', 'Overwrite the resource if already exists.', false)
    .action(async (filename: string | undefined, opts: { force: boolean }, command: Command) => {
      // Read and parse before connecting, so bad input fails fast and never half-creates anything.
      const text = filename && filename !== '-' ? await readResourceFile(filename) : await deps.readStdin();
      resourceFromYaml(text);
      await withApi(async (api, _command: Command) => resources.renderCreate(await resources.create(api, text, opts, deps.now)))(command);
    });
  program
    .command('rm')
    .alias('del')
    .description(resources.help.rm)
    .argument('<resource>', 'Resource to delete: type/name.')
    .action(
      withApi(
        async (api, spec: string) => resources.renderRemove(await resources.remove(api, resources.parseRef(spec))),
        (spec: string) => resources.checkRemove(resources.parseRef(spec)),
      ),
    );

  // ---- lock ----------------------------------------------------------------------------------------
  const lockCommand = program.command('lock').description(lockCmd.help);
  for (const { flag, value, description } of lockCmd.TARGET_FLAGS) lockCommand.option(`${flag} <${value}>`, description);
  lockCommand
    .option('--message <message>', 'Message to display to locked-out users.')
    .option('--expires <time>', 'Time point (RFC3339) when the lock expires.')
    .option('--ttl <duration>', 'Time duration after which the lock expires.');
  for (const { flag } of lockCmd.UNSUPPORTED_TARGET_FLAGS) lockCommand.addOption(new Option(`${flag} <value>`).hideHelp());
  lockCommand.action(
    withApi(
      async (api, opts: lockCmd.LockOptions) => lockCmd.render(await lockCmd.lock(api, opts, deps.now)),
      (opts: lockCmd.LockOptions) => void lockCmd.checkLock(opts, deps.now()),
    ),
  );

  // ---- audit -----------------------------------------------------------------------------------------
  program
    .command('audit')
    .description(auditCmd.help.audit)
    .command('events')
    .description(auditCmd.help.events)
    .option('--from <time>', 'Start of the range: a date, an RFC 3339 time, or a duration ago such as 2h.', auditCmd.DEFAULT_WINDOW)
    .option('--to <time>', 'End of the range, default now.')
    .option('--type <types>', 'Event types to list, e.g. user.create,user.login.', collect)
    .option('--limit <n>', 'Maximum number of events.', String(auditCmd.DEFAULT_LIMIT))
    .option('--order <order>', 'asc or desc.', 'asc')
    .option('--format <format>', "Output format, 'text' or 'json'.", 'text')
    .action(
      withApi(async (api, opts: auditCmd.EventsOptions) => {
        const format = parseFormat(opts.format, ['text', 'json'] as const, 'text');
        return auditCmd.render(await auditCmd.events(api, opts, deps.now()), format);
      }, (opts: auditCmd.EventsOptions) => {
        auditCmd.checkOptions(opts, deps.now());
        parseFormat(opts.format, ['text', 'json'] as const, 'text');
      }),
    );

  return program;
}
