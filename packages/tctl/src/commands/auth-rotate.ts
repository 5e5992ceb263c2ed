/** `tctl auth rotate`: start or move a CA rotation (`tool/tctl/common/auth_rotate_command.go`, non-interactive). */

import { CERT_AUTHORITY_TYPES, ROTATION_PHASES, type CertAuthorityType, type RotationPhase } from '@teleport-ts/core/ca';
import { BadParameterError } from '@teleport-ts/core/errors';
import { parseDuration } from '@teleport-ts/core/types';
import type { TctlApi } from '../api.js';
import type { TctlCommand } from '../command.js';

const help = 'Rotate certificate authorities in the cluster.';

/** Teleport's `defaults.RotationGracePeriod`. */
const DEFAULT_GRACE_PERIOD = '30h';
const ROTATE_TYPES = CERT_AUTHORITY_TYPES;
const PHASES = ['init', 'standby', 'update_clients', 'update_servers', 'rollback'] as const satisfies readonly RotationPhase[];

export interface RotateOptions {
  type?: string;
  manual?: boolean;
  phase?: string;
  gracePeriod?: string;
}

export interface RotateResult {
  type: CertAuthorityType;
  phase?: RotationPhase;
}

export type RotateApi = Pick<TctlApi, 'rotateCertAuthority'>;

/** Everything that can be checked without the auth server; the CLI runs it before connecting. */
function checkOptions(options: RotateOptions): RotateResult & { mode: 'auto' | 'manual'; gracePeriod: number } {
  if (!options.type) throw new BadParameterError('required flag --type not provided');
  if (!(ROTATE_TYPES as readonly string[]).includes(options.type)) {
    throw new BadParameterError(`unsupported --type ${JSON.stringify(options.type)}, use one of: ${ROTATE_TYPES.join(', ')}`);
  }
  const type = options.type as CertAuthorityType;
  let phase: RotationPhase | undefined;
  if (options.phase !== undefined && options.phase !== '') {
    if (!(ROTATION_PHASES as readonly string[]).includes(options.phase)) {
      throw new BadParameterError(`unsupported --phase ${JSON.stringify(options.phase)}, use one of: ${PHASES.join(', ')}`);
    }
    phase = options.phase as RotationPhase;
  }
  if (options.manual && phase === undefined) throw new BadParameterError(`--phase is required with --manual, one of: ${PHASES.join(', ')}`);
  const gracePeriod = parseDuration(options.gracePeriod ?? DEFAULT_GRACE_PERIOD);
  if (gracePeriod < 0) throw new BadParameterError('--grace-period must not be negative');
  return { type, mode: options.manual ? 'manual' : 'auto', gracePeriod, ...(phase ? { phase } : {}) };
}

export async function handler(api: RotateApi, options: RotateOptions): Promise<RotateResult> {
  const { type, mode, gracePeriod, phase } = checkOptions(options);
  await api.rotateCertAuthority({ type, mode, gracePeriod, ...(phase ? { phase } : {}) });
  return { type, ...(phase ? { phase } : {}) };
}

export function render(result: RotateResult): string {
  return result.phase
    ? `Updated rotation phase to ${JSON.stringify(result.phase)}. To check status use 'tctl status'\n`
    : "Initiated certificate authority rotation. To check status use 'tctl status'\n";
}

/** `tctl auth rotate --type <type> [--manual --phase <phase>] [--grace-period <duration>]`. */
export const authRotateCommand: TctlCommand<RotateOptions, RotateResult> = {
  name: 'auth rotate',
  help,
  options: [
    { flags: '--manual', description: 'Activate manual rotation, set rotation phases manually.', default: false },
    { flags: '--type <type>', description: `Certificate authority to rotate, one of: ${ROTATE_TYPES.join(', ')}.` },
    { flags: '--phase <phase>', description: `Target rotation phase to set, used in manual rotation, one of: ${PHASES.join(', ')}.` },
    { flags: '--grace-period <duration>', description: 'Grace period keeps previous certificate authorities signatures valid.', default: DEFAULT_GRACE_PERIOD },
  ],
  handler: async ({ opts }, ctx) => {
    checkOptions(opts);
    return handler(await ctx.api(), opts);
  },
  render: (result) => render(result),
};
