/**
 * The node's own SSH server (`./server/`, `newNodeSshServer`) wired to the cluster: the user CA keys from the auth
 * server (kept fresh, rotation included), the access check over the user's roles and this node's labels, the locks,
 * the audit log (through the auth server, as the db agent sends its events) and the session recordings.
 */

import path from 'node:path';
import type { AuthClient } from '@teleport-ts/core/api';
import { AUDIT_EVENTS, type AuditEventFields, type AuditEventKey } from '@teleport-ts/core/audit';
import { trustedSshKeys } from '@teleport-ts/core/ca';
import type { Clock } from '@teleport-ts/core/clock';
import { redact } from '@teleport-ts/core/errors';
import type { Logger } from '../../logger.js';
import { newServiceAuditEmitter } from '../db/audit.js';
import { startLockWatcher } from '../lockwatcher.js';
import { AGENT_CACHE_PREFIXES, AGENT_CACHE_SETTINGS, openRemoteCache, withCachedReads } from '../remote-cache.js';
import type { SshStreamHandler } from './handler.js';
import type { NodeIdentityInfo } from './service.js';
import { startSessionRecording, type SessionRecording, type SessionRecordingOptions } from './recording/index.js';
import { newNodeSshServer, newRoleAccess, type SshAuditEventName, type SshAuditFields } from './server/index.js';

/** How often the user CA keys are read again (a rotation is seen within that long). */
const USER_CA_REFRESH_MS = 30_000;

/** How often the node re-reads locks from its cache (a memory read). */
const CACHED_LOCK_REFRESH_MS = 250;

/** The user CA's SSH keys as `authorized_keys` lines, read now and every {@link USER_CA_REFRESH_MS}. */
export function userCaKeys(auth: Pick<AuthClient, 'getCertAuthorities'>, clusterName: string, logger: Logger): { current(): readonly string[]; ready: Promise<void>; refresh(): void; close(): void } {
  let keys: readonly string[] = [];
  const fetch = async (): Promise<void> => {
    try {
      const cas = await auth.getCertAuthorities('user');
      keys = cas.filter((ca) => ca.spec.cluster_name === clusterName).flatMap(trustedSshKeys);
    } catch (err) {
      logger.warn('could not read the user CA, keeping the last known keys', { error: redact((err as Error).message) });
    }
  };
  const timer = setInterval(() => void fetch(), USER_CA_REFRESH_MS);
  timer.unref();
  return { current: () => keys, ready: fetch(), refresh: () => void fetch(), close: () => clearInterval(timer) };
}

/** Sends the server's events to the audit log; events the catalogue does not have yet are logged instead. */
export function auditOf(emitter: { emit(key: AuditEventKey, fields: AuditEventFields): void }, logger: Logger): { emit(event: SshAuditEventName, fields: SshAuditFields): void } {
  return {
    emit(name, fields) {
      // Teleport's exec event has its own code when the command failed (T3002E).
      const event = name === 'exec' && fields['exitCode'] !== 0 ? 'execFailure' : name;
      if (Object.hasOwn(AUDIT_EVENTS, event)) emitter.emit(event as AuditEventKey, fields as AuditEventFields);
      else logger.info(`ssh ${event}`, Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : v])));
    },
  };
}

/**
 * The session recording (`recording/`) of a node (or of the proxy, for agentless nodes), started at once so that what
 * a previous run left on disk is uploaded; when the auth server cannot be asked for the mode, the next session asks
 * again.
 */
export function lazyRecording(
  where: Pick<SessionRecordingOptions, 'dataDir' | 'client' | 'at'>,
  options: { clock: Clock; logger: Logger },
): { get(): Promise<SessionRecording>; close(): Promise<void> } {
  let started: Promise<SessionRecording> | undefined;
  const get = (): Promise<SessionRecording> =>
    (started ??= startSessionRecording({ ...where, logger: options.logger, clock: options.clock }).catch((err: unknown) => {
      started = undefined;
      throw err;
    }));
  get().catch((err: unknown) => options.logger.warn('session recording could not start yet', { error: redact((err as Error).message) }));
  return {
    get,
    close: async () => {
      const running = await started?.catch(() => undefined);
      await running?.close();
    },
  };
}

/**
 * The node's SSH server for `startNodeService`'s `sshServer`.
 *
 * @example
 * ```ts
 * startNodeService({ ..., sshServer: (info) => clusterSshServer(info, { clock, logger }) });
 * ```
 */
export function clusterSshServer(info: NodeIdentityInfo, options: { clock: Clock; logger: Logger }): SshStreamHandler {
  const { identity, auth, clusterName, hostId, nodename } = info;
  const { logger, clock } = options;
  // CAs, roles and locks from a cache fed by the auth server's watch: sessions keep being checked while it is unreachable.
  const cache = openRemoteCache({ auth, prefixes: AGENT_CACHE_PREFIXES, name: 'node', clock, logger, settings: AGENT_CACHE_SETTINGS });
  const reads = withCachedReads(auth, cache.reads);
  const cas = userCaKeys(reads, clusterName, logger);
  const locks = startLockWatcher({ auth: reads, clock, refreshMs: CACHED_LOCK_REFRESH_MS, onError: (err) => logger.warn('could not fetch locks, keeping the last known ones', { error: redact((err as Error).message) }) });
  const audit = newServiceAuditEmitter({ auth, clock, logger, spoolFile: path.join(info.dataDir, 'log', 'audit-spool', 'node.jsonl') });
  const recording = lazyRecording({ dataDir: info.dataDir, client: auth, at: 'node' }, options);
  const newServer = (hostKey: string, hostCert: string) => newNodeSshServer({
    hostKey,
    hostCert,
    clusterName,
    nodeName: nodename,
    hostUUID: hostId,
    userCAs: cas.current,
    access: newRoleAccess({ getRole: (name) => reads.getRole(name), labels: info.labels, nodeName: nodename }),
    locks,
    audit: auditOf(audit, logger),
    recorder: async (start) => (await recording.get()).recorder(start),
    clock,
  });
  let server = newServer(identity.sshKey!, identity.sshCert!);
  // Servers of earlier host certificates keep the connections they hold until the node stops.
  const earlier: (typeof server)[] = [];
  return {
    handle: (stream, remoteAddr) => {
      // The first connections may arrive before the user CA was read once.
      void cas.ready.then(() => server.handle(stream, remoteAddr));
    },
    renewHostCert(hostKey, hostCert) {
      earlier.push(server);
      server = newServer(hostKey, hostCert);
    },
    refreshTrust: () => cas.refresh(),
    async close() {
      cas.close();
      locks.close();
      await Promise.all([server, ...earlier].map((s) => s.close()));
      await recording.close();
      await audit.close();
      await cache.close();
    },
  };
}
