import { newAuditEvent, type AuditEventFields, type AuditEventKey, type AuditEventStore } from '@teleport-ts/core/audit';
import type { Backend } from '@teleport-ts/core/backend';
import type { Clock } from '@teleport-ts/core/clock';
import type { StaticToken, TunnelStrategyConfig } from '@teleport-ts/core/config';
import { redact } from '@teleport-ts/core/errors';
import type { CertAuthority, CertAuthorityType } from '@teleport-ts/core/ca';
import {
  newAccessService,
  newAccessRequestService,
  newClusterConfigService,
  newIdentityService,
  newLockService,
  newProvisioningService,
  newTrustService,
  type AccessService,
  type AccessRequestService,
  type ClusterConfigService,
  type IdentityService,
  type LockService,
  type ProvisioningService,
  type TrustService,
} from '@teleport-ts/core/services';
import { defaultAuthPreference, type AccessRequest, type AuthPreference, type Lock } from '@teleport-ts/core/types';
import type { Logger } from '../../logger.js';
import { newLockView } from './locks.js';

/** Everything the auth operations share: storage, audit, clock, logger and the cluster's fixed facts. */
export interface AuthContext {
  backend: Backend;
  audit: AuditEventStore;
  config: ClusterConfigService;
  identity: IdentityService;
  access: AccessService;
  locks: LockService;
  /** The locks as each request's caller check reads them (cached; see {@link newLockView}). */
  lockView: () => Promise<readonly Lock[]>;
  accessRequests: AccessRequestService;
  /** Tells the notifiers (the webhook) that a request was created or decided; never throws, never waits. */
  notifyAccessRequest(event: AccessRequestEvent, request: AccessRequest): void;
  provisioning: ProvisioningService;
  trust: TrustService;
  clock: Clock;
  logger: Logger;
  clusterName: string;
  hostUuid: string;
  /** `host:port` users reach the proxy at: invite links point there. */
  proxyPublicAddr: string;
  staticTokens: readonly StaticToken[];
  /** `auth_service.tunnel_strategy`: how agents reach proxies. */
  tunnelStrategy: TunnelStrategyConfig;
  /** Records an audit event; a failure to store it is logged, not raised. */
  emit(key: AuditEventKey, fields: AuditEventFields): Promise<void>;
  /** The stored auth preference (the default when none is stored). */
  authPreference(): Promise<AuthPreference>;
  /** The CA of this cluster, with its keys. */
  certAuthority(type: CertAuthorityType): Promise<CertAuthority>;
  /** Called after a CA changed here, so the server reloads its trust without waiting for the watcher. */
  onTrustChanged(): void;
}

/** What notifiers hear about. */
export type AccessRequestEvent = 'created' | 'decided';

export interface NewAuthContextOptions {
  backend: Backend;
  audit: AuditEventStore;
  clock: Clock;
  logger: Logger;
  clusterName: string;
  hostUuid: string;
  proxyPublicAddr: string;
  staticTokens?: readonly StaticToken[];
  tunnelStrategy?: TunnelStrategyConfig;
  onTrustChanged?: () => void;
  onAccessRequest?: (event: AccessRequestEvent, request: AccessRequest) => void;
}

/** Wires the storage services and the audit emitter into an {@link AuthContext}. */
export function newAuthContext(options: NewAuthContextOptions): AuthContext {
  const { backend, audit, clock, logger, clusterName } = options;
  const config = newClusterConfigService(backend);
  const trust = newTrustService(backend);
  const locks = newLockView(newLockService(backend));
  return {
    backend,
    audit,
    config,
    identity: newIdentityService({ backend, clock }),
    access: newAccessService(backend),
    locks: locks.locks,
    lockView: locks.view,
    accessRequests: newAccessRequestService(backend),
    notifyAccessRequest: (event, request) => {
      try {
        options.onAccessRequest?.(event, request);
      } catch (err) {
        logger.warn('access request notifier failed', { error: redact((err as Error).message) });
      }
    },
    provisioning: newProvisioningService(backend),
    trust,
    clock,
    logger,
    clusterName,
    hostUuid: options.hostUuid,
    proxyPublicAddr: options.proxyPublicAddr,
    staticTokens: options.staticTokens ?? [],
    tunnelStrategy: options.tunnelStrategy ?? { type: 'agent_mesh' },
    async emit(key, fields) {
      const event = newAuditEvent(key, { cluster_name: clusterName, ...fields }, { clock });
      try {
        await audit.emit(event);
      } catch (err) {
        logger.error('failed to store an audit event', { event: event.event, code: event.code, error: redact((err as Error).message) });
      }
    },
    authPreference: async () => (await config.getAuthPreference()) ?? defaultAuthPreference(),
    certAuthority: async (type) => (await trust.getCertAuthority(type, clusterName)).ca,
    onTrustChanged: options.onTrustChanged ?? (() => {}),
  };
}
