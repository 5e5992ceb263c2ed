/**
 * `tsh db ls|login|logout|env|config|connect` and `tsh proxy db`. The descriptors are light; the database code
 * (`./db.js`: the cluster client, certificates, the local proxy) loads only when one of them runs, and so do the
 * renderers: `render/db.ts` uses the formatters of `db/databases.ts`, which loads core's RBAC, and a static import
 * would put that on every tsh command's start-up (`tsh login` included).
 */

import type { OptionSpec } from '@teleport-ts/core/cli';
import { BadParameterError } from '@teleport-ts/core/errors';
import { FORMAT_OPTION, type CommandGroup, type OutputFormat, type TshCommand } from './context.js';
import type { DbListRow, DbLoginResult, RunningDbProxy } from './db.js';

const db = () => import('./db.js');
const renderers = () => import('../render/db.js');

export const dbGroup: CommandGroup = { name: 'db', help: 'View and control proxied databases.' };
export const proxyGroup: CommandGroup = { name: 'proxy', help: 'Run local TLS proxy allowing connecting to Teleport in single-port mode.' };

interface RouteOptions {
  dbUser?: string;
  dbName?: string;
}

const ROUTE_OPTIONS: readonly OptionSpec[] = [
  { flags: '--db-user <user>', description: 'Database user to configure as default.' },
  { flags: '--db-name <name>', description: 'Database name to configure as default.' },
];

export const dbLsCommand: TshCommand<{ verbose?: boolean; format: OutputFormat }, DbListRow[]> = {
  name: 'db ls',
  help: 'List all available databases.',
  args: [{ name: '[labels]', description: 'List of labels to filter database list (key1=value1,key2=value2).' }],
  options: [{ flags: '-v, --verbose', description: 'Show extra database fields.' }, FORMAT_OPTION],
  handler: async ({ args: [labels], opts }, ctx) => {
    const session = await ctx.dbSession();
    return (await db()).dbList(session, { ...(labels !== undefined ? { labels } : {}), verbose: opts.verbose === true });
  },
  render: async (rows, { opts }) => (await renderers()).renderDbList(rows, { format: opts.format, verbose: opts.verbose === true }),
};

export const dbLoginCommand: TshCommand<RouteOptions, DbLoginResult> = {
  name: 'db login',
  help: 'Retrieve credentials for a database.',
  args: [{ name: '<db>', description: 'Database to retrieve credentials for.' }],
  options: ROUTE_OPTIONS,
  handler: async ({ args, opts }, ctx) => {
    const session = await ctx.dbSession();
    return (await db()).dbLogin(session, { db: args[0]!, ...opts });
  },
  render: async (result) => (await renderers()).renderDbLogin(result),
};

export const dbLogoutCommand: TshCommand<object, string[]> = {
  name: 'db logout',
  help: 'Remove database credentials.',
  args: [{ name: '[db]', description: 'Database to remove credentials for (all when omitted).' }],
  handler: async ({ args }, ctx) => {
    const session = await ctx.dbSession();
    return (await db()).dbLogout(session, args[0]);
  },
  render: async (names) => (await renderers()).renderDbLogout(names),
};

/** `tsh db env` and `tsh db config` always explain why they cannot help (the proxy needs tsh's local proxy). */
function nativeClientInfo(command: 'tsh db env' | 'tsh db config'): TshCommand<object, never>['handler'] {
  return async ({ args }, ctx) => {
    const session = await ctx.dbSession();
    return (await db()).dbNativeClientInfo(session, command, args[0]);
  };
}

export const dbEnvCommand: TshCommand<object, never> = {
  name: 'db env',
  help: 'Print environment variables for the configured database.',
  args: [{ name: '[db]', description: 'Print environment for the specified database.' }],
  options: [FORMAT_OPTION],
  handler: nativeClientInfo('tsh db env'),
  render: () => '',
};

export const dbConfigCommand: TshCommand<object, never> = {
  name: 'db config',
  help: 'Print database connection information. Useful when configuring GUI clients.',
  args: [{ name: '[db]', description: 'Print information for the specified database.' }],
  options: [
    {
      flags: '-f, --format <format>',
      description: 'Print format: "text" to print in table format (default), "cmd" to print the connect command, "json" or "yaml".',
      choices: ['text', 'cmd', 'json', 'yaml'],
      default: 'text',
    },
  ],
  handler: nativeClientInfo('tsh db config'),
  render: () => '',
};

/** Runs the client; the exit code is the client's. */
export const dbConnectCommand: TshCommand<RouteOptions, number> = {
  name: 'db connect',
  help: 'Connect to a database: runs psql (or cockroach sql for CockroachDB when installed) through a local proxy.',
  args: [{ name: '<db>', description: 'Database service name to connect to.' }],
  options: ROUTE_OPTIONS,
  handler: async ({ args, opts }, ctx) => {
    const session = await ctx.dbSession();
    return (await db()).dbConnect(session, { db: args[0]!, ...opts }, ctx.env);
  },
  render: () => '',
  finish: async (exitCode) => {
    process.exitCode = exitCode;
  },
};

function parsePort(text: string | undefined): number | undefined {
  const port = text === undefined ? undefined : Number(text);
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) throw new BadParameterError(`invalid --port ${JSON.stringify(text)}`);
  return port;
}

/** Resolves on the first SIGINT or SIGTERM. */
function interrupted(): Promise<void> {
  return new Promise((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/** Prints the banner, then serves until Ctrl-C. */
export const proxyDbCommand: TshCommand<RouteOptions & { port?: string; tunnel?: boolean }, RunningDbProxy> = {
  name: 'proxy db',
  help:
    'Start a local proxy for a database. It listens on 127.0.0.1 without TLS and authenticates to Teleport with your database certificate ' +
    '(renewed as needed), so any PostgreSQL client connects to it without credentials. This is Teleport\'s --tunnel mode; ' +
    'the local TLS listener Teleport runs without --tunnel is not implemented, so the same tunnel is started either way.',
  args: [{ name: '<db>', description: 'The name of the database to start local proxy for.' }],
  options: [
    { flags: '--tunnel', description: 'Open authenticated tunnel using database\'s client certificate so clients don\'t need to authenticate (always on).' },
    { flags: '-p, --port <port>', description: 'Specifies the source port used by proxy db listener.' },
    ...ROUTE_OPTIONS,
  ],
  handler: async ({ args, opts }, ctx) => {
    const port = parsePort(opts.port);
    const session = await ctx.dbSession();
    const route = { db: args[0]!, ...(opts.dbUser !== undefined ? { dbUser: opts.dbUser } : {}), ...(opts.dbName !== undefined ? { dbName: opts.dbName } : {}) };
    return (await db()).proxyDb(session, { ...route, ...(port !== undefined ? { port } : {}), tunnel: opts.tunnel === true }, ctx.env);
  },
  render: async (running) => (await renderers()).renderProxyBanner(running),
  finish: async (running) => {
    await interrupted();
    await running.proxy.close();
  },
};
