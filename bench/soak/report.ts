/** The soak's report: per operation kind, failures grouped by text with the faults around them, availability. */

import { markdownTable, percentile, type Row } from '../_report.js';
import type { Probe } from './clients.js';
import { normalizeError, type Fault, type Op } from './record.js';
import type { Lost } from './verify.js';

/** How far back a fault is taken as the cause of a failure (a restart takes a few seconds to be felt). */
const BLAME_WINDOW_MS = 15_000;

export interface Summary {
  availabilityPct: number;
  availableSeconds: number;
  measuredSeconds: number;
  kinds: Row[];
  failures: Row[];
  faults: Row[];
}

/** Share of whole seconds of the run, each judged by the probe running at its middle. */
function availability(probes: Probe[], durationMs: number): { pct: number; ok: number; measured: number } {
  let ok = 0;
  let measured = 0;
  for (let s = 0; s * 1000 < durationMs; s++) {
    const mid = s * 1000 + 500;
    const probe = probes.find((p) => p.start <= mid && mid < p.end);
    if (probe === undefined) continue;
    measured++;
    if (probe.ok) ok++;
  }
  return { pct: measured === 0 ? 0 : (100 * ok) / measured, ok, measured };
}

function kindRows(ops: Op[]): Row[] {
  const kinds = [...new Set(ops.map((o) => o.kind))].sort();
  return kinds.map((kind) => {
    const all = ops.filter((o) => o.kind === kind);
    const ms = all.filter((o) => o.ok).map((o) => o.ms).sort((a, b) => a - b);
    const failed = all.length - ms.length;
    return {
      operation: kind,
      count: all.length,
      failed,
      'success %': ((100 * ms.length) / Math.max(1, all.length)).toFixed(3),
      'p50 ms': ms.length ? percentile(ms, 50).toFixed(0) : '-',
      'p99 ms': ms.length ? percentile(ms, 99).toFixed(0) : '-',
    };
  });
}

/**
 * The faults in progress, or ended less than {@link BLAME_WINDOW_MS} before the operation started. A rotation is
 * never over for this purpose: its phases go on after the command, and what it changed stays.
 */
function blame(op: Pick<Op, 'start' | 'ms'>, faults: Fault[]): string {
  const near = faults.filter((f) => f.start <= op.start + op.ms && (f.kind === 'rotate-host-ca' || f.end + BLAME_WINDOW_MS >= op.start));
  return near.length === 0 ? 'no fault' : near.map((f) => `${f.kind} ${f.target}`).join(' + ');
}

function failureRows(ops: Op[], faults: Fault[]): Row[] {
  const groups = new Map<string, { kind: string; text: string; count: number; faults: Map<string, number>; times: number[] }>();
  for (const op of ops.filter((o) => !o.ok)) {
    const text = normalizeError(op.error ?? '');
    const key = `${op.kind}\u0000${text}`;
    const g = groups.get(key) ?? { kind: op.kind, text, count: 0, faults: new Map<string, number>(), times: [] as number[] };
    g.count++;
    g.times.push(op.start);
    const b = blame(op, faults);
    g.faults.set(b, (g.faults.get(b) ?? 0) + 1);
    groups.set(key, g);
  }
  return [...groups.values()]
    .sort((a, b) => b.count - a.count)
    .map((g) => ({
      operation: g.kind,
      count: g.count,
      error: g.text.replace(/\|/g, '\\|'),
      'at (s)': g.times.slice(0, 6).map((t) => (t / 1000).toFixed(0)).join(',') + (g.times.length > 6 ? ',…' : ''),
      'during / within 15 s of': [...g.faults].map(([f, n]) => `${f} (${n})`).join('; '),
    }));
}

export function summarize(o: { ops: Op[]; faults: Fault[]; probes: Probe[]; durationMs: number }): Summary {
  const a = availability(o.probes, o.durationMs);
  return {
    availabilityPct: a.pct,
    availableSeconds: a.ok,
    measuredSeconds: a.measured,
    kinds: kindRows(o.ops),
    failures: failureRows(o.ops, o.faults),
    faults: o.faults.map((f) => ({ 'at (s)': (f.start / 1000).toFixed(0), fault: f.kind, target: f.target, 'lasted (s)': ((f.end - f.start) / 1000).toFixed(1), problem: f.error ?? '' })),
  };
}

/** The report as Markdown (printed, and the body of the docs section). */
export function renderReport(o: { commandLine: string; machine: string; seed: number; summary: Summary; lost: Lost; notes: string[] }): string {
  const { summary, lost } = o;
  return [
    `\`${o.commandLine}\` (seed ${o.seed}); ${o.machine}.`,
    '',
    ...o.notes.map((n) => `- ${n}`),
    '',
    `User-visible availability: **${summary.availabilityPct.toFixed(3)}%** (${summary.availableSeconds} of ${summary.measuredSeconds} seconds in which a fresh \`tsh login\` and a fresh \`tsh db connect\` + query, each allowed one retry, both succeeded).`,
    `Lost writes: **${lost.writes.length}**${lost.writes.length ? ` (${lost.writes.slice(0, 20).join(', ')})` : ''}. Lost audit events: **${lost.auditEvents.length}**${lost.auditEvents.length ? ` (${lost.auditEvents.slice(0, 20).join(', ')}${lost.auditEvents.length > 20 ? ', …' : ''})` : ''}.`,
    '',
    'Faults:',
    '',
    summary.faults.length ? markdownTable(summary.faults) : '(none)',
    '',
    'Operations:',
    '',
    markdownTable(summary.kinds),
    '',
    'Failures, grouped by error text (ids, addresses and numbers masked), with the faults in progress or ended less than 15 s before (a rotation: any time after it started):',
    '',
    summary.failures.length ? markdownTable(summary.failures) : '(none)',
    '',
    `Audit events read back by type: ${Object.entries(lost.eventsByType).map(([t, n]) => `${t} ${n}`).join(', ') || 'none'}.`,
  ].join('\n');
}
