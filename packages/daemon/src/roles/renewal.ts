/**
 * Identities that renew themselves (agents and proxies; the auth server reloads its own in `auth/server.ts`).
 *
 * A loop per identity looks at the host and user CAs (every `pollMs`, and just after each scheduled phase of an
 * automatic rotation) and:
 * - trusts what the host CA trusts now (new keys from `init` on, so the auth server's new certificate is accepted
 *   when it switches at `update_servers`);
 * - asks for new certificates with the current ones (`POST /certs/reissue`, or in process next to the auth service)
 *   when the signing key moved (`update_servers`, `rollback`) or at two thirds of the certificate's lifetime (jittered);
 * - tells the process (`onRenewed`: new TLS contexts for new connections, tunnels replaced one by one, existing
 *   sessions untouched) and keeps the identity on disk;
 * - reports which rotation of each CA it caught up with (`PUT /instances/<role>`), which `tctl auth rotate status`
 *   compares with the CAs.
 *
 * The identity object is updated in place, so code that reads `identity.cert` when it dials uses the new one.
 */

import { randomInt, X509Certificate } from 'node:crypto';
import { writeIdentity, type AuthClient, type Identity, type InstanceRotation } from '@teleport-ts/core/api';
import {
  BALANCED_V1,
  generateKeyPair,
  needsReissue,
  nextCaCheckDelayMs,
  renewalDelayMs,
  rotationSeen,
  toOpenSshPrivateKey,
  trustedSshKeys,
  trustedTlsCerts,
  type CertAuthority,
} from '@teleport-ts/core/ca';
import type { Clock } from '@teleport-ts/core/clock';
import { NotFoundError, redact } from '@teleport-ts/core/errors';
import type { Logger } from '../logger.js';

/** Default pause between two looks at the CAs when nothing else asks (the CA watch stream and the scheduled phases of a rotation come sooner). */
const DEFAULT_CA_POLL_MS = 30_000;
/** A report is sent again after this long even when nothing changed (the auth server keeps it 10 minutes). */
const REPORT_EVERY_MS = 60_000;
/** Retry pause after a failure (the auth server unreachable, a reissue refused). */
const RETRY_MS = 2_000;
/** After an announced CA change that a look did not show yet: look again this soon, this many times. */
const ANNOUNCED_RETRY_MS = 250;
const ANNOUNCED_LOOKS = 20;

/** The auth API calls the loop makes. */
type RenewalAuthApi = Pick<AuthClient, 'getCertAuthorities' | 'upsertInstance' | 'watchCertAuthorities'>;

interface IdentityRenewalOptions {
  /** The process's identity; updated in place when renewed. */
  identity: Identity;
  /** Its system role (`Db`, `Node`, `Proxy`). */
  role: string;
  hostname: string;
  clusterName: string;
  /** The current auth client (it changes when the identity does). */
  auth: () => RenewalAuthApi;
  /** New certificates for the identity (key, cert, ssh key and cert; trust comes from the CAs). */
  reissue: (current: Identity) => Promise<Pick<Identity, 'key' | 'cert' | 'sshKey' | 'sshCert'>>;
  /** Keeps the renewed identity (an agent's `<data_dir>/<role>/`). */
  persist?: (identity: Identity) => Promise<void>;
  /** The identity changed (`cert`: a new certificate, else only what it trusts). */
  onRenewed: (identity: Identity, changed: { cert: boolean }) => Promise<void> | void;
  /** A CA's rotation moved: caches of trusted CAs should be read again. */
  onCasChanged?: () => void;
  clock: Clock;
  logger: Logger;
  pollMs?: number;
}

export interface IdentityRenewal {
  /** Resolves after the first look at the CAs (succeeded or not). */
  readonly firstCheck: Promise<void>;
  /** Looks at the CAs now (e.g. a certificate from an unknown CA was seen). */
  checkNow(): void;
  close(): Promise<void>;
}

