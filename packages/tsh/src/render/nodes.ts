/** `tsh ls`: which nodes to show and Teleport's output for them (loaded only when `tsh ls` runs). */

import { asciiTable } from '@teleport-ts/core/cli';
import { BadParameterError } from '@teleport-ts/core/errors';
import { toYaml } from '@teleport-ts/core/profile';
import { compareNodes, nodeLabels, nodeToWire, type NodeServer } from '@teleport-ts/core/types';
import type { OutputFormat } from '../commands/context.js';

const TUNNEL_ADDRESS = '⟵ Tunnel';

/** `env=dev,team=web` as a filter (every label must match). */
function parseLabelFilter(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (text ?? '').split(',')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0) throw new BadParameterError(`invalid label spec ${JSON.stringify(part.slice(0, 64))}`, { hint: 'use key1=value1,key2=value2' });
    out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}

/** Teleport's search: every keyword (comma-separated) appears, case-insensitively, in the hostname, UUID, address or a label. */
function matchesSearch(node: NodeServer, search: string | undefined): boolean {
  const keywords = (search ?? '').split(/[,\s]+/).map((k) => k.toLowerCase()).filter((k) => k !== '');
  const fields = [node.spec.hostname, node.metadata.name, node.spec.addr, ...Object.entries(nodeLabels(node)).flat()].map((f) => f.toLowerCase());
  return keywords.every((k) => fields.some((f) => f.includes(k)));
}

/** The nodes to show, by hostname (the filters cost nothing when none is given: `tsh ls` on 10,000 nodes). */
export function filterNodes(nodes: readonly NodeServer[], options: { labels?: string; search?: string }): NodeServer[] {
  const wanted = Object.entries(parseLabelFilter(options.labels));
  const searching = (options.search ?? '').trim() !== '';
  const shown = wanted.length === 0 && !searching
    ? [...nodes]
    : nodes.filter((n) => {
        const labels = nodeLabels(n);
        return wanted.every(([k, v]) => labels[k] === v) && matchesSearch(n, options.search);
      });
  return shown.sort(compareNodes);
}

/** `k=v,...` by key, without `teleport.internal/` labels (a plain loop: it runs once per node, 5,000 times in `tsh ls`). */
function labelsText(node: NodeServer): string {
  const labels = node.spec.cmd_labels === undefined ? node.metadata.labels ?? {} : nodeLabels(node);
  const parts: string[] = [];
  for (const k in labels) if (!k.startsWith('teleport.internal/')) parts.push(`${k}=${labels[k]}`);
  if (parts.length > 1) parts.sort();
  return parts.join(',');
}

/** Teleport's `tsh ls` output in each format. */
export function renderNodes(nodes: readonly NodeServer[], options: { format: OutputFormat; verbose: boolean }): string {
  if (options.format === 'json') return `${JSON.stringify(nodes.map(nodeToWire), null, 2)}\n`;
  if (options.format === 'yaml') return nodes.length === 0 ? '[]\n' : toYaml(nodes.map(nodeToWire) as never);
  const address = (n: NodeServer): string => (n.spec.use_tunnel ? TUNNEL_ADDRESS : n.spec.addr);
  if (options.verbose) {
    return `${asciiTable(['Node Name', 'Node ID', 'Address', 'Labels'], nodes.map((n) => [n.spec.hostname, n.metadata.name, address(n), labelsText(n)]))}\n`;
  }
  return `${asciiTable(['Node Name', 'Address', 'Labels'], nodes.map((n) => [n.spec.hostname, address(n), labelsText(n)]))}\n`;
}

