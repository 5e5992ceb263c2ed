/** `tsh env`: shell lines pointing later commands at the current profile's proxy and cluster. */

import { BadParameterError, NotFoundError } from '@teleport-ts/core/errors';
import { loadStatuses } from '../profile/status.js';
import { teleportHome } from '@teleport-ts/core/profile';
import { FORMAT_OPTION, type OutputFormat, type TshCommand } from './context.js';

const ENV_PROXY = 'TELEPORT_PROXY';
const ENV_CLUSTER = 'TELEPORT_CLUSTER';

/** The variables to export, from the current profile. */
async function environment(env: NodeJS.ProcessEnv): Promise<Record<string, string>> {
  const active = (await loadStatuses(teleportHome(env))).find((s) => s.active);
  if (!active) throw new NotFoundError('Not logged in.');
  return { [ENV_PROXY]: active.webProxyAddr, [ENV_CLUSTER]: active.cluster };
}

/** `export NAME=value` lines, or `unset NAME` lines. */
function renderEnv(vars: Record<string, string>, unset: boolean): string {
  return Object.entries(vars)
    .map(([k, v]) => (unset ? `unset ${k}` : `export ${k}=${v}`))
    .join('\n')
    .concat('\n');
}

/** `--format json|yaml`: the variables as an object. */
function renderVars(vars: Record<string, string>, format: 'json' | 'yaml'): string {
  if (format === 'json') return `${JSON.stringify(vars, null, 2)}\n`;
  return Object.entries(vars)
    .map(([k, v]) => `${k}: ${v}\n`)
    .join('');
}

export const envCommand: TshCommand<{ unset?: boolean; format: OutputFormat }, Record<string, string>> = {
  name: 'env',
  help: 'Print commands to set Teleport session environment variables.',
  options: [{ flags: '--unset', description: 'Print commands to clear Teleport session environment variables.' }, FORMAT_OPTION],
  handler: async ({ opts }, ctx) => {
    const vars = await environment(ctx.env);
    if (opts.unset && opts.format !== 'text') throw new BadParameterError('--unset prints shell commands; use it with --format text');
    return vars;
  },
  render: (vars, { opts }) => (opts.format === 'text' ? renderEnv(vars, opts.unset === true) : renderVars(vars, opts.format)),
};
