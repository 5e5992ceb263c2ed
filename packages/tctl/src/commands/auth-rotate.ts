/**
 * `tctl auth rotate`: start or move a CA rotation (`tool/tctl/common/auth_rotate_command.go`, non-interactive), and
 * `tctl auth rotate status`: each CA's rotation and the agents and proxies that have not caught up with it yet (from
 * the reports every process sends about its identity; Teleport has no such list).
 */

import type { Instance } from '@teleport-ts/core/api';
import { CERT_AUTHORITY_TYPES, ROTATION_PHASES, rotationCaughtUp, type CertAuthority, type CertAuthorityType, type Rotation, type RotationPhase } from '@teleport-ts/core/ca';
import { asciiTable } from '@teleport-ts/core/cli';
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
export type RotateStatusApi = Pick<TctlApi, 'getCertAuthorities' | 'getInstances' | 'ping'>;

/** A process behind the current rotation of the host or user CA. */
interface LaggingInstance {
  hostId: string;
  hostname: string;
  role: string;
  /** The phases it reported for the host and user CAs (`-` when it never reported). */
  host: string;
  user: string;
  lastSeen: string;
}

export interface RotateStatus {
  authorities: { type: CertAuthorityType; rotation: Rotation }[];
  /** Processes that reported (live ones: a report expires after 10 minutes without a new one). */
  reporting: number;
  lagging: LaggingInstance[];
}

/** The CAs whose rotation processes must follow: the host CA (their certificates) and the user CA (what they trust). */
const FOLLOWED: readonly CertAuthorityType[] = ['host', 'user'];

/** Every CA's rotation, and the processes not caught up with the host or user CA's. */
export async function rotateStatus(api: RotateStatusApi): Promise<RotateStatus> {
  const clusterName = (await api.ping()).clusterName;
  const cas = new Map<CertAuthorityType, CertAuthority>();
  for (const type of CERT_AUTHORITY_TYPES) {
    const ca = (await api.getCertAuthorities(type)).find((c) => c.spec.cluster_name === clusterName);
    if (ca) cas.set(type, ca);
  }
  const instances = await api.getInstances();
  const behind = (i: Instance): boolean => FOLLOWED.some((type) => cas.has(type) && !rotationCaughtUp(cas.get(type)!, i.spec[type as 'host' | 'user']));
  return {
    authorities: [...cas.entries()].map(([type, ca]) => ({ type, rotation: ca.spec.rotation })),
    reporting: instances.length,
    lagging: instances.filter(behind).map((i) => ({
      hostId: i.spec.host_id,
      hostname: i.spec.hostname,
      role: i.spec.role,
      host: i.spec.host?.phase ?? '-',
      user: i.spec.user?.phase ?? '-',
      lastSeen: i.spec.last_seen,
    })),
  };
}

export function renderStatus(status: RotateStatus): string {
  const cas = asciiTable(
    ['Authority', 'State', 'Phase', 'Mode'],
    status.authorities.map((a) => [a.type, a.rotation.state, a.rotation.phase, a.rotation.state === 'standby' ? '' : (a.rotation.mode ?? '')]),
  );
  const tail =
    status.lagging.length === 0
      ? `All ${status.reporting} agents and proxies are on the current certificate authorities.\n`
      : `Agents and proxies not yet on the current certificate authorities (${status.lagging.length} of ${status.reporting}):\n\n${asciiTable(
          ['Host ID', 'Hostname', 'Role', 'Host CA phase', 'User CA phase', 'Last seen'],
          status.lagging.map((l) => [l.hostId, l.hostname, l.role, l.host, l.user, l.lastSeen]),
        )}`;
  return `${cas}\n${tail}`;
}

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

/** `tctl auth rotate --type <type> [--manual --phase <phase>] [--grace-period <duration>]`, or `tctl auth rotate status`. */
export const authRotateCommand: TctlCommand<RotateOptions, RotateResult | RotateStatus> = {
  name: 'auth rotate',
  help,
  args: [{ name: '[status]', description: 'Show each CA rotation and the agents and proxies not yet on it.' }],
  options: [
    { flags: '--manual', description: 'Activate manual rotation, set rotation phases manually.', default: false },
    { flags: '--type <type>', description: `Certificate authority to rotate, one of: ${ROTATE_TYPES.join(', ')}.` },
    { flags: '--phase <phase>', description: `Target rotation phase to set, used in manual rotation, one of: ${PHASES.join(', ')}.` },
    { flags: '--grace-period <duration>', description: 'Grace period keeps previous certificate authorities signatures valid.', default: DEFAULT_GRACE_PERIOD },
  ],
  handler: async ({ args, opts }, ctx) => {
    const action = args[0];
    if (action === 'status') return rotateStatus(await ctx.api());
    if (action !== undefined) throw new BadParameterError(`unknown argument ${JSON.stringify(action.slice(0, 64))}`, { hint: 'tctl auth rotate status, or tctl auth rotate --type=<type>' });
    checkOptions(opts);
    return handler(await ctx.api(), opts);
  },
  render: (result) => ('lagging' in result ? renderStatus(result) : render(result)),
};
