/** `tsh version [--format text|json|yaml] [--client]`: needs no profile. */

import { GIT_COMMIT, VERSION, versionLine } from '@teleport-ts/core/version';
import { FORMAT_OPTION, type OutputFormat, type TshCommand } from './context.js';

/**
 * Teleport's JSON shape for `tsh version` (`version`, `gitref`, `runtime`). Teleport adds `proxyVersion` and
 * `proxyPublicAddress` after asking the current proxy; this tsh prints the client's version only, as `--client`.
 */
interface VersionInfo {
  version: string;
  gitref: string;
  runtime: string;
}

function versionInfo(): VersionInfo {
  return { version: VERSION, gitref: GIT_COMMIT, runtime: `node${process.versions.node}` };
}

/** YAML without the YAML library (this command must start fast): plain scalars when safe, else JSON quotes. */
function yamlScalar(value: string): string {
  const plain = /^[\w.+-]+$/.test(value) && !/^(?:y|n|yes|no|true|false|on|off|null|~)$/i.test(value) && Number.isNaN(Number(value));
  return plain ? value : JSON.stringify(value);
}

export function renderVersion(format: OutputFormat | undefined): string {
  const info = versionInfo();
  if (format === 'json') return `${JSON.stringify(info, null, 2)}\n`;
  if (format === 'yaml') return Object.entries(info).map(([k, v]) => `${k}: ${yamlScalar(v)}\n`).join('');
  return `${versionLine()}\n`;
}

export const versionCommand: TshCommand<{ format?: OutputFormat; client?: boolean }, null> = {
  name: 'version',
  help: 'Print the version of your tsh binary.',
  options: [FORMAT_OPTION, { flags: '--client', description: 'Show the client version only (no server required).' }],
  handler: async () => null,
  render: (_none, { opts }) => renderVersion(opts.format),
};
