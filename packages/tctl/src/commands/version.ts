/** `tctl version`: needs no cluster. */

import { versionLine } from '@teleport-ts/core/version';
import type { TctlCommand } from '../command.js';

export const versionCommand: TctlCommand<object, string> = {
  name: 'version',
  help: 'Print the version of your tctl binary.',
  handler: async () => versionLine(),
  render: (line) => `${line}\n`,
};
