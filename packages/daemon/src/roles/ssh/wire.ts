/**
 * What the proxy tells a node when it opens a reverse tunnel stream for an SSH connection: the header frame's
 * metadata. The bytes that follow are the client's raw SSH protocol; the node's SSH server authenticates the user
 * again from the SSH certificate (end to end).
 */

import { BadParameterError } from '@teleport-ts/core/errors';
import type { TunnelStreamMeta } from '@teleport-ts/core/tunnel';

/** `protocol` of SSH streams. */
export const SSH_STREAM_PROTOCOL = 'ssh';

/** Metadata of an SSH stream. */
export interface SshStreamMeta extends TunnelStreamMeta {
  /** The node's host UUID. */
  service: string;
  protocol: typeof SSH_STREAM_PROTOCOL;
  /** The Teleport user the proxy verified (for logs; the node trusts only the SSH certificate). */
  user: string;
  /** `IP:port` of the client as the proxy saw it. */
  clientAddr: string;
}

/** Reads the metadata of an SSH stream; throws BadParameterError when it is not one. */
export function parseSshStreamMeta(meta: TunnelStreamMeta): SshStreamMeta {
  if (meta.protocol !== SSH_STREAM_PROTOCOL) throw new BadParameterError(`this node serves only ${SSH_STREAM_PROTOCOL} streams`);
  return {
    service: meta.service,
    protocol: SSH_STREAM_PROTOCOL,
    user: typeof meta['user'] === 'string' ? meta['user'] : '',
    clientAddr: typeof meta.clientAddr === 'string' ? meta.clientAddr : '',
  };
}
