/** Renders access requests as `tsh request ls|show|new|review` print them. */

import { asciiTable } from '@teleport-ts/core/cli';
import { toYaml, type Plain } from '@teleport-ts/core/profile';
import { accessRequestToWire, type AccessRequest } from '@teleport-ts/core/types';
import type { RequestableResource } from '@teleport-ts/core/api';
import type { ProfileStatus } from '../profile/status.js';
import { renderStatusText } from './status.js';

type Format = 'text' | 'json' | 'yaml';

const when = (iso: string): string => iso.slice(0, 19).replace('T', ' ');
const reasons = (r: AccessRequest): string =>
  [r.spec.request_reason ? `request=${JSON.stringify(r.spec.request_reason)}` : '', r.spec.resolve_reason ? `resolve=${JSON.stringify(r.spec.resolve_reason)}` : '']
    .filter((s) => s !== '')
    .join(', ');

function serialize(value: unknown, format: Format): string {
  return format === 'json' ? `${JSON.stringify(value, null, 2)}\n` : toYaml(value as Plain);
}

/** `tsh request ls`: ID, User, Roles, Resources, Created At (UTC), Status, Reasons. */
export function renderRequestList(requests: readonly AccessRequest[], format: Format): string {
  if (format !== 'text') return serialize(requests.map(accessRequestToWire), format);
  const rows = requests.map((r) => [r.metadata.name, r.spec.user, r.spec.roles.join(','), r.spec.resources.join(','), when(r.spec.created), r.spec.state, reasons(r)]);
  return `${asciiTable(['ID', 'User', 'Roles', 'Resources', 'Created At (UTC)', 'Status', 'Reasons'], rows)}\n`;
}

/** `tsh request show`: one request's details, Teleport's label column. */
export function renderRequestDetails(r: AccessRequest, format: Format = 'text'): string {
  if (format !== 'text') return serialize(accessRequestToWire(r), format);
  const lines: [string, string][] = [
    ['Request ID', r.metadata.name],
    ['Username', r.spec.user],
    ['Roles', r.spec.roles.join(', ')],
  ];
  if (r.spec.resources.length > 0) lines.push(['Resources', r.spec.resources.join(', ')]);
  lines.push(['Reason', r.spec.request_reason ? JSON.stringify(r.spec.request_reason) : '[none]']);
  lines.push(['Reviewers', r.spec.suggested_reviewers.length > 0 ? `${r.spec.suggested_reviewers.join(', ')} (suggested)` : '[none] (suggested)']);
  lines.push(['Access Expires', `${when(r.spec.expires)} UTC`]);
  lines.push(['Status', r.spec.state]);
  if (r.spec.resolve_reason) lines.push(['Resolve Reason', JSON.stringify(r.spec.resolve_reason)]);
  const text = lines.map(([k, v]) => `${`${k}:`.padEnd(16)}${v}`).join('\n');
  const reviews = r.spec.reviews.map((x) => `  ${x.author}: ${x.state}${x.reason ? ` ${JSON.stringify(x.reason)}` : ''}`);
  return `${text}\n${reviews.length > 0 ? `\nReviews:\n${reviews.join('\n')}\n` : ''}`;
}

/** `tsh request new`: the request, then the hint (`--nowait`) or the new profile status. */
export function renderNewRequest(result: { request: AccessRequest; status?: ProfileStatus }, now: Date): string {
  const details = renderRequestDetails(result.request);
  if (result.status === undefined) {
    return `${details}\nhint: use 'tsh login --request-id=${result.request.metadata.name}' to login with an approved request\n`;
  }
  return renderStatusText(result.status, now);
}

/** `tsh request search`: Name, Kind, Labels, and the resource id to request. */
export function renderSearch(found: readonly RequestableResource[]): string {
  const rows = found.map((r) => [r.name, r.kind, Object.entries(r.labels).map(([k, v]) => `${k}=${v}`).join(','), r.id]);
  const table = asciiTable(['Name', 'Kind', 'Labels', 'Resource ID'], rows);
  const ids = found.map((r) => `--resource=${r.id}`).join(' ');
  return `${table}\n${found.length > 0 ? `To request access to these resources, run\n> tsh request new ${ids} --reason <request reason>\n` : ''}`;
}
