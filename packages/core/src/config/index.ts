import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { BadParameterError, NotFoundError } from '../errors/index.js';
import type { StorageConfig } from '../backend/types.js';

/** Storage types teleport.yaml accepts. */
export const STORAGE_TYPES = ['memory', 'sqlite', 'dir', 'postgres', 'postgresql', 'cockroachdb'] as const;

/** The subset of teleport.yaml (v3) this release reads, validated and with defaults filled. */
export interface FileConfig {
  version: string;
  teleport: {
    nodename?: string;
    data_dir?: string;
    storage?: StorageConfig;
  };
  auth_service?: { enabled?: boolean; listen_addr?: string; cluster_name?: string };
  proxy_service?: { enabled?: boolean; web_listen_addr?: string; public_addr?: string | string[] };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optString(obj: Record<string, unknown>, key: string, where: string): string | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new BadParameterError(`${where}.${key} must be a string`);
  return v;
}

/** Validates a `teleport.storage` block. */
export function parseStorageConfig(raw: unknown): StorageConfig {
  if (!isRecord(raw)) throw new BadParameterError('teleport.storage must be a mapping');
  const where = 'teleport.storage';
  const type = optString(raw, 'type', where) ?? 'sqlite';
  if (!(STORAGE_TYPES as readonly string[]).includes(type)) {
    throw new BadParameterError(`unsupported storage type ${JSON.stringify(type)}`, {
      hint: `use one of: ${STORAGE_TYPES.filter((t) => t !== 'memory').join(', ')}`,
    });
  }
  const out: StorageConfig = { type: type as StorageConfig['type'] };
  const path = optString(raw, 'path', where);
  if (path !== undefined) out.path = path;
  const conn = optString(raw, 'conn_string', where);
  if (conn !== undefined) out.conn_string = conn;
  const feed = optString(raw, 'change_feed_conn_string', where);
  if (feed !== undefined) out.change_feed_conn_string = feed;
  const ttl = optString(raw, 'ttl_job_cron', where);
  if (ttl !== undefined) out.ttl_job_cron = ttl;
  const audit = raw['audit_events_uri'];
  if (audit !== undefined) {
    const list = typeof audit === 'string' ? [audit] : audit;
    if (!Array.isArray(list) || !list.every((x) => typeof x === 'string')) {
      throw new BadParameterError(`${where}.audit_events_uri must be a string or a list of strings`);
    }
    out.audit_events_uri = list;
  }
  const sessions = optString(raw, 'audit_sessions_uri', where);
  if (sessions !== undefined) out.audit_sessions_uri = sessions;
  if ((out.type === 'postgres' || out.type === 'postgresql' || out.type === 'cockroachdb') && !out.conn_string) {
    throw new BadParameterError(`${where}.conn_string is required for storage type ${out.type}`);
  }
  return Object.freeze(out);
}

/** Parses and validates teleport.yaml text. */
export function parseConfig(text: string, source = 'teleport.yaml'): FileConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    const msg = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new BadParameterError(`failed to parse ${source}: ${msg}`);
  }
  if (doc === null || doc === undefined) doc = {};
  if (!isRecord(doc)) throw new BadParameterError(`${source} must be a YAML mapping`);
  const version = doc['version'] ?? 'v3';
  if (version !== 'v3') throw new BadParameterError(`${source}: unsupported config version ${JSON.stringify(version)}, use v3`);
  const teleport = doc['teleport'] ?? {};
  if (!isRecord(teleport)) throw new BadParameterError(`${source}: teleport must be a mapping`);
  const cfg: FileConfig = { version: 'v3', teleport: {} };
  const nodename = optString(teleport, 'nodename', 'teleport');
  if (nodename !== undefined) cfg.teleport.nodename = nodename;
  const dataDir = optString(teleport, 'data_dir', 'teleport');
  if (dataDir !== undefined) cfg.teleport.data_dir = dataDir;
  if (teleport['storage'] !== undefined) cfg.teleport.storage = parseStorageConfig(teleport['storage']);
  if (isRecord(doc['auth_service'])) cfg.auth_service = doc['auth_service'] as FileConfig['auth_service'];
  if (isRecord(doc['proxy_service'])) cfg.proxy_service = doc['proxy_service'] as FileConfig['proxy_service'];
  return cfg;
}

/** Reads and validates a teleport.yaml file. */
export async function loadConfigFile(file: string): Promise<FileConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`config file ${file} does not exist`);
    throw err;
  }
  return parseConfig(text, file);
}
