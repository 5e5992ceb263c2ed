/** The output of `tsh db ...` and `tsh proxy db`, in Teleport's words and layouts, from what the handlers return. */

import { asciiTable } from '@teleport-ts/core/cli';
import type { DbListRow, DbLoginResult, RunningDbProxy } from '../commands/db.js';
import { formatActiveDatabase, formatCommand, formatLabels, readableProtocol } from '../db/databases.js';
import { toYaml } from '@teleport-ts/core/profile';

/** Rows of the `tsh db ls` table (Teleport's columns; `-v` adds Protocol, Type, URI). */
export function dbListTable(rows: readonly DbListRow[], verbose: boolean): { headers: string[]; cells: string[][] } {
  const name = (r: DbListRow): string => (r.active ? formatActiveDatabase(r.active) : r.db.name);
  if (verbose) {
    return {
      headers: ['Name', 'Description', 'Protocol', 'Type', 'URI', 'Allowed Users', 'Labels', 'Connect'],
      cells: rows.map((r) => [name(r), r.db.description, r.db.protocol, 'self-hosted', r.db.uri, r.allowedUsers, formatLabels(r.db.labels), r.connectCommand]),
    };
  }
  return {
    headers: ['Name', 'Description', 'Allowed Users', 'Labels', 'Connect'],
    cells: rows.map((r) => [name(r), r.db.description, r.allowedUsers, formatLabels(r.db.labels), r.connectCommand]),
  };
}

/** `tsh db ls`: the table (and a blank line), or the database resources as JSON or YAML. */
export function renderDbList(rows: readonly DbListRow[], options: { format: 'text' | 'json' | 'yaml'; verbose: boolean }): string {
  if (options.format === 'json') return `${JSON.stringify(rows.map((r) => r.resource), null, 2)}\n`;
  if (options.format === 'yaml') return rows.length === 0 ? '[]\n' : toYaml(rows.map((r) => r.resource) as never);
  const table = dbListTable(rows, options.verbose);
  return `${asciiTable(table.headers, table.cells)}\n`;
}

/** `tsh db login`: where the credentials went and how to use them. */
export function renderDbLogin(result: DbLoginResult): string {
  return [
    `Connection information for database "${result.route.serviceName}" has been saved.`,
    '',
    'You can now connect to it using the following command:',
    '',
    `  ${result.connectCommand}`,
    '',
    'You can start a local proxy for database GUI clients:',
    '',
    `  ${result.proxyCommand}`,
    '',
    '',
  ].join('\n');
}

/** `tsh db logout`: one database by name, or all of them. */
export function renderDbLogout(names: readonly string[]): string {
  return names.length === 1 ? `Logged out of database ${names[0]}\n` : 'Logged out of all databases\n';
}

/** `tsh proxy db`: Teleport's "Started authenticated tunnel ..." text. */
export function renderProxyBanner(running: RunningDbProxy): string {
  const { route, proxy } = running;
  return [
    `Started authenticated tunnel for the ${readableProtocol(route.protocol)} database "${route.serviceName}" in cluster "${running.cluster}" on ${proxy.host}:${proxy.port}.`,
    ...(running.portChosen ? [] : ['To avoid port randomization, you can choose the listening port using the --port flag.']),
    '',
    'Use the following command to connect to the database or to the address above using other database GUI/CLI clients:',
    `  $ ${formatCommand(running.command)}`,
    '',
  ].join('\n');
}
