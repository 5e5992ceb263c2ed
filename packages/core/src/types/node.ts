/**
 * SSH nodes (Teleport's `kind: node`, `types.ServerV2`): what a node agent heartbeats (`sub_kind` empty or
 * `teleport`, reached over its reverse tunnel when `use_tunnel` is set) and what an administrator registers for an
 * agentless OpenSSH server (`sub_kind: openssh`, `tctl create`, reached by the proxy at `spec.addr`).
 */

import { BadParameterError } from '../errors/index.js';
import { parseWith, v } from '../schema/index.js';
import { headerEntries, isCanonicalMetadata, resourceName, toMetadata, type ResourceHeader } from './metadata.js';
import { deepFreeze, fail, isRecord, optBool, optString, section, type ParseContext } from './validate.js';

export const KIND_NODE = 'node';
export const NODE_VERSIONS = ['v2'] as const;
type NodeVersion = (typeof NODE_VERSIONS)[number];
/** `sub_kind` of an agentless OpenSSH server the proxy dials directly. */
export const SUBKIND_OPENSSH = 'openssh';
/** `sub_kind` of a teleport-ts node agent (Teleport writes it empty or `teleport`). */
export const SUBKIND_TELEPORT = 'teleport';
const NODE_SUBKINDS = ['', SUBKIND_TELEPORT, SUBKIND_OPENSSH] as const;
export type NodeSubKind = (typeof NODE_SUBKINDS)[number];

/** A dynamic label: a command the node runs every `period`; its output (trimmed) is the label's value. */
export interface CommandLabel {
  /** A Go duration, e.g. `1m0s`. */
  readonly period: string;
  readonly command: readonly string[];
  readonly result: string;
}

export interface NodeSpec {
  /** `host:port` the node's SSH server listens on; empty for a node reached only over its reverse tunnel. */
  readonly addr: string;
  readonly hostname: string;
  /** The node is reached through its reverse tunnel. */
  readonly use_tunnel?: boolean;
  readonly version?: string;
  readonly cmd_labels?: Readonly<Record<string, CommandLabel>>;
}

export type NodeServer = ResourceHeader<typeof KIND_NODE, NodeVersion, NodeSpec> & { readonly sub_kind?: NodeSubKind };

const CommandLabelSchema = section({
  period: optString,
  command: v.optional(v.array(v.string()), []),
  result: optString,
});

const NodeDocument = section(
  {
    ...headerEntries(KIND_NODE, NODE_VERSIONS, 'v2'),
    sub_kind: v.nullish(v.picklist(NODE_SUBKINDS, `must be one of ${NODE_SUBKINDS.filter((s) => s !== '').join(', ')}`)),
    spec: section(
      {
        addr: optString,
        hostname: optString,
        use_tunnel: optBool,
        version: optString,
        cmd_labels: v.nullish(v.record(v.string(), CommandLabelSchema)),
      },
      { ignored: ['public_addrs', 'rotation', 'peer_addr', 'proxy_ids', 'cloud_metadata'] },
    ),
  },
  { ignored: ['id'] },
);

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+):\d{1,5}$/;

function checkSpec(ctx: ParseContext, subKind: NodeSubKind, spec: NodeSpec): void {
  if (spec.hostname === '') fail(ctx, 'spec.hostname', 'is required');
  if (spec.addr !== '' && !HOST_PORT.test(spec.addr)) fail(ctx, 'spec.addr', 'must be host:port');
  if (subKind === SUBKIND_OPENSSH && spec.addr === '') fail(ctx, 'spec.addr', 'is required for an OpenSSH node (the proxy dials it)');
}

/**
 * Parses a node document (Teleport's YAML shape) and returns a frozen {@link NodeServer}.
 *
 * @example
 * ```ts
 * const node = parseNode({ kind: 'node', sub_kind: 'openssh', version: 'v2', metadata: { name: randomUUID() }, spec: { addr: '10.0.0.7:22', hostname: 'db1' } });
 * ```
 *
 * @throws BadParameterError for a missing hostname, a malformed address, or an OpenSSH node without an address.
 */
export function parseNode(raw: unknown): NodeServer {
  if (!isRecord(raw)) throw new BadParameterError('node must be a mapping');
  const name = resourceName(raw, { kind: KIND_NODE });
  const ctx: ParseContext = { prefix: `node ${JSON.stringify(name)}` };
  const doc = parseWith(NodeDocument, raw, ctx.prefix);
  const subKind: NodeSubKind = doc.sub_kind ?? '';
  const cmdLabels = Object.entries(doc.spec.cmd_labels ?? {}).map(([k, l]) => [k, { period: l.period ?? '', command: l.command, result: l.result ?? '' }] as const);
  const spec: NodeSpec = {
    addr: doc.spec.addr ?? '',
    hostname: doc.spec.hostname ?? '',
    ...(doc.spec.use_tunnel ? { use_tunnel: true } : {}),
    ...(doc.spec.version ? { version: doc.spec.version } : {}),
    ...(cmdLabels.length > 0 ? { cmd_labels: Object.fromEntries(cmdLabels) } : {}),
  };
  checkSpec(ctx, subKind, spec);
  return deepFreeze({
    kind: KIND_NODE,
    ...(subKind !== '' ? { sub_kind: subKind } : {}),
    version: doc.version,
    metadata: toMetadata(name, doc.metadata),
    spec,
  });
}

