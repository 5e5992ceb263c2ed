/**
 * `tctl status`: the cluster, its version, the CA pins, and a row per CA key with its rotation state, in the
 * layout of Teleport's `tool/tctl/common/status_command.go`.
 */

import { CERT_AUTHORITY_TYPES, rotationCaughtUp, type CertAuthority, type CertAuthorityType, type Rotation } from '@teleport-ts/core/ca';
import { formatDuration } from '@teleport-ts/core/types';
import type { TctlApi } from '../api.js';
import { toJson, toYaml, type PlainValue } from '../render/serialize.js';
import { asciiTable, headlessTable } from '@teleport-ts/core/cli';
import { humanDateSeconds } from '../render/time.js';
import { authorityKeys, caPinsOf, type AuthorityKey } from './ca-info.js';
import type { TctlCommand } from '../command.js';
import { OUTPUT_FORMATS, parseFormat, type OutputFormat } from './format.js';

const name = 'status';
const help = 'Report cluster status.';

export interface StatusOptions {
  format: OutputFormat;
  debug?: boolean;
}

interface AuthorityStatus {
  clusterName: string;
  type: CertAuthorityType;
  rotation: Rotation;
  activeKeys: AuthorityKey[];
  trustedKeys: AuthorityKey[];
}

export interface StatusModel {
  cluster: { name: string; version: string; caPins: string[] };
  authorities: AuthorityStatus[];
  /** While a host or user CA rotates: how many agents and proxies have not caught up yet, of those reporting. */
  rotationLag?: { lagging: number; reporting: number };
}

export type StatusApi = Pick<TctlApi, 'ping' | 'getCertAuthorities'> & Partial<Pick<TctlApi, 'getInstances'>>;

/** Agents and proxies behind a rotation of the cluster's host or user CA (none asked when nothing rotates). */
async function rotationLag(api: StatusApi, cas: CertAuthority[], clusterName: string): Promise<StatusModel['rotationLag']> {
  const followed = cas.filter((ca) => ca.spec.cluster_name === clusterName && (ca.spec.type === 'host' || ca.spec.type === 'user'));
  if (!api.getInstances || !followed.some((ca) => ca.spec.rotation.state === 'in_progress')) return undefined;
  const instances = await api.getInstances();
  const lagging = instances.filter((i) => followed.some((ca) => !rotationCaughtUp(ca, i.spec[ca.spec.type as 'host' | 'user']))).length;
  return { lagging, reporting: instances.length };
}

/** Gathers the status; a CA type the server cannot return is skipped, as Teleport does. */
export async function handler(api: StatusApi): Promise<StatusModel> {
  const ping = await api.ping();
  const authorities: CertAuthority[] = [];
  for (const type of CERT_AUTHORITY_TYPES) {
    try {
      authorities.push(...(await api.getCertAuthorities(type)));
    } catch (err) {
      if (type === 'host') throw err;
    }
  }
  const lag = await rotationLag(api, authorities, ping.clusterName);
  return {
    ...(lag ? { rotationLag: lag } : {}),
    cluster: {
      name: ping.clusterName,
      version: ping.serverVersion,
      caPins: caPinsOf(authorities.filter((ca) => ca.spec.type === 'host'), ping.clusterName),
    },
    authorities: authorities.map((ca) => ({
      clusterName: ca.spec.cluster_name,
      type: ca.spec.type,
      rotation: ca.spec.rotation,
      activeKeys: authorityKeys(ca.spec.active_keys),
      trustedKeys: authorityKeys(ca.spec.additional_trusted_keys),
    })),
  };
}

/** Teleport's `Rotation.String()`. */
export function rotationDescription(r: Rotation): string {
  switch (r.state) {
    case 'standby':
      return r.last_rotated ? `standby (last rotated: ${humanDateSeconds(new Date(r.last_rotated))})` : 'standby (never rotated)';
    case 'in_progress': {
      if (r.mode === 'manual') return `in progress (mode: manual, phase: ${r.phase})`;
      const started = r.started ? new Date(r.started) : undefined;
      const ending = started ? new Date(started.getTime() + (r.grace_period ?? 0)) : undefined;
      return `in progress (mode: automatic, phase: ${r.phase}, started: ${started ? humanDateSeconds(started) : ''}, ending: ${ending ? humanDateSeconds(ending) : ''})`;
    }
    default:
      return 'unknown';
  }
}

