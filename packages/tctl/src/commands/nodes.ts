/**
 * `tctl nodes ls`: the SSH nodes of the cluster in Teleport's table (`Host UUID Public Address Labels Version`,
 * `⟵ Tunnel` for a node reached over its reverse tunnel), or as `node` resources with `--format=json|yaml`.
 */

import { asciiTable } from '@teleport-ts/core/cli';
import { nodeLabels, nodeToWire, type NodeServer } from '@teleport-ts/core/types';
import type { CommandGroup, TctlCommand } from '../command.js';
import { toJson, toYaml, type PlainValue } from '../render/serialize.js';
import { parseFormat } from './format.js';

const NODES_LS_FORMATS = ['text', 'json', 'yaml'] as const;

/** What `tsh ls` and `tctl nodes ls` show as the address of a node reached over its reverse tunnel. */
const TUNNEL_ADDRESS = '⟵ Tunnel';

function formatLabels(labels: Readonly<Record<string, string>>): string {
  return Object.entries(labels)
    .filter(([k]) => !k.startsWith('teleport.internal/'))
    .map(([k, v]) => `${k}=${v}`)
    .sort()
    .join(',');
}

/** Teleport's server collection table, shared with `tctl get nodes --format=text`. */
export function nodesTable(nodes: readonly NodeServer[]): string {
  return asciiTable(
    ['Host', 'UUID', 'Public Address', 'Labels', 'Version'],
    nodes.map((n) => [n.spec.hostname, n.metadata.name, n.spec.use_tunnel ? TUNNEL_ADDRESS : n.spec.addr, formatLabels(nodeLabels(n)), n.spec.version ?? '']),
  );
}

export const nodesGroup: CommandGroup = { name: 'nodes', help: 'Issue invites for other nodes to join the cluster.' };

/** `tctl nodes ls [--format text|json|yaml]`. */
export const nodesLsCommand: TctlCommand<{ format: string }, NodeServer[]> = {
  name: 'nodes ls',
  help: 'List all active SSH nodes within the cluster.',
  options: [{ flags: '--format <format>', description: `Output format: ${NODES_LS_FORMATS.join(', ')}.`, default: 'text' }],
  handler: async ({ opts }, ctx) => {
    parseFormat(opts.format, NODES_LS_FORMATS, 'text');
    return (await ctx.api()).getNodes();
  },
  render: (nodes, { opts }) => {
    switch (parseFormat(opts.format, NODES_LS_FORMATS, 'text')) {
      case 'json':
        return toJson(nodes.map(nodeToWire));
      case 'yaml':
        return nodes.length === 0 ? '' : toYaml(nodes.map(nodeToWire) as unknown as PlainValue);
      default:
        return nodesTable(nodes);
    }
  },
};
