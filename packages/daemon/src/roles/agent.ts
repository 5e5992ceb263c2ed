/** What every agent (the db agent, the node) reads the same way from its identity (tunnels: `agent-tunnels.ts`). */

import type { Identity } from '@teleport-ts/core/api';
import { parseIdentity } from '@teleport-ts/core/ca';

/** The cluster's name and this agent's host id, as its certificate says (the host UUID when it does not). */
export function clusterAndHostId(identity: Identity, hostUuid: string): { clusterName: string; hostId: string } {
  const certIdentity = parseIdentity(identity.cert);
  const clusterName = certIdentity.teleportCluster ?? identity.clusterName ?? '';
  const suffix = `.${clusterName}`;
  const hostId = certIdentity.username.endsWith(suffix) ? certIdentity.username.slice(0, -suffix.length) : hostUuid;
  return { clusterName, hostId };
}
