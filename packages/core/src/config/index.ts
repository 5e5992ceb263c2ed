/**
 * teleport.yaml (v3): read once at the edge, checked by the valibot schemas of `./schema.ts`, with defaults filled.
 * Unknown keys are refused with their path, line and the closest known key, before anything is created on disk.
 */

import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument } from 'yaml';
import { BadParameterError, NotFoundError } from '../errors/index.js';
import { parseWith } from '../schema/index.js';
import { MAX_YAML_NESTING, yamlTooDeepAt } from '../types/yaml-depth.js';
import { FileConfigSchema } from './schema.js';
import type { FileConfig } from './types.js';
import { describeUnknownKey, findUnknownKey } from './unknown-keys.js';

export * from './types.js';
export { parseHostPort } from './address.js';
export { parseDatabaseConfig, parseLogConfig, parseStaticToken, parseStorageConfig } from './schema.js';

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** The YAML document: parsed, its unknown keys refused with their line. */
function readDocument(text: string, source: string): unknown {
  const deepAt = yamlTooDeepAt(text);
  if (deepAt !== undefined) throw new BadParameterError(`failed to parse ${source}: nested deeper than ${MAX_YAML_NESTING} levels at line ${deepAt}`);
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, logLevel: 'error' }); // no library warnings on stderr
  const syntax = doc.errors[0];
  if (syntax) throw new BadParameterError(`failed to parse ${source}: ${syntax.message.split('\n')[0]}`);
  const unknown = findUnknownKey(doc, lines, FileConfigSchema);
  if (unknown) throw new BadParameterError(`${source}: ${describeUnknownKey(unknown)}`);
  try {
    return doc.toJS();
  } catch (err) {
    throw new BadParameterError(`failed to parse ${source}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
  }
}

/**
 * Parses and validates teleport.yaml text: a {@link BadParameterError} of one line names the key that is wrong
 * (`auth_service.listen_addr: invalid address ...`, `teleport.yaml: unknown key "auth_servic" at line 7; did you mean
 * "auth_service"?`).
 *
 * @example
 * ```ts
 * const cfg = parseConfig('teleport:\n  data_dir: /var/lib/teleport\n', '/etc/teleport.yaml');
 * cfg.teleport.data_dir; // '/var/lib/teleport'
 * ```
 */
export function parseConfig(text: string, source = 'teleport.yaml'): FileConfig {
  const doc = readDocument(text, source) ?? {};
  if (!isRecord(doc)) throw new BadParameterError(`${source} must be a YAML mapping`);
  const version = doc['version'] ?? 'v3';
  if (version !== 'v3') throw new BadParameterError(`${source}: unsupported config version ${JSON.stringify(version)}, use v3`);
  for (const key of ['teleport', 'auth_service', 'proxy_service', 'db_service', 'ssh_service']) {
    const section = doc[key];
    if (section !== undefined && section !== null && !isRecord(section)) throw new BadParameterError(`${source}: ${key} must be a mapping`);
  }
  return parseWith(FileConfigSchema, doc, { at: '' });
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
