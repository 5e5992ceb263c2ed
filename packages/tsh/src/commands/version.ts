/** `tsh version`: needs no profile. */

import { versionLine } from '@teleport-ts/core/version';
import type { TshCommand } from './context.js';

export const versionCommand: TshCommand<object, string> = {
  name: 'version',
  help: 'Print the version of your tsh binary.',
  handler: async () => versionLine(),
  render: (line) => `${line}\n`,
};
