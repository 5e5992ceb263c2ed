/**
 * Which node an SSH connection at the proxy goes to: the target a client names (a hostname, a node UUID, or an
 * address `host:port`) resolved among the registered nodes, with Teleport's rules and texts: a UUID-like target
 * prefers the node of that exact name, several matches are `ambiguous host could match multiple nodes`, and no
 * match is `direct dialing to nodes not found in inventory is not supported` (the proxy never dials a host the
 * cluster does not know).
 */

import type { AuthClient } from '@teleport-ts/core/api';
import { ConnectionProblemError, NotFoundError } from '@teleport-ts/core/errors';
import type { NodeServer } from '@teleport-ts/core/types';

/** How long the list of nodes is reused. */
const NODES_MAX_AGE_MS = 1_000;
const UUID_LIKE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface NodeDirectory {
  /** The one node `host` (and `port`, 0 for any) names. */
  resolve(host: string, port: number): Promise<NodeServer>;
}

/** `host` and the port of `addr` (`host:port`, IPv6 in brackets). */
function splitAddr(addr: string): { host: string; port: number } | undefined {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(addr);
  return m ? { host: m[1]!, port: Number(m[2]) } : undefined;
}

/**
 * Whether `node` is the target: its UUID or hostname (either also as `<name>.<cluster>`, the form OpenSSH clients
 * use with `tsh config`), or its address.
 */
function matches(node: NodeServer, target: { host: string; port: number }, clusterName: string): boolean {
  const { host, port } = target;
  const suffix = `.${clusterName}`;
  const bare = host.endsWith(suffix) ? host.slice(0, -suffix.length) : undefined;
  for (const name of [node.metadata.name, node.spec.hostname]) if (name === host || name === bare) return true;
  const addr = splitAddr(node.spec.addr);
  return addr !== undefined && addr.host === host && (port === 0 || port === addr.port);
}

/**
 * Resolves a target among `nodes` with Teleport's rules.
 *
 * @throws NotFoundError (ambiguous, or a UUID-like target that matches nothing), ConnectionProblemError (no match).
 */
export function resolveNode(nodes: readonly NodeServer[], target: { host: string; port: number }, clusterName: string): NodeServer {
  let found = nodes.filter((n) => matches(n, target, clusterName));
  const id = target.host.endsWith(`.${clusterName}`) ? target.host.slice(0, -clusterName.length - 1) : target.host;
  const uuidLike = UUID_LIKE.test(id);
  if (uuidLike && found.length > 1) {
    const exact = found.find((n) => n.metadata.name === id);
    if (exact) found = [exact];
  }
  if (found.length > 1) {
    throw new NotFoundError('ambiguous host could match multiple nodes', {
      code: 'ERR_TP_NODE_AMBIGUOUS',
      hint: "try addressing the node by unique id (ex: tsh ssh user@node-id); use 'tsh ls -v' to list all nodes with their unique ids",
    });
  }
  const [node] = found;
  if (node !== undefined) return node;
  if (uuidLike) throw new NotFoundError(`unable to locate node matching UUID-like target ${target.host}`, { code: 'ERR_TP_NODE_ID_NOT_FOUND' });
  throw new ConnectionProblemError('direct dialing to nodes not found in inventory is not supported', {
    code: 'ERR_TP_NODE_NOT_FOUND',
    hint: 'tsh ls lists the nodes of the cluster',
  });
}

/** The target of a request: `host` may carry the port (`host:port`, `[v6]:port`), which then wins over `port`. */
export function parseTarget(host: string, port: number): { host: string; port: number } {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(host);
  if (bracketed) return { host: bracketed[1]!, port: bracketed[2] !== undefined ? Number(bracketed[2]) : port };
  const colons = host.split(':').length - 1;
  const withPort = colons === 1 ? /^(.+):(\d+)$/.exec(host) : null;
  return withPort ? { host: withPort[1]!, port: Number(withPort[2]) } : { host, port };
}

/** @example `const nodes = newNodeDirectory({ auth, clusterName }); const node = await nodes.resolve('web-1', 0);` */
export function newNodeDirectory(options: { auth: Pick<AuthClient, 'getNodes'>; clusterName: string }): NodeDirectory {
  let cached: { at: number; nodes: Promise<NodeServer[]> } | undefined;
  const list = (): Promise<NodeServer[]> => {
    const now = performance.now();
    if (cached === undefined || now - cached.at > NODES_MAX_AGE_MS) {
      const nodes = options.auth.getNodes();
      cached = { at: now, nodes };
      nodes.catch(() => {
        cached = undefined;
      });
    }
    return cached.nodes;
  };
  return {
    async resolve(host, port) {
      const target = parseTarget(host, port);
      try {
        return resolveNode(await list(), target, options.clusterName);
      } catch {
        // A node that just joined may be missing from a list read a moment ago: read it once more.
        cached = undefined;
        return resolveNode(await list(), target, options.clusterName);
      }
    },
  };
}
