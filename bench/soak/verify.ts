/**
 * What the soak checks at the end, with the cluster whole again: every acknowledged tctl write is read back
 * (`tctl get`), and every acknowledged operation has its audit event (`tctl audit events`): by its unique text
 * (a user, role or lock name, a query's marker, an SSH command's marker), or, for logins, which carry nothing
 * unique, by count (acknowledged logins <= `user.login` success events of alice during the run).
 */

import type { HaCluster } from '@teleport-ts/testkit';
import type { Op } from './record.js';

export interface Lost {
  writes: string[];
  /** `type text (at <s>)` of each operation without its event (or `user.login xN` for missing logins). */
  auditEvents: string[];
  /** Events found per type, for the report. */
  eventsByType: Record<string, number>;
}

interface Named {
  metadata?: { name?: string };
}

async function readBack(cluster: HaCluster, kind: 'users' | 'roles' | 'locks'): Promise<Set<string>> {
  const res = await cluster.tctl(['get', kind, '--format=json'], { timeoutMs: 120_000 });
  if (res.code !== 0) throw new Error(`tctl get ${kind}: ${res.stderr.trim()}`);
  const items = JSON.parse(res.stdout || '[]') as Named[];
  return new Set(items.map((i) => i.metadata?.name ?? ''));
}

async function lostWrites(cluster: HaCluster, ops: Op[]): Promise<string[]> {
  const stored = { user: await readBack(cluster, 'users'), role: await readBack(cluster, 'roles'), lock: await readBack(cluster, 'locks') };
  return ops
    .filter((o) => o.ok && o.write !== undefined)
    .map((o) => o.write!)
    .filter((w) => {
      const [kind, name] = w.split('/') as [keyof typeof stored, string];
      return !stored[kind].has(name);
    });
}

interface AuditEventJson {
  event?: string;
  code?: string;
  user?: string;
}

async function auditEvents(cluster: HaCluster, from: Date, types: string[]): Promise<{ event: AuditEventJson; text: string }[]> {
  const to = new Date(Date.now() + 60_000);
  const res = await cluster.tctl(
    ['audit', 'events', `--from=${from.toISOString()}`, `--to=${to.toISOString()}`, `--type=${types.join(',')}`, '--limit=10000000', '--format=json'],
    { timeoutMs: 300_000 },
  );
  if (res.code !== 0) throw new Error(`tctl audit events: ${res.stderr.trim()}`);
  return (JSON.parse(res.stdout || '[]') as AuditEventJson[]).map((event) => ({ event, text: JSON.stringify(event) }));
}

function lostAudit(ops: Op[], events: { event: AuditEventJson; text: string }[]): string[] {
  const lost: string[] = [];
  // Every word (letters, digits, '-') of each type's events: q-1 does not match q-10.
  const words = new Map<string, Set<string>>();
  for (const e of events) {
    const set = words.get(e.event.event ?? '') ?? new Set<string>();
    for (const w of e.text.match(/[\w-]+/g) ?? []) set.add(w);
    words.set(e.event.event ?? '', set);
  }
  const counted = new Map<string, number>();
  for (const op of ops) {
    if (!op.ok || op.audit === undefined) continue;
    const { type, text, code } = op.audit;
    if (text === undefined) {
      counted.set(`${type} ${code ?? ''}`, (counted.get(`${type} ${code ?? ''}`) ?? 0) + 1);
      continue;
    }
    if (!words.get(type)?.has(text)) lost.push(`${type} ${text} (at ${(op.start / 1000).toFixed(0)} s)`);
  }
  for (const [key, acked] of counted) {
    const [type, code] = key.split(' ');
    const found = events.filter((e) => e.event.event === type && (code === '' || e.event.code === code) && (e.event.user ?? 'alice') === 'alice').length;
    if (found < acked) lost.push(`${type} x${acked - found} (${acked} acknowledged, ${found} events)`);
  }
  return lost;
}

/** Reads back writes and audit events of the run that started at `from`. */
export async function verify(cluster: HaCluster, ops: Op[], from: Date): Promise<Lost> {
  const writes = await lostWrites(cluster, ops);
  const types = [...new Set(ops.filter((o) => o.audit).map((o) => o.audit!.type))];
  const events = types.length > 0 ? await auditEvents(cluster, new Date(from.getTime() - 5_000), types) : [];
  const eventsByType: Record<string, number> = {};
  for (const e of events) eventsByType[e.event.event ?? '?'] = (eventsByType[e.event.event ?? '?'] ?? 0) + 1;
  return { writes, auditEvents: lostAudit(ops, events), eventsByType };
}
