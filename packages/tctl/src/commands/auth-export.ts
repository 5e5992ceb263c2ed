/**
 * `tctl auth export`: the cluster's CA public keys in the formats other programs read. SSH CAs as
 * `authorized_keys` lines (`cert-authority <key> clustername=<c>&type=user`) and `known_hosts` lines
 * (`@cert-authority <c>,*.<c> <key> type=host`); TLS CAs as PEM, or DER for the `*-der` types.
 */

import { pemToDer, sshCaExportLines, tlsCaExportPem, type CertAuthority, type CertAuthorityType } from '@teleport-ts/core/ca';
import { BadParameterError, NotFoundError } from '@teleport-ts/core/errors';
import type { TctlApi } from '../api.js';
import type { CommandGroup, TctlCommand } from '../command.js';
import { writeOutputFiles } from '../files.js';

const name = 'auth export';
const help = 'Export public cluster CA certificates to stdout.';

/** `--type` values, Teleport's (`tls` is the old name of `tls-host`, `windows` of `tls-user-der`). */
const EXPORT_TYPES = [
  'user',
  'host',
  'tls',
  'tls-host',
  'tls-user',
  'tls-user-der',
  'windows',
  'db',
  'db-der',
  'db-client',
  'db-client-der',
  'openssh',
] as const;
type ExportType = (typeof EXPORT_TYPES)[number];

const TLS_EXPORTS: Readonly<Partial<Record<ExportType, { ca: CertAuthorityType; der: boolean }>>> = {
  tls: { ca: 'host', der: false },
  'tls-host': { ca: 'host', der: false },
  'tls-user': { ca: 'user', der: false },
  'tls-user-der': { ca: 'user', der: true },
  windows: { ca: 'user', der: true },
  db: { ca: 'db', der: false },
  'db-der': { ca: 'db', der: true },
  'db-client': { ca: 'db_client', der: false },
  'db-client-der': { ca: 'db_client', der: true },
};

export interface ExportOptions {
  type?: string;
}

/** What was exported: text (SSH lines or PEM) or DER blobs, one per active TLS key. */
export type ExportResult = { kind: 'text'; text: string } | { kind: 'der'; blobs: Buffer[] };

export type ExportApi = Pick<TctlApi, 'ping' | 'getCertAuthorities'>;

/** Checks `--type`; the CLI runs it before connecting. */
function parseType(type: string | undefined): ExportType | undefined {
  if (type === undefined || type === '') return undefined;
  if (!(EXPORT_TYPES as readonly string[]).includes(type)) {
    throw new BadParameterError(`unsupported --type ${JSON.stringify(type)}, use one of: ${EXPORT_TYPES.join(', ')}`);
  }
  return type as ExportType;
}

function local(cas: readonly CertAuthority[], clusterName: string): CertAuthority[] {
  return cas.filter((ca) => ca.spec.cluster_name === clusterName);
}

export async function handler(api: ExportApi, options: ExportOptions): Promise<ExportResult> {
  const type = parseType(options.type);
  const { clusterName } = await api.ping();
  const tls = type === undefined ? undefined : TLS_EXPORTS[type];
  if (tls) {
    const [ca] = local(await api.getCertAuthorities(tls.ca), clusterName);
    const keys = ca?.spec.active_keys.tls ?? [];
    if (ca === undefined || keys.length === 0) throw new NotFoundError(`the ${tls.ca} CA of ${clusterName} has no TLS certificate`);
    if (tls.der) return { kind: 'der', blobs: keys.map((k) => pemToDer(k.cert, 'CERTIFICATE')) };
    return { kind: 'text', text: tlsCaExportPem(ca) };
  }
  const sshTypes: CertAuthorityType[] = type === undefined ? ['host', 'user'] : [type as 'user' | 'host' | 'openssh'];
  let text = '';
  for (const caType of sshTypes) {
    for (const ca of local(await api.getCertAuthorities(caType), clusterName)) text += sshCaExportLines(ca);
  }
  return { kind: 'text', text };
}

/**
 * What `tctl auth export` prints: text as Go's `fmt.Println` does (with a trailing newline), DER as raw bytes.
 * With `--out`, the file gets the data as it is.
 */
export function render(result: ExportResult, options: { toFile: boolean }): string | Buffer {
  if (result.kind === 'der') return Buffer.concat(result.blobs);
  return options.toFile ? result.text : `${result.text}\n`;
}

/** `tctl auth`: export, sign and rotate. */
export const authGroup: CommandGroup = { name: 'auth', help: 'Operations with user and host certificate authorities (CAs).' };

/** `tctl auth export [--type <type>] [-o <path>]`. */
export const authExportCommand: TctlCommand<{ type?: string; out?: string }, ExportResult> = {
  name,
  help,
  options: [
    { flags: '--type <type>', description: `Export certificate type: ${EXPORT_TYPES.join(', ')}.` },
    { flags: '-o, --out <path>', description: 'If set, writes the exported authority to this file instead of stdout.' },
  ],
  handler: async ({ opts }, ctx) => {
    parseType(opts.type);
    const result = await handler(await ctx.api(), opts.type !== undefined ? { type: opts.type } : {});
    if (opts.out) await writeOutputFiles([{ path: opts.out, data: render(result, { toFile: true }), mode: 0o644 }], { overwrite: true });
    return result;
  },
  render: (result, { opts }) => (opts.out ? '' : render(result, { toFile: false })),
};
