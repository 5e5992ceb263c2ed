/**
 * `teleport-ts db start` (one database from flags, Teleport's `teleport db start`) and `teleport-ts db configure
 * create` (a teleport.yaml for a database agent, Teleport's `teleport db configure create`).
 */

import { hostname } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { stringify } from 'yaml';
import { parseConfig } from '@teleport-ts/core/config';
import { writeGeneratedConfig } from '../../configure.js';
import { defaultDataDir, parseLabels, runStart } from '../../start.js';
import { databaseFromFlags } from './config.js';

/** Flags of `db start` and `db configure create` (Teleport's names). */
export interface DbCommandFlags {
  config?: string;
  name?: string;
  description?: string;
  protocol?: string;
  uri?: string;
  labels?: string;
  caCertFile?: string;
  token?: string;
  authServer?: string;
  proxy?: string;
  caPin?: string[];
  dataDir?: string;
  nodename?: string;
  diagAddr?: string;
  output?: string;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/**
 * The teleport.yaml of a database agent: only `db_service` enabled, joining `authServer` (the auth server or a
 * proxy) with the token and CA pin, serving the database the flags describe.
 *
 * @example
 * ```ts
 * databaseAgentConfig({ name: 'orders', protocol: 'postgres', uri: 'localhost:5432', token: '/tmp/token', authServer: 'proxy.example.com:3080' });
 * ```
 */
export function databaseAgentConfig(flags: DbCommandFlags): string {
  const database = databaseFromFlags({
    ...(flags.name !== undefined ? { name: flags.name } : {}),
    ...(flags.protocol !== undefined ? { protocol: flags.protocol } : {}),
    ...(flags.uri !== undefined ? { uri: flags.uri } : {}),
    ...(flags.description !== undefined ? { description: flags.description } : {}),
    ...(flags.caCertFile !== undefined ? { caCertFile: path.resolve(flags.caCertFile) } : {}),
    ...(flags.labels !== undefined ? { labels: parseLabels(flags.labels) } : {}),
  });
  const authServer = flags.authServer ?? flags.proxy;
  const doc = {
    version: 'v3',
    teleport: {
      nodename: flags.nodename ?? hostname(),
      data_dir: path.resolve(flags.dataDir ?? defaultDataDir()),
      ...(flags.token !== undefined ? { auth_token: flags.token } : {}),
      ...(authServer !== undefined ? { auth_server: authServer } : {}),
      ...(flags.caPin !== undefined && flags.caPin.length > 0 ? { ca_pin: flags.caPin } : {}),
      log: { output: 'stderr', severity: 'INFO', format: { output: 'text' } },
    },
    auth_service: { enabled: 'no' },
    proxy_service: { enabled: 'no' },
    ssh_service: { enabled: 'no' },
    db_service: { enabled: 'yes', databases: database ? [database] : [] },
  };
  const text = `# teleport-ts database agent configuration (Teleport's teleport.yaml v3 keys).\n${stringify(doc)}`;
  // What we write must be what `start -c` reads.
  parseConfig(text, 'database agent configuration');
  return text;
}

/** `db configure create`: the config on stdout, or written to `-o` (never replacing a file). Returns what to print. */
export async function configureDatabaseAgent(flags: DbCommandFlags): Promise<string> {
  const text = databaseAgentConfig(flags);
  const file = await writeGeneratedConfig(text, flags.output);
  if (file === undefined) return text;
  return `Database agent configuration has been written to "${file}".\nStart it with: teleport-ts start -c ${file}\n`;
}

export function dbCommand(): Command {
  const db = new Command('db').description('Database service.');
  db.command('start')
    .description('Start database service agent.')
    .option('-c, --config <path>', 'Path to a configuration file [teleport.yaml].')
    .option('--name <name>', 'Name of the proxied database.')
    .option('--description <text>', 'Description of the proxied database.')
    .option('--protocol <protocol>', 'Proxied database protocol. Supported are: [postgres cockroachdb].')
    .option('--uri <uri>', 'Address the proxied database is reachable at.')
    .option('--labels <labels>', 'Comma-separated list of labels for the database, for example env=dev,dept=it')
    .option('--ca-cert-file <path>', 'Database CA certificate path.')
    .option('--token <token>', 'Invitation token or path to file with token value to register with an auth server.')
    .option('--auth-server <addr>', 'Address of the auth server or proxy [127.0.0.1:3025].')
    .option('--ca-pin <pin>', 'CA pin to validate the auth server (can be repeated for multiple pins).', collect)
    .option('--data-dir <path>', 'Path to a directory where Teleport keeps its data.')
    .option('--nodename <name>', 'Name of this node, defaults to hostname.')
    .option('--diag-addr <addr>', 'Start diagnostic prometheus and healthz endpoint.')
    .action(async (flags: DbCommandFlags, cmd: Command) => {
      await runStart({
        roles: 'db',
        ...(flags.config !== undefined ? { config: flags.config } : {}),
        ...(flags.name !== undefined ? { dbName: flags.name } : {}),
        ...(flags.description !== undefined ? { dbDescription: flags.description } : {}),
        ...(flags.protocol !== undefined ? { dbProtocol: flags.protocol } : {}),
        ...(flags.uri !== undefined ? { dbUri: flags.uri } : {}),
        ...(flags.labels !== undefined ? { labels: flags.labels } : {}),
        ...(flags.caCertFile !== undefined ? { dbCaCertFile: flags.caCertFile } : {}),
        ...(flags.token !== undefined ? { token: flags.token } : {}),
        ...(flags.authServer !== undefined ? { authServer: flags.authServer } : {}),
        ...(flags.caPin !== undefined ? { caPin: flags.caPin } : {}),
        ...(flags.dataDir !== undefined ? { dataDir: flags.dataDir } : {}),
        ...(flags.nodename !== undefined ? { nodename: flags.nodename } : {}),
        ...(flags.diagAddr !== undefined ? { diagAddr: flags.diagAddr } : {}),
        debug: cmd.optsWithGlobals()['debug'] === true,
      });
    });
  const configure = db.command('configure').description('Bootstraps database service configuration.');
  configure
    .command('create')
    .description('Creates a sample Database Service configuration.')
    .option('--proxy <addr>', 'Teleport proxy address to connect to [0.0.0.0:3080].')
    .option('--auth-server <addr>', 'Address of the auth server or proxy (same as --proxy).')
    .option('--token <token>', 'Invitation token or path to file with token value to register with an auth server.')
    .option('--ca-pin <pin>', 'CA pin to validate the auth server (can be repeated for multiple pins).', collect)
    .option('--name <name>', 'Name of the proxied database.')
    .option('--description <text>', 'Description of the proxied database.')
    .option('--protocol <protocol>', 'Proxied database protocol. Supported are: [postgres cockroachdb].')
    .option('--uri <uri>', 'Address the proxied database is reachable at.')
    .option('--labels <labels>', 'Comma-separated list of labels for the database, for example env=dev,dept=it')
    .option('--ca-cert-file <path>', 'Database CA certificate path.')
    .option('--data-dir <path>', 'Path to a directory where Teleport keeps its data.')
    .option('--nodename <name>', 'Name of this node, defaults to hostname.')
    .option('-o, --output <output>', 'Write to stdout with "-o stdout" (default), or to a file with "-o file:///path".')
    .action(async (flags: DbCommandFlags) => {
      process.stdout.write(await configureDatabaseAgent(flags));
    });
  return db;
}