function compareRows(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) return (a[i] ?? '') < (b[i] ?? '') ? -1 : 1;
  }
  return 0;
}

/** The text block: a key/value summary, a blank line, then the keys table. */
function renderText(model: StatusModel, debug = false): string {
  const summary: string[][] = [
    ['Cluster:', model.cluster.name],
    ['Version:', model.cluster.version],
    ...model.cluster.caPins.map((pin, i) => [i === 0 ? 'CA pins:' : '', pin]),
  ];
  const rows: string[][] = [];
  for (const authority of model.authorities) {
    if (!debug && authority.clusterName !== model.cluster.name) continue;
    const keyRows = [
      ...authority.activeKeys.map((k) => ['', '', k.protocol, 'active', k.algorithm, k.storage]),
      ...authority.trustedKeys.map((k) => ['', '', k.protocol, 'trusted', k.algorithm, k.storage]),
    ].sort(compareRows);
    if (keyRows.length === 0) keyRows.push(['', '', '', 'no keys found for authority', '', '']);
    keyRows[0]![0] = authority.type;
    keyRows[0]![1] = rotationDescription(authority.rotation);
    rows.push(...keyRows);
  }
  const lag = model.rotationLag;
  const lagLine = lag ? `\nAgents and proxies not yet on the current CAs: ${lag.lagging} of ${lag.reporting} (tctl auth rotate status lists them)\n` : '';
  return `${headlessTable(summary, 2)}\n${asciiTable(['authority', 'rotation', 'protocol', 'status', 'algorithm', 'storage'], rows)}${lagLine}`;
}

/** The structured form (`--format json|yaml`), Teleport's `statusOutput`. */
function statusOutput(model: StatusModel, debug = false): PlainValue {
  return {
    cluster: { name: model.cluster.name, version: model.cluster.version, ca_pins: model.cluster.caPins },
    authorities: model.authorities
      .filter((a) => debug || a.clusterName === model.cluster.name)
      .map((a) => ({
        cluster_name: a.clusterName,
        type: a.type,
        rotation: {
          state: a.rotation.state,
          phase: a.rotation.phase,
          mode: a.rotation.mode,
          current_id: a.rotation.current_id,
          started: a.rotation.started,
          grace_period: a.rotation.grace_period ? formatDuration(a.rotation.grace_period) : undefined,
          last_rotated: a.rotation.last_rotated,
          schedule: a.rotation.schedule ? { ...a.rotation.schedule } : undefined,
        },
        keys: [
          ...a.activeKeys.map((k) => ({ protocol: k.protocol, status: 'active', algorithm: k.algorithm, storage: k.storage })),
          ...a.trustedKeys.map((k) => ({ protocol: k.protocol, status: 'trusted', algorithm: k.algorithm, storage: k.storage })),
        ].sort((x, y) => compareRows([x.protocol, x.status, x.algorithm, x.storage], [y.protocol, y.status, y.algorithm, y.storage])),
      })),
  };
}

export function render(model: StatusModel, options: StatusOptions): string {
  switch (options.format) {
    case 'json':
      return toJson(statusOutput(model, options.debug));
    case 'yaml':
      return toYaml(statusOutput(model, options.debug));
    default:
      return renderText(model, options.debug);
  }
}

/** `tctl status [--format text|json|yaml]`; `-d` also shows the authorities of trusted clusters. */
export const statusCommand: TctlCommand<{ format: string }, StatusModel> = {
  name,
  help,
  options: [{ flags: '--format <format>', description: `Output format: ${OUTPUT_FORMATS.join(', ')}.`, default: 'text' }],
  handler: async ({ opts }, ctx) => {
    parseFormat(opts.format, OUTPUT_FORMATS, 'text');
    return handler(await ctx.api());
  },
  render: (model, { opts }, ctx) => render(model, { format: parseFormat(opts.format, OUTPUT_FORMATS, 'text'), debug: ctx.globals.debug === true }),
};
