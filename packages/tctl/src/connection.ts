/**
 * Where tctl connects and with which identity. On the auth host tctl reads teleport.yaml (`-c`, default
 * `/etc/teleport.yaml` when present) for `teleport.data_dir` and `auth_service.listen_addr`, and uses the admin
 * identity the auth server wrote to `<data_dir>/admin/`. `--auth-server` and `-i/--identity` override.
 */

import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadConfigFile, type FileConfig } from '@teleport-ts/core/config';

/** Teleport's default config path. */
const DEFAULT_CONFIG_PATH = '/etc/teleport.yaml';
/** The auth API's default address. */
const DEFAULT_AUTH_ADDR = '127.0.0.1:3025';
/** Subdirectory of the data dir holding the local admin identity. */
const ADMIN_IDENTITY_DIR = 'admin';

/** Global flags every command accepts. */
export interface GlobalOptions {
  config?: string;
  authServer?: string;
  identity?: string;
  debug?: boolean;
}

/** The resolved connection target. */
export interface ConnectionTarget {
  /** `host:port` of the auth API. */
  addr: string;
  dataDir: string;
  /** The identity: a file from `--identity`, or the data dir's admin identity directory. */
  identity: { kind: 'file'; path: string } | { kind: 'admin-dir'; path: string };
  /** The config file read, if any. */
  configPath?: string;
  /** `host:port` agents reach the auth server at (`auth_service.public_addr`), for join instructions. */
  publicAddr?: string;
}

export interface ResolveEnvironment {
  env: Record<string, string | undefined>;
  cwd: string;
  exists(file: string): boolean;
  loadConfig(file: string): Promise<FileConfig>;
}

const defaultEnvironment = (): ResolveEnvironment => ({
  env: process.env,
  cwd: process.cwd(),
  exists: existsSync,
  loadConfig: loadConfigFile,
});

/** `0.0.0.0:3025` -> `127.0.0.1:3025`, `[::]:3025` -> `[::1]:3025`: a listen address as a dial address. */
export function dialAddress(listenAddr: string): string {
  const trimmed = listenAddr.trim();
  const bracket = /^\[([^\]]*)\](?::(\d+))?$/.exec(trimmed);
  if (bracket) {
    const host = bracket[1] === '::' || bracket[1] === '' ? '::1' : bracket[1]!;
    return `[${host}]:${bracket[2] ?? '3025'}`;
  }
  const i = trimmed.lastIndexOf(':');
  const host = i < 0 ? trimmed : trimmed.slice(0, i);
  const port = i < 0 ? '3025' : trimmed.slice(i + 1) || '3025';
  return `${host === '' || host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
}

/**
 * Resolves the connection target from the global flags, the config file and the environment.
 *
 * @example
 * ```ts
 * const target = await resolveConnection({ config: '/etc/teleport.yaml' });
 * // { addr: '127.0.0.1:3025', dataDir: '/var/lib/teleport', identity: { kind: 'admin-dir', path: '/var/lib/teleport/admin' } }
 * ```
 */
export async function resolveConnection(options: GlobalOptions, environment: ResolveEnvironment = defaultEnvironment()): Promise<ConnectionTarget> {
  let configPath = options.config;
  if (configPath === undefined && environment.exists(DEFAULT_CONFIG_PATH)) configPath = DEFAULT_CONFIG_PATH;
  const config = configPath === undefined ? undefined : await environment.loadConfig(configPath);
  const dataDir = path.resolve(
    environment.cwd,
    config?.teleport.data_dir ?? environment.env['TELEPORT_TS_DATA_DIR'] ?? '.teleport-ts',
  );
  const listen = config?.auth_service?.enabled === false ? undefined : config?.auth_service?.listen_addr;
  const addr = options.authServer ?? (listen ? dialAddress(listen) : DEFAULT_AUTH_ADDR);
  return {
    addr,
    dataDir,
    identity: options.identity
      ? { kind: 'file', path: path.resolve(environment.cwd, options.identity) }
      : { kind: 'admin-dir', path: path.join(dataDir, ADMIN_IDENTITY_DIR) },
    ...(configPath !== undefined ? { configPath } : {}),
    ...(config?.auth_service?.public_addr?.[0] ? { publicAddr: config.auth_service.public_addr[0] } : {}),
  };
}