interface RenewalState {
  readonly options: IdentityRenewalOptions;
  /** When the certificate should be renewed (epoch ms, clock time). */
  renewAtMs: number;
  /** Rotations as last seen, `host/user` ids and phases, to notice a change. */
  lastRotations: string;
  lastReport: { key: string; atMs: number };
  timer: NodeJS.Timeout | undefined;
  running: Promise<void> | undefined;
  /** A change arrived while a check was running: check again right after. */
  again: boolean;
  /**
   * Looks left after a change was announced: the CAs the auth server answers with come from its cache, which may
   * lag behind the watch that announced the change, so a look that sees nothing new is repeated shortly.
   */
  announced: number;
  /** Ends the CA watch stream. */
  watch: AbortController;
  closed: boolean;
}

function renewAt(identity: Identity, nowMs: number): number {
  const cert = new X509Certificate(identity.cert);
  const validity = { notBefore: new Date(cert.validFrom), notAfter: new Date(cert.validTo) };
  return nowMs + renewalDelayMs({ ...validity, nowMs, random: randomInt(1_000_000) / 1_000_000 });
}

const sameSet = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x) => b.includes(x));

async function readCa(s: RenewalState, type: 'host' | 'user'): Promise<CertAuthority> {
  const ca = (await s.options.auth().getCertAuthorities(type)).find((c) => c.spec.cluster_name === s.options.clusterName);
  if (ca === undefined) throw new NotFoundError(`the ${type} CA of ${s.options.clusterName} was not found`);
  return ca;
}

/** Brings the identity up to date with the host CA; true for (trust changed, certificate changed). */
async function updateIdentity(s: RenewalState, hostCa: CertAuthority): Promise<{ trust: boolean; cert: boolean }> {
  const { identity, clock } = s.options;
  const trusted = trustedTlsCerts(hostCa);
  const trust = !sameSet(trusted, identity.caCerts);
  if (trust) {
    identity.caCerts = trusted;
    if (identity.sshCaKeys !== undefined) identity.sshCaKeys = trustedSshKeys(hostCa);
  }
  const nowMs = clock.now().getTime();
  const rotated = needsReissue(hostCa, identity.cert);
  if (!rotated && nowMs < s.renewAtMs) return { trust, cert: false };
  const renewed = await s.options.reissue(identity);
  Object.assign(identity, renewed);
  s.renewAtMs = renewAt(identity, clock.now().getTime());
  s.options.logger.info('host identity renewed', { role: s.options.role, reason: rotated ? `host CA rotation (${hostCa.spec.rotation.phase})` : 'expiry' });
  return { trust, cert: true };
}

/** Sends the report when what it says changed, or every {@link REPORT_EVERY_MS}. */
async function report(s: RenewalState, host: InstanceRotation, user: InstanceRotation): Promise<void> {
  const key = JSON.stringify([host, user]);
  const nowMs = performance.now();
  if (key === s.lastReport.key && nowMs - s.lastReport.atMs < REPORT_EVERY_MS) return;
  await s.options.auth().upsertInstance({ hostname: s.options.hostname, role: s.options.role, host, user });
  s.lastReport = { key, atMs: nowMs };
}

/** One look at the CAs; resolves with the pause before the next. */
async function checkOnce(s: RenewalState): Promise<number> {
  const { options } = s;
  const [hostCa, userCa] = await Promise.all([readCa(s, 'host'), readCa(s, 'user')]);
  const changed = await updateIdentity(s, hostCa);
  if (changed.trust || changed.cert) {
    await options.persist?.(options.identity);
    await options.onRenewed(options.identity, { cert: changed.cert });
  }
  const rotations = JSON.stringify([hostCa.spec.rotation, userCa.spec.rotation]);
  const stale = rotations === s.lastRotations && s.announced > 0;
  s.announced = stale ? s.announced - 1 : 0;
  if (rotations !== s.lastRotations) {
    if (s.lastRotations !== '') {
      options.logger.info('certificate authority rotation seen', { host: hostCa.spec.rotation.phase, user: userCa.spec.rotation.phase });
      options.onCasChanged?.();
    }
    s.lastRotations = rotations;
  }
  await report(s, rotationSeen(hostCa.spec.rotation), rotationSeen(userCa.spec.rotation));
  const nowMs = options.clock.now().getTime();
  // Spread agents over half a second after a phase: they do not all ask at the same moment.
  const next = nextCaCheckDelayMs([hostCa, userCa], { nowMs, pollMs: options.pollMs ?? DEFAULT_CA_POLL_MS, slackMs: 100 + randomInt(500) });
  return Math.min(next, Math.max(0, s.renewAtMs - nowMs), stale ? ANNOUNCED_RETRY_MS : Number.POSITIVE_INFINITY);
}

