/**
 * `tsh ls [labels] [--search keywords] [-v] [--format text|json|yaml]`: the SSH nodes the user may see, through the
 * proxy's `teleport-auth` passthrough with the user's own certificate (as `tsh db ls`), in Teleport's table
 * (`Node Name`, `Address` — `⟵ Tunnel` for a node reached over its reverse tunnel —, `Labels`; `-v` adds `Node ID`).
 */

import type { NodeServer } from '@teleport-ts/core/types';
import { FORMAT_OPTION, type OutputFormat, type TshCommand } from './context.js';

const nodes = () => import('../render/nodes.js');

interface LsOptions {
  verbose?: boolean;
  search?: string;
  format: OutputFormat;
}

export const lsCommand: TshCommand<LsOptions, NodeServer[]> = {
  name: 'ls',
  help: 'List remote SSH nodes.',
  args: [{ name: '[labels]', description: 'List of labels to filter node list (key1=value1,key2=value2).' }],
  options: [
    { flags: '-v, --verbose', description: 'One-line output (for text format), including node UUIDs.' },
    { flags: '--search <keywords>', description: 'List of comma separated search keywords or phrases enclosed in quotations (e.g. --search=foo,bar,"some phrase").' },
    FORMAT_OPTION,
  ],
  handler: async ({ args: [labels], opts }, ctx) => {
    const filter = { ...(labels !== undefined ? { labels } : {}), ...(opts.search !== undefined ? { search: opts.search } : {}) };
    const { filterNodes } = await nodes();
    filterNodes([], filter);
    const session = await ctx.dbSession();
    return filterNodes(await session.cluster().listNodes(), filter);
  },
  render: async (list, { opts }) => (await nodes()).renderNodes(list, { format: opts.format, verbose: opts.verbose === true }),
};
