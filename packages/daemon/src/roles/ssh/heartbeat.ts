/**
 * The node's heartbeat: its `node` resource (host UUID, hostname, labels static and dynamic, address when it listens
 * directly), announced for `ttlMs` and renewed every `intervalMs` (sooner after a label change; after a failure,
 * retried after a jittered, growing delay: `../heartbeat-timing.ts`).
 */

import type { AuthClient } from '@teleport-ts/core/api';
import { redact } from '@teleport-ts/core/errors';
import { parseNode, SUBKIND_TELEPORT, type CommandLabel, type NodeServer } from '@teleport-ts/core/types';
import { VERSION } from '@teleport-ts/core/version';
import type { Logger } from '../../logger.js';
import { DEFAULT_HEARTBEAT, heartbeatRetryDelay } from '../heartbeat-timing.js';

/** Defaults of the node heartbeat: renewed every 60 s, kept for 90 s ({@link DEFAULT_HEARTBEAT}). */
export const DEFAULT_NODE_HEARTBEAT = DEFAULT_HEARTBEAT;

export interface NodeHeartbeatOptions {
  auth: Pick<AuthClient, 'upsertNode'>;
  hostId: string;
  nodename: string;
  /** `host:port` clients may dial directly, or `''` (reached only through the reverse tunnel). */
  addr: string;
  labels: Readonly<Record<string, string>>;
  cmdLabels: () => Record<string, CommandLabel>;
  heartbeat: { ttlMs: number; intervalMs: number };
  logger: Logger;
}

export interface NodeHeartbeat {
  /** Resolves after the first announcement the auth server took. */
  readonly firstAnnounced: Promise<void>;
  /** Announces now (a label changed). */
  now(): void;
  close(): void;
}

/** The node resource as it is now. */
function nodeResource(options: Omit<NodeHeartbeatOptions, 'auth' | 'heartbeat' | 'logger'>): NodeServer {
  const cmdLabels = options.cmdLabels();
  return parseNode({
    kind: 'node',
    sub_kind: SUBKIND_TELEPORT,
    version: 'v2',
    metadata: { name: options.hostId, ...(Object.keys(options.labels).length > 0 ? { labels: { ...options.labels } } : {}) },
    spec: {
      addr: options.addr,
      hostname: options.nodename,
      use_tunnel: true,
      version: VERSION,
      ...(Object.keys(cmdLabels).length > 0 ? { cmd_labels: cmdLabels } : {}),
    },
  });
}

/**
 * @example
 * ```ts
 * const beat = startNodeHeartbeat({ auth, hostId, nodename, addr: '', labels, cmdLabels: () => ({}), heartbeat: DEFAULT_NODE_HEARTBEAT, logger });
 * await beat.firstAnnounced;
 * ```
 */
export function startNodeHeartbeat(options: NodeHeartbeatOptions): NodeHeartbeat {
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let announced = false;
  let failures = 0;
  let resolveFirst: () => void = () => {};
  const firstAnnounced = new Promise<void>((resolve) => (resolveFirst = resolve));
  const beat = async (): Promise<void> => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    let delay = options.heartbeat.intervalMs;
    try {
      await options.auth.upsertNode(nodeResource(options), { ttl: options.heartbeat.ttlMs });
      failures = 0;
      if (!announced) {
        announced = true;
        resolveFirst();
        options.logger.info('node announced', { host_id: options.hostId, hostname: options.nodename });
      }
    } catch (err) {
      delay = heartbeatRetryDelay(++failures, delay);
      if (!closed) options.logger.warn('node heartbeat failed, retrying', { error: redact((err as Error).message) });
    }
    if (closed || timer !== undefined) return;
    timer = setTimeout(() => void beat(), delay);
  };
  void beat();
  return {
    firstAnnounced,
    now: () => void beat(),
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
    },
  };
}