function schedule(s: RenewalState, delayMs: number): void {
  if (s.closed) return;
  clearTimeout(s.timer);
  s.timer = setTimeout(() => void run(s), delayMs);
  s.timer.unref();
}

function run(s: RenewalState): Promise<void> {
  if (s.closed) return Promise.resolve();
  if (s.running) {
    s.again = true;
    return s.running;
  }
  clearTimeout(s.timer);
  s.running = checkOnce(s)
    .catch((err: unknown) => {
      s.options.logger.warn('could not check the host identity against the CAs, retrying', { error: redact((err as Error).message) });
      return RETRY_MS + randomInt(1_000);
    })
    .then((delayMs) => {
      s.running = undefined;
      const again = s.again;
      s.again = false;
      schedule(s, again ? 0 : delayMs);
    });
  return s.running;
}

/**
 * Follows `GET /cas/watch`: a CA change (a rotation started or moved, on any auth server) is looked at at once, so
 * even a short grace period is followed; the poll stays as the fallback while the stream is down.
 */
async function followCaChanges(s: RenewalState): Promise<void> {
  while (!s.closed) {
    try {
      for await (const event of s.options.auth().watchCertAuthorities(s.watch.signal)) {
        if (s.closed) break;
        // After a reconnect (`init`), changes may have been missed: look again.
        if (event === 'init') s.options.logger.info('following certificate authority changes', { role: s.options.role });
        if (event === 'change') s.announced = ANNOUNCED_LOOKS;
        if (event === 'change' || s.lastRotations !== '') void run(s);
      }
    } catch (err) {
      if (!s.closed) s.options.logger.info('certificate authority watch ended, reconnecting', { error: redact((err as Error).message) });
    }
    if (!s.closed) await new Promise((r) => setTimeout(r, RETRY_MS + randomInt(1_000)).unref());
  }
}

/**
 * Starts the renewal loop of one identity.
 *
 * @example
 * ```ts
 * const renewal = startIdentityRenewal({ identity, role: 'Db', hostname, clusterName, auth: () => auth,
 *   reissue: apiReissuer({ auth: () => auth, nodename }), onRenewed: () => tunnels.renew(), clock, logger });
 * ```
 */
function startIdentityRenewal(options: IdentityRenewalOptions): IdentityRenewal {
  const nowMs = options.clock.now().getTime();
  const s: RenewalState = {
    options,
    renewAtMs: renewAt(options.identity, nowMs),
    lastRotations: '',
    lastReport: { key: '', atMs: Number.NEGATIVE_INFINITY },
    timer: undefined,
    running: undefined,
    again: false,
    announced: 0,
    watch: new AbortController(),
    closed: false,
  };
  const firstCheck = run(s);
  const watching = followCaChanges(s);
  return {
    firstCheck,
    checkNow: () => void run(s),
    async close() {
      s.closed = true;
      clearTimeout(s.timer);
      s.watch.abort();
      await s.running;
      await watching;
    },
  };
}

/**
 * Renewal through the auth API (`POST /certs/reissue`, authenticated with the current certificate): new TLS and SSH
 * keys, certificates for the same host id and role.
 */
