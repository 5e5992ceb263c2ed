/**
 * Faults, one every `--fault-every` seconds, chosen by a seeded PRNG (the same seed gives the same faults):
 * `kill -9` of an auth+proxy process and its restart 5 s later; the backend PostgreSQL stopped for 10 s; `kill -9`
 * of one of the two db agents serving the database and its restart; and once per run (unless `--no-rotation`) a
 * host CA rotation.
 */

import { seededRandom, type HaCluster, type HaMember } from '@teleport-ts/testkit';
import type { Fault, Recorder } from './record.js';

const PROXY_DOWN_MS = 5_000;
/** db agents serving the database (Teleport's HA for database access: the proxy picks a live one). */
export const DB_AGENTS = 2;
const POSTGRES_DOWN_MS = 10_000;

export interface FaultPlanEntry {
  at: number;
  kind: Fault['kind'];
  /** The member for `kill-proxy`, the db agent for `kill-agent`. */
  member?: number;
}

/**
 * The faults of a run: one per `faultEverySec` before the end; the rotation in a slot of the first half, picked at
 * random, so that it can reach standby (old keys no longer trusted) while the clients still run.
 */
export function planFaults(o: { durationSec: number; faultEverySec: number; seed: number; rotation: boolean }): FaultPlanEntry[] {
  const random = seededRandom(o.seed);
  const slots: number[] = [];
  for (let t = o.faultEverySec; t < o.durationSec; t += o.faultEverySec) slots.push(t * 1000);
  const rotationSlot = o.rotation && slots.length > 0 ? Math.floor(random() * Math.ceil(slots.length / 2)) : -1;
  const kinds = ['kill-proxy', 'stop-postgres', 'kill-agent'] as const;
  return slots.map((at, i): FaultPlanEntry => {
    if (i === rotationSlot) return { at, kind: 'rotate-host-ca' };
    const kind = kinds[Math.floor(random() * kinds.length)]!;
    if (kind === 'kill-proxy') return { at, kind, member: Math.floor(random() * 3) };
    return kind === 'kill-agent' ? { at, kind, member: Math.floor(random() * DB_AGENTS) } : { at, kind };
  });
}

export interface FaultContext {
  cluster: HaCluster;
  rec: Recorder;
  down: Set<HaMember>;
  stopping: boolean;
  /** `tctl auth rotate --grace-period` for a rotation started at `atMs`, e.g. `200s`. */
  rotationGrace(atMs: number): string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function inject(ctx: FaultContext, entry: FaultPlanEntry): Promise<{ target: string; error?: string }> {
  const { cluster } = ctx;
  switch (entry.kind) {
    case 'kill-proxy': {
      const member = cluster.members[entry.member!]!;
      ctx.down.add(member);
      await member.daemon.kill9();
      await sleep(PROXY_DOWN_MS);
      const error = await member.restart().then(() => undefined, (err: Error) => `restart failed: ${err.message.split('\n')[0]}`);
      if (error === undefined) ctx.down.delete(member);
      return { target: `ha-${member.index}`, ...(error ? { error } : {}) };
    }
    case 'stop-postgres':
      await cluster.backend.stop();
      await sleep(POSTGRES_DOWN_MS);
      await cluster.backend.start();
      return { target: 'backend postgres' };
    case 'kill-agent': {
      const agent = cluster.agents[entry.member ?? 0] ?? cluster.agent;
      await agent.daemon.kill9();
      const error = await agent.restart().then(() => undefined, (err: Error) => `restart failed: ${err.message.split('\n')[0]}`);
      return { target: `db agent ${cluster.agents.indexOf(agent) + 1}`, ...(error ? { error } : {}) };
    }
    case 'rotate-host-ca': {
      const grace = ctx.rotationGrace(entry.at);
      const res = await cluster.tctl(['auth', 'rotate', '--type=host', `--grace-period=${grace}`]);
      return { target: `host CA, grace ${grace}`, ...(res.code !== 0 ? { error: res.stderr.trim().split('\n')[0] } : {}) };
    }
  }
}

/** `kill-proxy ha-1`, `kill-agent db agent 2`, `stop-postgres`... */
export function describeFault(entry: FaultPlanEntry): string {
  if (entry.member === undefined) return entry.kind;
  return `${entry.kind} ${entry.kind === 'kill-agent' ? `db agent ${entry.member + 1}` : `ha-${entry.member}`}`;
}

/** Injects the planned faults at their times, one after the other, until the plan ends or the run stops. */
export async function faultLoop(ctx: FaultContext, plan: FaultPlanEntry[], log: (line: string) => void): Promise<void> {
  for (const entry of plan) {
    while (ctx.rec.now() < entry.at && !ctx.stopping) await sleep(Math.min(250, entry.at - ctx.rec.now()));
    if (ctx.stopping) return;
    const start = ctx.rec.now();
    log(`t=${(start / 1000).toFixed(0)}s fault ${describeFault(entry)}`);
    const done = await inject(ctx, entry);
    const fault: Fault = { kind: entry.kind, target: done.target, start, end: ctx.rec.now(), ...(done.error ? { error: done.error } : {}) };
    ctx.rec.faults.push(fault);
    log(`t=${(fault.end / 1000).toFixed(0)}s fault ${entry.kind} over${fault.error ? `: ${fault.error}` : ''}`);
  }
}
