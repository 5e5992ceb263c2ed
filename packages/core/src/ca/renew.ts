/**
 * When a host identity (an agent's, a proxy's) must be issued again, as pure functions: before it expires (at two
 * thirds of its lifetime, jittered so that agents that joined together do not renew together), and when the host
 * CA's rotation moved its signing key (Teleport's agents reload their identity on `update_servers` and on a
 * rollback; during `update_clients` a server keeps the certificate clients still trust).
 */

import { X509Certificate } from 'node:crypto';
import type { CertAuthority, Rotation, RotationPhase } from './authority.js';

/** Fraction of a certificate's lifetime after which it is renewed. */
const RENEW_AT_FRACTION = 2 / 3;
/** Jitter of the renewal time, as a fraction of the lifetime (± half of it). */
const RENEW_JITTER_FRACTION = 1 / 10;

/**
 * Milliseconds from `nowMs` until a certificate valid from `notBefore` to `notAfter` should be renewed: at two
 * thirds of its lifetime, moved by up to ±5 % of the lifetime (`random` in [0, 1)), never negative.
 *
 * @example
 * ```ts
 * setTimeout(renew, renewalDelayMs({ notBefore, notAfter, nowMs: Date.now(), random: Math.random() }));
 * ```
 */
export function renewalDelayMs(o: { notBefore: Date; notAfter: Date; nowMs: number; random: number }): number {
  const lifetime = Math.max(0, o.notAfter.getTime() - o.notBefore.getTime());
  const at = o.notBefore.getTime() + lifetime * RENEW_AT_FRACTION + lifetime * RENEW_JITTER_FRACTION * (o.random - 0.5);
  return Math.max(0, Math.round(at - o.nowMs));
}

/** The TLS CA certificate that signs host certificates now (the first active key); works on CAs without secrets. */
export function signingTlsCert(ca: CertAuthority): string | undefined {
  return ca.spec.active_keys.tls[0]?.cert;
}

/** True when `certPem` was signed by the key of `caCertPem`. */
export function isIssuedBy(certPem: string, caCertPem: string): boolean {
  try {
    return new X509Certificate(certPem).verify(new X509Certificate(caCertPem).publicKey);
  } catch {
    return false;
  }
}

/**
 * Whether a host certificate must be issued again because of the host CA: its issuer is no longer trusted, or the
 * signing key changed and the rotation is past `update_clients` (servers switch at `update_servers`; a rollback
 * switches back to the old key).
 *
 * @example
 * ```ts
 * if (needsReissue(hostCa, identity.cert)) identity = await auth.reissueHostCerts(...);
 * ```
 */
export function needsReissue(hostCa: CertAuthority, certPem: string): boolean {
  const signing = signingTlsCert(hostCa);
  if (signing === undefined) return false;
  if (isIssuedBy(certPem, signing)) return false;
  const trusted = [...hostCa.spec.active_keys.tls, ...hostCa.spec.additional_trusted_keys.tls].some((k) => isIssuedBy(certPem, k.cert));
  return !trusted || hostCa.spec.rotation.phase !== 'update_clients';
}

/** What a process reports about one CA: the rotation it has caught up with. */
export interface RotationSeen {
  current_id?: string;
  /** A {@link RotationPhase}; a string as it comes back from a report. */
  phase: string;
}

/** The part of a CA's rotation a process reports once it acted on it. */
export function rotationSeen(rotation: Rotation): RotationSeen {
  return { ...(rotation.current_id !== undefined ? { current_id: rotation.current_id } : {}), phase: rotation.phase };
}

/** True when a process that reported `seen` has caught up with the CA's rotation. */
export function rotationCaughtUp(ca: CertAuthority, seen: RotationSeen | undefined): boolean {
  const want = rotationSeen(ca.spec.rotation);
  if (seen === undefined) return false;
  // A CA that never rotated has no id; any report of `standby` is then current.
  return seen.phase === want.phase && (want.current_id === undefined || seen.current_id === want.current_id);
}

/**
 * Milliseconds until a process should look at the CAs again: `pollMs`, or sooner when an automatic rotation's next
 * phase is due (then just after it, `slackMs` later), so short grace periods are followed closely.
 *
 * @example
 * ```ts
 * setTimeout(check, nextCaCheckDelayMs(cas, { nowMs: Date.now(), pollMs: 10_000, slackMs: 250 }));
 * ```
 */
export function nextCaCheckDelayMs(cas: readonly CertAuthority[], o: { nowMs: number; pollMs: number; slackMs: number }): number {
  let delay = o.pollMs;
  for (const ca of cas) {
    const at = nextScheduledPhaseMs(ca);
    if (at !== undefined) delay = Math.min(delay, Math.max(0, at - o.nowMs) + o.slackMs);
  }
  return delay;
}

/** When an automatic rotation's next phase is due (epoch ms), if one is in progress. */
export function nextScheduledPhaseMs(ca: CertAuthority): number | undefined {
  const r = ca.spec.rotation;
  if (r.state !== 'in_progress' || r.mode !== 'auto' || r.schedule === undefined) return undefined;
  const next: Partial<Record<RotationPhase, string>> = { init: r.schedule.update_clients, update_clients: r.schedule.update_servers, update_servers: r.schedule.standby };
  const at = next[r.phase];
  return at === undefined ? undefined : Date.parse(at);
}