function apiReissuer(options: {
  auth: () => Pick<AuthClient, 'reissueHostCerts'>;
  nodename: string;
  additionalPrincipals?: readonly string[];
}): IdentityRenewalOptions['reissue'] {
  return async () => {
    const [tlsKeys, sshKeys] = await Promise.all([generateKeyPair(BALANCED_V1['tls-host']), generateKeyPair(BALANCED_V1['ssh-host'], { comment: options.nodename })]);
    const certs = await options.auth().reissueHostCerts({
      nodeName: options.nodename,
      tlsPublicKey: tlsKeys.publicKeyPem,
      sshPublicKey: sshKeys.sshPublicKey,
      ...(options.additionalPrincipals ? { additionalPrincipals: options.additionalPrincipals } : {}),
    });
    return { key: tlsKeys.privateKeyPem, cert: certs.tlsCert, sshKey: toOpenSshPrivateKey(sshKeys.privateKeyPem, options.nodename), sshCert: certs.sshCert };
  };
}

/** An auth client that follows the identity: `renew()` makes a new one for new requests; the old ones close at the end. */
export interface RenewingAuthClient {
  readonly client: AuthClient;
  renew(): void;
}

/**
 * @example
 * ```ts
 * const auth = renewingAuthClient(() => newAuthClient({ addr, identity }));
 * renewal.onRenewed = () => auth.renew();
 * ```
 */
export function renewingAuthClient(make: () => AuthClient): RenewingAuthClient {
  let current = make();
  const retired: AuthClient[] = [];
  const client = new Proxy({} as AuthClient, {
    get(_target, prop) {
      if (prop === 'close') {
        return async () => {
          await Promise.all([current, ...retired.splice(0)].map((c) => c.close()));
        };
      }
      return Reflect.get(current, prop) as unknown;
    },
  });
  return {
    client,
    renew() {
      // Requests in flight (a recording stream) finish on the old client; its idle connections time out.
      retired.push(current);
      current = make();
    },
  };
}

/** Options of {@link startAgentRenewal}. */
export interface AgentRenewalOptions {
  identity: Identity;
  role: 'Db' | 'Node' | 'Proxy';
  nodename: string;
  clusterName: string;
  auth: RenewingAuthClient;
  /** Next to the auth service: certificates issued in process. Else through the auth API. */
  local?: () => Promise<Identity>;
  /** Where a joined agent keeps its identity (written again when renewed). */
  dir?: string;
  additionalPrincipals?: readonly string[];
  /** A new certificate is in `identity` (the auth client was already renewed): new connections should use it. */
  onNewCert: () => void;
  onCasChanged?: () => void;
  clock: Clock;
  logger: Logger;
}

/**
 * The renewal loop of an agent or proxy identity, wired the same way for every role: the auth client follows the
 * identity, a joined agent's identity is written back to its directory, `onNewCert` swaps what serves and dials.
 */
export function startAgentRenewal(o: AgentRenewalOptions): IdentityRenewal {
  const { local, dir } = o;
  return startIdentityRenewal({
    identity: o.identity,
    role: o.role,
    hostname: o.nodename,
    clusterName: o.clusterName,
    auth: () => o.auth.client,
    reissue: local
      ? async () => {
          const { key, cert, sshKey, sshCert } = await local();
          return { key, cert, ...(sshKey !== undefined ? { sshKey } : {}), ...(sshCert !== undefined ? { sshCert } : {}) };
        }
      : apiReissuer({ auth: () => o.auth.client, nodename: o.nodename, ...(o.additionalPrincipals ? { additionalPrincipals: o.additionalPrincipals } : {}) }),
    ...(dir !== undefined ? { persist: (identity: Identity) => writeIdentity(dir, identity) } : {}),
    onRenewed: (_identity, changed) => {
      o.auth.renew();
      if (changed.cert) o.onNewCert();
    },
    ...(o.onCasChanged ? { onCasChanged: o.onCasChanged } : {}),
    clock: o.clock,
    logger: o.logger,
  });
}
