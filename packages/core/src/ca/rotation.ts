/**
 * CA rotation as pure functions over the CertAuthority resource, following Teleport's phases:
 *
 * - `standby -> init`: new keys are generated and trusted, but the old keys still sign.
 * - `init -> update_clients`: the new keys sign; the old keys stay trusted (clients fetch new certificates).
 * - `update_clients -> update_servers`: servers reload their certificates; both keys stay trusted.
 * - `update_servers -> standby`: only the new keys are trusted.
 * - `init | update_clients | update_servers -> rollback`: the old keys sign again; the new keys stay trusted so
 *   anything that already got a new certificate keeps working. `rollback -> standby` drops the new keys.
 *
 * In `auto` mode the grace period is split in thirds and {@link advanceAutoRotation} moves through the phases.
 */

import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock/index.js';
import { BadParameterError } from '../errors/index.js';
import {
  CA_KEY_KINDS,
  generateCaKeySet,
  keySetWithoutSecrets,
  type CaKeyAlgorithms,
  type CaKeySet,
  type CertAuthority,
  type Rotation,
  type RotationMode,
  type RotationPhase,
} from './authority.js';
import { keyAlgorithmOf } from './keys.js';

/** Default grace period: 30 hours, as Teleport's `defaults.RotationGracePeriod`. */
export const DEFAULT_ROTATION_GRACE_PERIOD_MS = 30 * 3600_000;

/** Phases reachable from each phase. */
export const ROTATION_TRANSITIONS: Readonly<Record<RotationPhase, readonly RotationPhase[]>> = Object.freeze({
  standby: ['init'],
  init: ['update_clients', 'rollback'],
  update_clients: ['update_servers', 'rollback'],
  update_servers: ['standby', 'rollback'],
  rollback: ['standby'],
});

/** Options for {@link rotate}. */
export interface RotateOptions {
  /** Target phase. Required in `manual` mode; in `auto` mode only `init` (the default) starts a rotation. */
  phase?: RotationPhase;
  mode: RotationMode;
  /** How long old and new keys are both trusted; default {@link DEFAULT_ROTATION_GRACE_PERIOD_MS}. */
  gracePeriodMs?: number;
  clock: Clock;
  /** Keys to rotate to (entering `init`); default: generated with the algorithms of the current keys. */
  newKeys?: CaKeySet;
}

const emptyKeys = (): CaKeySet => ({ ssh: [], tls: [] });

function describe(ca: CertAuthority): string {
  return `the ${ca.spec.type} CA of ${ca.spec.cluster_name}`;
}

function currentAlgorithms(ca: CertAuthority): CaKeyAlgorithms {
  const out: CaKeyAlgorithms = {};
  const tlsKey = ca.spec.active_keys.tls[0]?.key;
  const sshKey = ca.spec.active_keys.ssh[0]?.private_key;
  const tls = tlsKey ? keyAlgorithmOf(tlsKey) : undefined;
  const ssh = sshKey ? keyAlgorithmOf(sshKey) : undefined;
  if (tls) out.tls = tls;
  if (ssh) out.ssh = ssh;
  return out;
}

function checkNewKeys(ca: CertAuthority, keys: CaKeySet): void {
  const kinds = CA_KEY_KINDS[ca.spec.type];
  const tlsOk = kinds.tls ? keys.tls.length > 0 && keys.tls.every((k) => k.key) : keys.tls.length === 0;
  const sshOk = kinds.ssh ? keys.ssh.length > 0 && keys.ssh.every((k) => k.private_key) : keys.ssh.length === 0;
  if (!tlsOk || !sshOk) {
    throw new BadParameterError(`new keys for ${describe(ca)} must hold exactly the key kinds of a ${ca.spec.type} CA, with private keys`);
  }
}

function withRotation(ca: CertAuthority, rotation: Rotation, active: CaKeySet, additional: CaKeySet): CertAuthority {
  return {
    ...ca,
    spec: { ...ca.spec, active_keys: active, additional_trusted_keys: additional, rotation },
  };
}

function schedule(startedMs: number, gracePeriodMs: number): Rotation['schedule'] {
  const at = (fraction: number): string => new Date(startedMs + Math.round(gracePeriodMs * fraction)).toISOString();
  return { update_clients: at(1 / 3), update_servers: at(2 / 3), standby: at(1) };
}

/**
 * Moves a CA to the next rotation phase and returns the updated resource (the input is not modified). Throws
 * {@link BadParameterError} for a transition Teleport does not allow, e.g. `standby -> update_clients`.
 *
 * @example
 * ```ts
 * let ca = await rotate(hostCa, { phase: 'init', mode: 'manual', clock });
 * ca = await rotate(ca, { phase: 'update_clients', mode: 'manual', clock }); // new key signs, old still trusted
 * ca = await rotate(ca, { phase: 'update_servers', mode: 'manual', clock });
 * ca = await rotate(ca, { phase: 'standby', mode: 'manual', clock }); // only the new key is trusted
 * ```
 */
