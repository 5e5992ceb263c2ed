import path from 'node:path';
import { mkdir } from 'node:fs/promises';
import { Command } from 'commander';
import { BadParameterError } from '@teleport-ts/core/errors';
import { loadConfigFile, type FileConfig } from '@teleport-ts/core/config';
import { openBackend, type StorageConfig } from '@teleport-ts/core/backend';

/** Roles `--roles` accepts; those not implemented yet are refused with a clear message. */
const KNOWN_ROLES = ['auth', 'proxy', 'db', 'node'] as const;
const IMPLEMENTED_ROLES: readonly string[] = [];

interface StartOptions {
  config?: string;
  roles?: string;
  dataDir?: string;
}

/** Default data dir: `$TELEPORT_TS_DATA_DIR`, else `./.teleport-ts` (a local dir, so no root is needed). */
function defaultDataDir(): string {
  return process.env['TELEPORT_TS_DATA_DIR'] ?? path.resolve('.teleport-ts');
}

export function startCommand(): Command {
  return new Command('start')
    .description('Starts the Teleport service.')
    .option('-c, --config <path>', 'Path to a configuration file [teleport.yaml].')
    .option('--roles <roles>', 'Comma-separated list of roles to start with [auth,proxy].')
    .option('--data-dir <path>', 'Path to a directory where Teleport keeps its data.')
    .action(async (opts: StartOptions) => {
      await start(opts);
    });
}

async function start(opts: StartOptions): Promise<void> {
  const cfg: FileConfig = opts.config ? await loadConfigFile(opts.config) : { version: 'v3', teleport: {} };
  const roles = (opts.roles ?? 'auth,proxy').split(',').map((r) => r.trim()).filter(Boolean);
  for (const r of roles) {
    if (!(KNOWN_ROLES as readonly string[]).includes(r)) {
      throw new BadParameterError(`unknown role ${JSON.stringify(r)}`, { hint: `roles are: ${KNOWN_ROLES.join(', ')}` });
    }
  }
  const dataDir = path.resolve(opts.dataDir ?? cfg.teleport.data_dir ?? defaultDataDir());
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const storage: StorageConfig = cfg.teleport.storage ?? { type: 'sqlite' };
  const backend = await openBackend({ storage, dataDir });
  const pending = roles.filter((r) => !IMPLEMENTED_ROLES.includes(r));
  process.stdout.write(
    [
      `teleport-ts: storage backend "${backend.kind}" is up (data dir ${dataDir}).`,
      pending.length > 0
        ? `teleport-ts: roles ${pending.join(', ')} are not implemented in this release yet; only the storage layer runs.`
        : '',
      'teleport-ts: press Ctrl-C to stop.',
      '',
    ]
      .filter((l) => l !== '')
      .join('\n') + '\n',
  );
  // Until the roles' listeners exist, nothing else keeps the event loop alive.
  const keepAlive = setInterval(() => {}, 1 << 30);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      clearInterval(keepAlive);
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await backend.close();
  process.stdout.write('teleport-ts: stopped.\n');
}
