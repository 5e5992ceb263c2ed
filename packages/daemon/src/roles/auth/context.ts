import { newAuditEvent, type AuditEventFields, type AuditEventKey, type AuditEventStore } from '@teleport-ts/core/audit';
import { DEFAULT_SESSION_RECORDING_MODE, type SessionRecordingMode } from '@teleport-ts/core/api';
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
import type { SessionRecordingStore } from './recording-store.js';

/** Everything the auth operations share: storage, audit, clock, logger and the cluster's fixed facts. */
export interface AuthContext {
  /** The backend for writes and for reads that must see the latest revision (writes are remembered by the cache). */
  backend: Backend;
  /** The same storage, with the hot prefixes read from the cache (`core/cache`); `backend` when there is none. */
  cache: Backend;
  /**
   * Where agents' heartbeats (nodes, database servers) are put: the backend, without the cache's read-your-writes
   * marking (nobody reads a heartbeat back through the process that wrote it; see `core/cache` `newFacades`).
   */
  heartbeats: Backend;
  audit: AuditEventStore;
  config: ClusterConfigService;
  identity: IdentityService;
  access: AccessService;
  locks: LockService;
  /** The locks as each request's caller check reads them (from the cache; see {@link newLockView}). */
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
  /** `auth_service.session_recording`: where agents record SSH sessions. */
  sessionRecording: SessionRecordingMode;
  /** Where session recordings are stored (`teleport.storage.audit_sessions_uri`). */
  recordings: SessionRecordingStore;
  /** `auth_service.tunnel_strategy`: how agents reach proxies. */
  tunnelStrategy: TunnelStrategyConfig;
  /** Records an audit event; a failure to store it is logged, not raised. */
  emit(key: AuditEventKey, fields: AuditEventFields): Promise<void>;
  /** The stored auth preference (the default when none is stored). */
  authPreference(): Promise<AuthPreference>;
  /** The CA of this cluster, with its keys (from the cache). */
  certAuthority(type: CertAuthorityType): Promise<CertAuthority>;
  /** Every CA of a type, one per cluster (from the cache). */
  certAuthorities(type: CertAuthorityType): Promise<CertAuthority[]>;
  /** Called after a CA changed here, so the server reloads its trust without waiting for the watcher. */
  onTrustChanged(): void;
}

/** What notifiers hear about. */
export type AccessRequestEvent = 'created' | 'decided';

export interface NewAuthContextOptions {
  backend: Backend;
  /** The cache's facades (`core/cache`): `direct` for writes and strong reads, `cached` for the hot reads, `heartbeats`. */
  cache?: { cached: Backend; direct: Backend; heartbeats: Backend };
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
  recordings: SessionRecordingStore;
  /** Default `node`. */
  sessionRecording?: SessionRecordingMode;
}

/** Wires the storage services and the audit emitter into an {@link AuthContext}. */
export function newAuthContext(options: NewAuthContextOptions): AuthContext {
  const { audit, clock, logger, clusterName } = options;
  const backend = options.cache?.direct ?? options.backend;
  const cached = options.cache?.cached ?? options.backend;
  const config = newClusterConfigService(cached);
  // Rotations read-modify-write CAs by revision: `trust` reads the backend; issuance reads the cache.
  const trust = newTrustService(backend);
  const cachedTrust = newTrustService(cached);
  return {
    backend,
    cache: cached,
    heartbeats: options.cache?.heartbeats ?? options.backend,
    audit,
    config,
    identity: newIdentityService({ backend, reads: cached, clock }),
    access: newAccessService(cached),
    locks: newLockService(cached),
    lockView: newLockView(cached),
    accessRequests: newAccessRequestService(backend),
    notifyAccessRequest: (event, request) => {
      try {
        options.onAccessRequest?.(event, request);
      } catch (err) {
        logger.warn('access request notifier failed', { error: redact((err as Error).message) });
      }
    },
    provisioning: newProvisioningService(cached),
    trust,
    clock,
    logger,
    clusterName,
    hostUuid: options.hostUuid,
    proxyPublicAddr: options.proxyPublicAddr,
    staticTokens: options.staticTokens ?? [],
    sessionRecording: options.sessionRecording ?? DEFAULT_SESSION_RECORDING_MODE,
    recordings: options.recordings,
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
    certAuthority: async (type) => (await cachedTrust.getCertAuthority(type, clusterName)).ca,
    certAuthorities: async (type) => (await cachedTrust.getCertAuthorities(type)).map((stored) => stored.ca),
    onTrustChanged: options.onTrustChanged ?? (() => {}),
  };
}
