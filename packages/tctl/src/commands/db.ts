/**
 * `tctl db ls`: the databases db agents announce, in Teleport's table (`Host Name Protocol URI Labels Version`,
 * sorted by name), or as `db_server` resources with `--format=json|yaml`.
 */

import type { DatabaseServer } from '@teleport-ts/core/api';
import type { TctlApi } from '../api.js';
import type { CommandGroup, TctlCommand } from '../command.js';
import { parseFormat } from './format.js';
import { toJson, toYaml, type PlainValue } from '../render/serialize.js';
import { asciiTable } from '@teleport-ts/core/cli';

const help = {
  db: 'Operate on databases registered with the cluster.',
  ls: 'List all databases registered with the cluster.',
} as const;

const DB_LS_FORMATS = ['text', 'json', 'yaml'] as const;

export type DbApi = Pick<TctlApi, 'getDatabaseServers'>;

/** Every live database server, sorted by database name (then host). */
export async function list(api: DbApi): Promise<DatabaseServer[]> {
  const servers = await api.getDatabaseServers();
  return [...servers].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name) || a.spec.hostname.localeCompare(b.spec.hostname));
}

/** Teleport's `FormatLabels` (not verbose): `k=v` sorted, comma-separated, `teleport.internal/` labels hidden. */
function formatLabels(labels: Readonly<Record<string, string>>): string {
  return Object.entries(labels)
    .filter(([k]) => !k.startsWith('teleport.internal/'))
    .map(([k, v]) => `${k}=${v}`)
    .sort()
    .join(',');
}

export function render(servers: readonly DatabaseServer[], format: (typeof DB_LS_FORMATS)[number] = 'text'): string {
  switch (format) {
    case 'json':
      return toJson(servers);
    case 'yaml':
      return servers.length === 0 ? '' : toYaml(servers as unknown as PlainValue);
    default:
      return asciiTable(
        ['Host', 'Name', 'Protocol', 'URI', 'Labels', 'Version'],
        servers.map((s) => [s.spec.hostname, s.metadata.name, s.spec.database.spec.protocol, s.spec.database.spec.uri, formatLabels(s.spec.database.metadata.labels), s.spec.version]),
      );
  }
}

export const dbGroup: CommandGroup = { name: 'db', help: help.db };

/** `tctl db ls [--format text|json|yaml]`. */
export const dbLsCommand: TctlCommand<{ format: string }, DatabaseServer[]> = {
  name: 'db ls',
  help: help.ls,
  options: [{ flags: '--format <format>', description: `Output format: ${DB_LS_FORMATS.join(', ')}.`, default: 'text' }],
  handler: async ({ opts }, ctx) => {
    parseFormat(opts.format, DB_LS_FORMATS, 'text');
    return list(await ctx.api());
  },
  render: (servers, { opts }) => render(servers, parseFormat(opts.format, DB_LS_FORMATS, 'text')),
};
