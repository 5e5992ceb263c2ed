import { writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { stringify } from 'yaml';
import { AlreadyExistsError, BadParameterError } from '@teleport-ts/core/errors';
import { DEFAULT_AUTH_LISTEN_ADDR, DEFAULT_PROXY_WEB_LISTEN_ADDR, parseConfig } from '@teleport-ts/core/config';
import { defaultDataDir } from './start.js';

export interface ConfigureFlags {
  output?: string;
  clusterName?: string;
  dataDir?: string;
  publicAddr?: string;
  nodename?: string;
}

/** A starter teleport.yaml (v3): auth and proxy on sqlite, OTP second factor, text logs to stderr. */
export function starterConfig(flags: ConfigureFlags): string {
  const nodename = flags.nodename ?? hostname();
  const doc = {
    version: 'v3',
    teleport: {
      nodename,
      data_dir: path.resolve(flags.dataDir ?? defaultDataDir()),
      log: { output: 'stderr', severity: 'INFO', format: { output: 'text' } },
      storage: { type: 'sqlite' },
    },
    auth_service: {
      enabled: 'yes',
      listen_addr: DEFAULT_AUTH_LISTEN_ADDR,
      cluster_name: flags.clusterName ?? nodename,
      authentication: { type: 'local', second_factor: 'otp' },
    },
    proxy_service: {
      enabled: 'yes',
      web_listen_addr: DEFAULT_PROXY_WEB_LISTEN_ADDR,
      public_addr: flags.publicAddr ?? `${nodename}:3080`,
    },
    ssh_service: { enabled: 'no' },
  };
  const text = `# teleport-ts configuration (Teleport's teleport.yaml v3 keys).\n${stringify(doc)}`;
  // What we write must be what `start -c` reads.
  parseConfig(text, 'starter configuration');
  return text;
}

/** `-o`: `file:///path` or a plain path; `stdout` (the default) prints. */
function outputPath(output: string | undefined): string | undefined {
  if (output === undefined || output === '' || output === 'stdout') return undefined;
  if (output.startsWith('file://')) {
    try {
      return fileURLToPath(output);
    } catch {
      throw new BadParameterError(`invalid output ${JSON.stringify(output)}`, { hint: 'use -o file:///etc/teleport.yaml' });
    }
  }
  if (output.includes('://')) throw new BadParameterError(`unsupported output ${JSON.stringify(output)}`, { hint: 'use -o file:///path or -o stdout' });
  return path.resolve(output);
}

/**
 * Writes a generated config to `-o` (owner-only, never replacing an existing file). Returns the file written, or
 * `undefined` when the output is stdout (the caller prints `text`).
 */
export async function writeGeneratedConfig(text: string, output: string | undefined): Promise<string | undefined> {
  const file = outputPath(output);
  if (file === undefined) return undefined;
  try {
    await writeFile(file, text, { flag: 'wx', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new AlreadyExistsError(`${file} already exists`, { hint: 'remove it first, or write elsewhere with -o file:///path' });
    }
    throw err;
  }
  return file;
}

/**
 * Writes the starter config to the output (refusing to replace an existing file) and returns what to
 * print.
 */
export async function configure(flags: ConfigureFlags): Promise<string> {
  const text = starterConfig(flags);
  const file = await writeGeneratedConfig(text, flags.output);
  if (file === undefined) return text;
  return `A teleport-ts configuration file has been created at "${file}".\nStart with: teleport-ts start -c ${file}\n`;
}

export function configureCommand(): Command {
  return new Command('configure')
    .description('Generate a simple config file to get started.')
    .option('-o, --output <output>', 'Write to stdout with "-o stdout" (default), or to a file with "-o file:///path".')
    .option('--cluster-name <name>', 'Unique cluster name, defaults to the node name.')
    .option('--data-dir <path>', 'Path to a directory where Teleport keeps its data.')
    .option('--public-addr <addr>', 'The hostport that the proxy advertises for the web endpoint.')
    .option('--nodename <name>', 'Name of this node, defaults to hostname.')
    .action(async (flags: ConfigureFlags) => {
      process.stdout.write(await configure(flags));
    });
}