export async function rotate(ca: CertAuthority, options: RotateOptions): Promise<CertAuthority> {
  const current = ca.spec.rotation;
  const target = options.phase ?? (options.mode === 'auto' ? 'init' : undefined);
  if (!target) throw new BadParameterError('a manual rotation needs a target phase', { hint: 'pass phase: init, update_clients, update_servers, standby or rollback' });
  if (options.mode === 'auto' && target !== 'init') {
    throw new BadParameterError(`an automatic rotation can only be started (phase "init"), not moved to "${target}"`, {
      hint: 'automatic rotations advance with the schedule; use mode "manual" to take over',
    });
  }
  const from: RotationPhase = current.state === 'standby' ? 'standby' : current.phase;
  const allowed = ROTATION_TRANSITIONS[from];
  if (!allowed.includes(target)) {
    const reason =
      from === 'standby'
        ? `no rotation is in progress; start one with phase "init"`
        : `from "${from}" the rotation can move to ${allowed.map((p) => `"${p}"`).join(' or ')}`;
    throw new BadParameterError(`cannot move the rotation of ${describe(ca)} from "${from}" to "${target}": ${reason}`);
  }
  const now = options.clock.now();
  const active = ca.spec.active_keys;
  const additional = ca.spec.additional_trusted_keys;
  const mode: RotationMode = target === 'rollback' ? 'manual' : options.mode;
  const inProgress = (phase: RotationPhase): Rotation => {
    const rotation: Rotation = { ...current, state: 'in_progress', phase, mode };
    if (mode === 'manual') delete rotation.schedule;
    return rotation;
  };

  switch (target) {
    case 'init': {
      const gracePeriod = options.gracePeriodMs ?? DEFAULT_ROTATION_GRACE_PERIOD_MS;
      if (!(gracePeriod > 0)) throw new BadParameterError('the rotation grace period must be positive');
      const newKeys =
        options.newKeys ??
        (await generateCaKeySet({
          clusterName: ca.spec.cluster_name,
          type: ca.spec.type,
          clock: options.clock,
          algorithms: currentAlgorithms(ca),
        }));
      checkNewKeys(ca, newKeys);
      const rotation: Rotation = {
        state: 'in_progress',
        phase: 'init',
        mode,
        current_id: randomUUID(),
        started: now.toISOString(),
        grace_period: gracePeriod,
        ...(current.last_rotated ? { last_rotated: current.last_rotated } : {}),
        ...(mode === 'auto' ? { schedule: schedule(now.getTime(), gracePeriod) } : {}),
      };
      // New keys are trusted, not yet used to sign.
      return withRotation(ca, rotation, active, newKeys);
    }
    case 'update_clients':
      // Swap: the new keys sign, the old ones (with their private keys, for a rollback) stay trusted.
      return withRotation(ca, inProgress('update_clients'), additional, active);
    case 'update_servers':
      return withRotation(ca, inProgress('update_servers'), active, additional);
    case 'rollback': {
      // In "init" the old keys still sign; later phases swapped them into the additional keys.
      const [oldKeys, newKeys] = from === 'init' ? [active, additional] : [additional, active];
      return withRotation(ca, inProgress('rollback'), oldKeys, keySetWithoutSecrets(newKeys));
    }
    case 'standby': {
      const rotation: Rotation = { state: 'standby', phase: 'standby' };
      if (current.current_id) rotation.current_id = current.current_id;
      const lastRotated = from === 'rollback' ? current.last_rotated : now.toISOString();
      if (lastRotated) rotation.last_rotated = lastRotated;
      return withRotation(ca, rotation, active, emptyKeys());
    }
  }
}

/**
 * For an automatic rotation, moves to the next phase once its scheduled time has come (one phase per call) and
 * returns the updated CA; returns the same object when nothing is due.
 *
 * @example
 * ```ts
 * const next = advanceAutoRotation(ca, { clock });
 * if (next !== ca) await saveCertAuthority(next);
 * ```
 */
export function advanceAutoRotation(ca: CertAuthority, options: { clock: Clock }): CertAuthority {
  const rotation = ca.spec.rotation;
  if (rotation.state !== 'in_progress' || rotation.mode !== 'auto' || !rotation.schedule) return ca;
  const next: Partial<Record<RotationPhase, { phase: RotationPhase; at: string }>> = {
    init: { phase: 'update_clients', at: rotation.schedule.update_clients },
    update_clients: { phase: 'update_servers', at: rotation.schedule.update_servers },
    update_servers: { phase: 'standby', at: rotation.schedule.standby },
  };
  const step = next[rotation.phase];
  if (!step || options.clock.now().getTime() < Date.parse(step.at)) return ca;
  const active = ca.spec.active_keys;
  const additional = ca.spec.additional_trusted_keys;
  switch (step.phase) {
    case 'update_clients':
      return withRotation(ca, { ...rotation, phase: 'update_clients' }, additional, active);
    case 'update_servers':
      return withRotation(ca, { ...rotation, phase: 'update_servers' }, active, additional);
    default: {
      const done: Rotation = { state: 'standby', phase: 'standby', last_rotated: options.clock.now().toISOString() };
      if (rotation.current_id) done.current_id = rotation.current_id;
      return withRotation(ca, done, active, emptyKeys());
    }
  }
}

/**
 * Every TLS CA certificate to trust now: the active ones and, during a rotation, the additional ones.
 *
 * @example
 * ```ts
 * verifyTlsCert(pem, { trustedCaCerts: trustedTlsCerts(userCa), clock });
 * ```
 */
export function trustedTlsCerts(ca: CertAuthority): string[] {
  return [...new Set([...ca.spec.active_keys.tls, ...ca.spec.additional_trusted_keys.tls].map((k) => k.cert))];
}

/**
 * Every SSH CA public key (`authorized_keys` lines) to trust now: active and, during a rotation, additional.
 *
 * @example
 * ```ts
 * await writeFile('/etc/ssh/teleport_user_ca.pub', trustedSshKeys(userCa).join('\n') + '\n');
 * ```
 */
export function trustedSshKeys(ca: CertAuthority): string[] {
  return [...new Set([...ca.spec.active_keys.ssh, ...ca.spec.additional_trusted_keys.ssh].map((k) => k.public_key))];
}
