/** Renders recordings as `tsh recordings ls` and `tsh play --format json|yaml` print them. */

import type { RecordingEvent, RecordingSummary } from '@teleport-ts/core/api';
import { asciiTable } from '@teleport-ts/core/cli';
import { toYaml, type Plain } from '@teleport-ts/core/profile';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Teleport's `HumanDateFormatSeconds`: `Jan  2 2006 15:04:05 UTC`. */
export function humanDate(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const day = String(d.getUTCDate()).padStart(2, ' ');
  return `${MONTHS[d.getUTCMonth()]} ${day} ${d.getUTCFullYear()} ${d.toISOString().slice(11, 19)} UTC`;
}

/** `tsh recordings ls`: Teleport's columns ID, Type, Participants, Hostname, Timestamp; json/yaml: the session.end events. */
export function renderRecordingList(list: readonly RecordingSummary[], format: string): string {
  if (format === 'json') return `${JSON.stringify(list, null, 2)}\n`;
  if (format === 'yaml') return toYaml(list as unknown as Plain);
  const rows = list.map((s) => [s.sid, s.proto, s.participants.join(', '), s.server_hostname, humanDate(s.time)]);
  return `${asciiTable(['ID', 'Type', 'Participants', 'Hostname', 'Timestamp'], rows)}\n`;
}

/** One event of `tsh play --format json` (a line) or `yaml` (a document). */
export function renderEvent(ev: RecordingEvent, format: 'json' | 'yaml'): string {
  return format === 'json' ? `${JSON.stringify(ev)}\n` : `---\n${toYaml(ev as unknown as Plain)}`;
}
