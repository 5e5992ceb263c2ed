/**
 * SSH nodes on the auth server (`/nodes/default/<uuid>` in the backend, Teleport's key): a node agent heartbeats its
 * own `node` with an expiry, so a dead node disappears by itself; an administrator registers agentless OpenSSH
 * servers (`sub_kind: openssh`, `tctl create`), which stay until removed. Users see the nodes their roles'
 * `node_labels` make visible.
 */

import { key } from '@teleport-ts/core/backend';
import { AccessDeniedError, BadParameterError, isNotFound, NotFoundError } from '@teleport-ts/core/errors';
import { decodedPerItem, decodeJson, encodeJson, getAllWithPrefix } from '@teleport-ts/core/services';
import { checkNewName, compareNodes, nodeLabels, nodeToWire, parseNode, SUBKIND_OPENSSH, type NodeServer } from '@teleport-ts/core/types';
import { actorName, authorize, hostIdOf, requireAuthenticated, type Caller } from './authz.js';
import type { AuthContext } from './context.js';
import type { JsonText } from '../../http/router.js';
import { itemsJson, listingOrder } from './listing.js';
import { parseBody, UpsertNodeBody } from './requests.js';

const NODES_PREFIX = '/nodes/default/';
/** A heartbeat without a TTL keeps the node listed this long (Teleport's server announce TTL). */
const DEFAULT_NODE_TTL_MS = 10 * 60_000;

function nodeKey(name: string): string {
  return key('nodes', 'default', name);
}

/** Who may write this node: a node agent only itself (not as OpenSSH); anyone else only agentless OpenSSH nodes. */
function checkWriter(ctx: AuthContext, caller: Caller, node: NodeServer): void {
  const authed = authorize(caller, 'node', 'create', 'update');
  if (authed.kind === 'builtin' && authed.systemRole === 'Node') {
    if (node.metadata.name !== hostIdOf(authed.username, ctx.clusterName)) {
      throw new AccessDeniedError('access denied: a node may only heartbeat itself (the name differs from its certificate)');
    }
    if (node.sub_kind === SUBKIND_OPENSSH) throw new AccessDeniedError('access denied: a node agent cannot register an OpenSSH node');
    return;
  }
  if (node.sub_kind !== SUBKIND_OPENSSH) {
    throw new BadParameterError(`node ${JSON.stringify(node.metadata.name)}: only agentless nodes (sub_kind: openssh) can be created by hand`, {
      hint: 'teleport-ts nodes join with `teleport-ts start --roles=node` and a token from `tctl tokens add --type=node`',
    });
  }
}

/** Creates or replaces a node; a node agent's heartbeat expires after `ttl` (auth's clock). */
export async function upsertNode(ctx: AuthContext, caller: Caller, name: string, rawBody: unknown): Promise<unknown> {
  const body = parseBody(UpsertNodeBody, rawBody);
  const node = parseNode(body.node);
  checkNewName('node', name);
  if (node.metadata.name !== name) throw new BadParameterError(`the node in the body is ${JSON.stringify(node.metadata.name)}, not ${JSON.stringify(name)}`);
  checkWriter(ctx, caller, node);
  const heartbeat = node.sub_kind !== SUBKIND_OPENSSH;
  const expires = heartbeat ? new Date(ctx.clock.now().getTime() + (body.ttl ?? DEFAULT_NODE_TTL_MS)) : undefined;
  const stored = parseNode({ ...nodeToWire(node), metadata: { ...node.metadata, ...(expires ? { expires: expires.toISOString() } : {}) } });
  // An agent's heartbeat is not read back through this process; a node registered by hand is (`tctl get nodes`).
  await (heartbeat ? ctx.heartbeats : ctx.backend).put({ key: nodeKey(name), value: encodeJson(nodeToWire(stored)), ...(expires ? { expires } : {}) });
  if (!heartbeat) ctx.logger.info('node registered', { name, hostname: node.spec.hostname, user: actorName(caller) });
  return nodeToWire(stored);
}

/** A stored node with its expiry, in the forms a listing needs (parsed and serialised once per heartbeat). */
const storedNode = decodedPerItem((item) => {
  const raw = decodeJson(item) as { metadata?: Record<string, unknown> };
  const node = parseNode({ ...raw, metadata: { ...raw.metadata, ...(item.expires ? { expires: item.expires.toISOString() } : {}) } });
  return { key: item.key, node, labels: nodeLabels(node), json: JSON.stringify(nodeToWire(node)) };
});

const nodeOrder = listingOrder<ReturnType<typeof storedNode>>((a, b) => compareNodes(a.node, b.node));

/** Live nodes, by hostname then name; users see those their `node_labels` allow. */
export async function getNodes(ctx: AuthContext, caller: Caller): Promise<JsonText> {
  const authed = requireAuthenticated(caller);
  if (authed.kind === 'builtin') authorize(caller, 'node', 'list', 'read');
  const nodes = nodeOrder((await getAllWithPrefix(ctx.cache, NODES_PREFIX)).map(storedNode));
  return itemsJson(authed.kind === 'user' ? nodes.filter((n) => authed.checker.isNodeVisible(n.labels)) : nodes);
}

export async function deleteNode(ctx: AuthContext, caller: Caller, name: string): Promise<Record<string, never>> {
  authorize(caller, 'node', 'delete');
  try {
    await ctx.backend.delete(nodeKey(name));
  } catch (err) {
    if (isNotFound(err)) throw new NotFoundError(`node ${JSON.stringify(name)} is not found`);
    throw err;
  }
  return {};
}
