/** `tctl audit events`: search the audit log by time range and event type. */

import type { AuditEvent } from '@teleport-ts/core/audit';
import { BadParameterError } from '@teleport-ts/core/errors';
import { parseDuration } from '@teleport-ts/core/types';
import type { TctlApi } from '../api.js';
import type { CommandGroup, TctlCommand } from '../command.js';
import { parseFormat } from './format.js';
import { asciiTableLines, MAX_CELL_WIDTH } from '@teleport-ts/core/cli';

const help = {
  audit: 'Query the audit log.',
  events: 'List audit events.',
} as const;

/** Default window: the last day. */
const DEFAULT_WINDOW = '24h';
const DEFAULT_LIMIT = 500;
/** Teleport's `defaults.EventsMaxIterationLimit`, per page. */
const PAGE_LIMIT = 1000;

export type AuditApi = Pick<TctlApi, 'searchEvents'>;

export interface EventsOptions {
  from?: string;
  to?: string;
  type?: string[];
  limit?: string;
  order?: string;
  format?: string;
}

/**
 * A point in time: RFC 3339 (`2026-01-02T15:04:05Z`), a date (`2026-01-02`, midnight UTC), or a duration meaning
 * that long ago (`1h`, `30m`).
 */
export function parseTime(text: string, now: Date, flag: string): Date {
  const t = text.trim();
  if (/^\d{4}-\d{2}-\d{2}$/.test(t)) return new Date(`${t}T00:00:00Z`);
  if (/^\d{4}-\d{2}-\d{2}[T ]/.test(t)) {
    const d = new Date(t);
    if (!Number.isNaN(d.getTime())) return d;
  } else {
    try {
      return new Date(now.getTime() - parseDuration(t));
    } catch {
      // fall through to the error below
    }
  }
  throw new BadParameterError(`invalid ${flag} ${JSON.stringify(t.slice(0, 64))}, use a date (2026-01-02), a time (2026-01-02T15:04:05Z) or a duration ago (1h)`);
}

/** Checks the flags; the CLI runs it before connecting. */
function checkOptions(options: EventsOptions, now: Date = new Date()): void {
  void normalize(options, now);
}

function normalize(options: EventsOptions, now: Date) {
  const to = options.to ? parseTime(options.to, now, '--to') : now;
  const from = parseTime(options.from ?? DEFAULT_WINDOW, now, '--from');
  if (from.getTime() >= to.getTime()) throw new BadParameterError('--from must be before --to');
  const limit = options.limit === undefined ? DEFAULT_LIMIT : Number(options.limit);
  if (!Number.isInteger(limit) || limit <= 0) throw new BadParameterError('--limit must be a positive integer');
  const order = (options.order ?? 'asc').toLowerCase();
  if (order !== 'asc' && order !== 'desc') throw new BadParameterError('--order must be asc or desc');
  const types = (options.type ?? []).flatMap((t) => t.split(',')).map((t) => t.trim()).filter((t) => t !== '');
  return { from, to, limit, order: order as 'asc' | 'desc', types };
}

export async function events(api: AuditApi, options: EventsOptions, now: Date = new Date()): Promise<AuditEvent[]> {
  const { from, to, limit, order, types } = normalize(options, now);
  const out: AuditEvent[] = [];
  let startKey: string | undefined;
  do {
    const page = await api.searchEvents({
      from,
      to,
      ...(types.length > 0 ? { eventTypes: types } : {}),
      limit: Math.min(PAGE_LIMIT, limit - out.length),
      order,
      ...(startKey ? { startKey } : {}),
    });
    out.push(...page.events);
    startKey = page.nextKey;
  } while (startKey && out.length < limit);
  return out.slice(0, limit);
}

const SUMMARY_SKIP = new Set(['uid', 'event', 'code', 'time', 'user', 'cluster_name', 'ei']);

/** Enough of each value for the capped Details cell: a megabyte-long statement is not copied whole. */
const SUMMARY_VALUE_CHARS = MAX_CELL_WIDTH * 2;

/** Fields that say what happened come first, so that the capped Details cell shows them (a statement, not its session id). */
const SUMMARY_FIRST = ['db_query', 'error', 'message', 'name', 'db_user', 'db_name', 'db_service', 'success'];

function summaryOrder([a]: [string, unknown], [b]: [string, unknown]): number {
  const rank = (k: string): number => (SUMMARY_FIRST.includes(k) ? SUMMARY_FIRST.indexOf(k) : SUMMARY_FIRST.length);
  return rank(a) - rank(b);
}

function summary(event: AuditEvent): string {
  return Object.entries(event)
    .sort(summaryOrder)
    .filter(([k, v]) => !SUMMARY_SKIP.has(k) && v !== undefined && v !== null && v !== '')
    .map(([k, v]) => `${k}=${(typeof v === 'string' ? v : JSON.stringify(v)).slice(0, SUMMARY_VALUE_CHARS)}`)
    .join(' ');
}

/** The same text as `toJson(list)`, one event at a time: thousands of large events are never one string. */
function* jsonLines(list: readonly AuditEvent[]): Generator<string> {
  if (list.length === 0) {
    yield '[]\n';
    return;
  }
  yield '[\n';
  for (let i = 0; i < list.length; i++) {
    const text = JSON.stringify(list[i], null, 4).replace(/\n/g, '\n    ');
    yield `    ${text}${i < list.length - 1 ? ',' : ''}\n`;
  }
  yield ']\n';
}

/**
 * JSON with every field whole, or a table written line by line: one line per event, newlines and control
 * characters escaped, wide cells cut with `…` (the full text is in `--format json`).
 */
export function render(list: readonly AuditEvent[], format?: string): string | Iterable<string> {
  if (format === 'json') return jsonLines(list);
  if (list.length === 0) return 'No events found\n';
  return asciiTableLines(
    ['Time', 'Type', 'Code', 'User', 'Details'],
    list.map((e) => [e.time, e.event, e.code, e.user ?? '', summary(e)]),
  );
}

export const auditGroup: CommandGroup = { name: 'audit', help: help.audit };

const EVENTS_FORMATS = ['text', 'json'] as const;

/** `tctl audit events [--from] [--to] [--type] [--limit] [--order] [--format text|json]`. */
export const auditEventsCommand: TctlCommand<EventsOptions, AuditEvent[]> = {
  name: 'audit events',
  help: help.events,
  options: [
    { flags: '--from <time>', description: 'Start of the range: a date, an RFC 3339 time, or a duration ago such as 2h.', default: DEFAULT_WINDOW },
    { flags: '--to <time>', description: 'End of the range, default now.' },
    { flags: '--type <types>', description: 'Event types to list, e.g. user.create,user.login.', repeatable: true },
    { flags: '--limit <n>', description: 'Maximum number of events.', default: String(DEFAULT_LIMIT) },
    { flags: '--order <order>', description: 'asc or desc.', default: 'asc' },
    { flags: '--format <format>', description: "Output format, 'text' or 'json'.", default: 'text' },
  ],
  handler: async ({ opts }, ctx) => {
    checkOptions(opts, ctx.now());
    parseFormat(opts.format, EVENTS_FORMATS, 'text');
    return events(await ctx.api(), opts, ctx.now());
  },
  render: (list, { opts }) => render(list, parseFormat(opts.format, EVENTS_FORMATS, 'text')),
};