const NODE_FIELDS = new Set(['kind', 'sub_kind', 'version', 'metadata', 'spec']);
const SPEC_FIELDS = new Set(['addr', 'hostname', 'use_tunnel', 'version', 'cmd_labels']);

function isCanonicalCommandLabel(l: unknown): boolean {
  if (!isRecord(l) || Object.keys(l).length !== 3) return false;
  const { period, command, result } = l;
  return typeof period === 'string' && typeof result === 'string' && Array.isArray(command) && command.every((c) => typeof c === 'string');
}

/** Whether `spec` is exactly what {@link parseNode} returns for a node of `subKind` (see {@link parseListedNode}). */
function isCanonicalSpec(spec: unknown, subKind: unknown): boolean {
  if (!isRecord(spec)) return false;
  for (const k in spec) if (!SPEC_FIELDS.has(k)) return false;
  const { addr, hostname, use_tunnel: useTunnel, version, cmd_labels: cmdLabels } = spec;
  if (typeof addr !== 'string' || (addr !== '' && !HOST_PORT.test(addr)) || (subKind === SUBKIND_OPENSSH && addr === '')) return false;
  if (typeof hostname !== 'string' || hostname === '') return false;
  if (useTunnel !== undefined && useTunnel !== true) return false;
  if (version !== undefined && (typeof version !== 'string' || version === '')) return false;
  if (cmdLabels === undefined) return true;
  return isRecord(cmdLabels) && Object.keys(cmdLabels).length > 0 && Object.values(cmdLabels).every(isCanonicalCommandLabel);
}

/**
 * A node from a listing (`GET /nodes`: `tsh ls`, the proxy's routing). The auth server sends each node as
 * {@link nodeToWire} wrote it from a parsed node; one already in that form is returned as it is, after a check of
 * every field in plain code, since the schema parse took 50-80 ms of `tsh ls` at 5,000 nodes
 * (`pnpm bench listing`). Anything else (an older server's extra field, a missing default, a wrong type) goes
 * through {@link parseNode}, which normalises it or refuses it with its usual message.
 */
export function parseListedNode(raw: unknown): NodeServer {
  if (!isRecord(raw) || raw['kind'] !== KIND_NODE || raw['version'] !== 'v2') return parseNode(raw);
  for (const k in raw) if (!NODE_FIELDS.has(k)) return parseNode(raw);
  const subKind = raw['sub_kind'];
  if (subKind !== undefined && subKind !== SUBKIND_TELEPORT && subKind !== SUBKIND_OPENSSH) return parseNode(raw);
  if (!isCanonicalMetadata(raw['metadata']) || !isCanonicalSpec(raw['spec'], subKind)) return parseNode(raw);
  return raw as unknown as NodeServer;
}

/** The plain-data form of a node, as `tctl get nodes` prints it (Teleport's field order). */
export function nodeToWire(node: NodeServer): Record<string, unknown> {
  const spec: Record<string, unknown> = { addr: node.spec.addr, hostname: node.spec.hostname };
  if (node.spec.use_tunnel) spec['use_tunnel'] = true;
  if (node.spec.version) spec['version'] = node.spec.version;
  if (node.spec.cmd_labels) spec['cmd_labels'] = Object.fromEntries(Object.entries(node.spec.cmd_labels).map(([k, l]) => [k, { ...l, command: [...l.command] }]));
  return {
    kind: node.kind,
    ...(node.sub_kind ? { sub_kind: node.sub_kind } : {}),
    version: node.version,
    metadata: { ...node.metadata, ...(node.metadata.labels ? { labels: { ...node.metadata.labels } } : {}) },
    spec,
  };
}

const collate = new Intl.Collator().compare;

/**
 * The order of node listings (the auth server's `GET /nodes`, `tsh ls`): by hostname, then name. One collator for
 * every comparison: `localeCompare` builds one per call, which dominates a sort of 10,000 nodes.
 */
export function compareNodes(a: Pick<NodeServer, 'metadata' | 'spec'>, b: Pick<NodeServer, 'metadata' | 'spec'>): number {
  return collate(a.spec.hostname, b.spec.hostname) || collate(a.metadata.name, b.metadata.name);
}

/** Every label of a node: its static labels and the results of its command labels (which win on a clash). */
export function nodeLabels(node: Pick<NodeServer, 'metadata' | 'spec'>): Record<string, string> {
  const out: Record<string, string> = { ...node.metadata.labels };
  for (const [k, l] of Object.entries(node.spec.cmd_labels ?? {})) out[k] = l.result;
  return out;
}
