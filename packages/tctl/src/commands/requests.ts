/**
 * `tctl request ls|get|approve|deny|create|rm`, Teleport's flags (`tool/tctl/common/access_request_command.go`):
 * administrators list every request, decide one outright (optionally approving a subset of the roles), create one for
 * a user, or remove one.
 */

import { asciiTable } from '@teleport-ts/core/cli';
import { BadParameterError } from '@teleport-ts/core/errors';
import { accessRequestToWire, parseDuration, type AccessRequest } from '@teleport-ts/core/types';
import type { CommandGroup, TctlCommand } from '../command.js';
import { toJson } from '../render/serialize.js';
import { parseFormat } from './format.js';

export const requestGroup: CommandGroup = { name: 'request', help: 'Manage access requests.' };

const FORMAT = { flags: '--format <format>', description: "Output format, 'text' or 'json'.", default: 'text' } as const;

const splitList = (text: string | undefined): string[] => (text ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
const when = (iso: string): string => iso.slice(0, 19).replace('T', ' ');

/** Go's short duration text of what is left until `iso`: `59m`, `11h59m`, or `expired`. */
function ttl(iso: string, now: Date): string {
  const minutes = Math.floor((Date.parse(iso) - now.getTime()) / 60_000);
  if (minutes <= 0) return 'expired';
  return minutes >= 60 ? `${Math.floor(minutes / 60)}h${minutes % 60}m` : `${minutes}m`;
}

/** The `tctl request ls` table: Token, Requestor, Metadata, Created At (UTC), Access Expires, Status, reasons. */
function renderRequests(requests: readonly AccessRequest[], format: string, now: Date): string {
  if (parseFormat(format, ['text', 'json'], 'text') === 'json') return toJson(requests.map(accessRequestToWire));
  const rows = requests.map((r) => [
    r.metadata.name,
    r.spec.user,
    r.spec.resources.length > 0 ? `resources=${r.spec.resources.join(',')}` : `roles=${r.spec.roles.join(',')}`,
    when(r.spec.created),
    ttl(r.spec.expires, now),
    r.spec.state,
    r.spec.request_reason ? JSON.stringify(r.spec.request_reason) : '',
    r.spec.resolve_reason ? JSON.stringify(r.spec.resolve_reason) : '',
  ]);
  return `${asciiTable(['Token', 'Requestor', 'Metadata', 'Created At (UTC)', 'Session TTL', 'Status', 'Request Reason', 'Resolve Reason'], rows)}\n`;
}

export const requestLsCommand: TctlCommand<{ format: string }, AccessRequest[]> = {
  name: 'request ls',
  help: 'Show active access requests.',
  options: [FORMAT],
  handler: async ({ opts }, ctx) => {
    parseFormat(opts.format, ['text', 'json'], 'text');
    return (await ctx.api()).getAccessRequests('all');
  },
  render: (requests, { opts }, ctx) => renderRequests(requests, opts.format, ctx.now()),
};

export const requestGetCommand: TctlCommand<{ format: string }, AccessRequest[]> = {
  name: 'request get',
  help: 'Show access request by ID.',
  args: [{ name: '<request-id>', description: 'ID of target request(s), comma-separated.' }],
  options: [FORMAT],
  handler: async ({ args, opts }, ctx) => {
    parseFormat(opts.format, ['text', 'json'], 'text');
    const ids = splitList(args[0]);
    const api = await ctx.api();
    return Promise.all(ids.map((id) => api.getAccessRequest(id)));
  },
  render: (requests, { opts }, ctx) => renderRequests(requests, opts.format, ctx.now()),
};

function decide(state: 'APPROVED' | 'DENIED'): TctlCommand<{ reason?: string; roles?: string }, AccessRequest[]> {
  const approve = state === 'APPROVED';
  return {
    name: approve ? 'request approve' : 'request deny',
    help: approve ? 'Approve pending access request.' : 'Deny pending access request.',
    args: [{ name: '<request-id>', description: 'ID of target request(s), comma-separated.' }],
    options: [
      { flags: '--reason <reason>', description: 'Optional reason message.' },
      ...(approve ? [{ flags: '--roles <roles>', description: 'Override requested roles (comma-separated); a subset of those requested.' }] : []),
    ],
    handler: async ({ args, opts }, ctx) => {
      const ids = splitList(args[0]);
      if (ids.length === 0) throw new BadParameterError('at least one request id is required');
      const roles = splitList(opts.roles);
      const api = await ctx.api();
      const out: AccessRequest[] = [];
      for (const id of ids) {
        out.push(await api.setAccessRequestState(id, { state, ...(opts.reason !== undefined ? { reason: opts.reason } : {}), ...(roles.length > 0 ? { roles } : {}) }));
      }
      return out;
    },
    render: () => '',
  };
}

export const requestApproveCommand = decide('APPROVED');
export const requestDenyCommand = decide('DENIED');

export const requestCreateCommand: TctlCommand<{ roles?: string; reason?: string; maxDuration?: string }, AccessRequest> = {
  name: 'request create',
  help: 'Create pending access request.',
  args: [{ name: '<username>', description: 'Name of target user.' }],
  options: [
    { flags: '--roles <roles>', description: 'Roles to be requested (comma-separated).' },
    { flags: '--reason <reason>', description: 'Optional reason message.' },
    { flags: '--max-duration <duration>', description: 'How long the access should last once approved, e.g. 1h.' },
  ],
  handler: async ({ args, opts }, ctx) => {
    const roles = splitList(opts.roles);
    if (roles.length === 0) throw new BadParameterError('at least one role is required', { hint: 'pass --roles=<role>' });
    const maxDuration = opts.maxDuration === undefined ? undefined : parseDuration(opts.maxDuration);
    if (maxDuration !== undefined && maxDuration <= 0) throw new BadParameterError('--max-duration must be positive');
    return (await ctx.api()).createAccessRequest({
      user: args[0]!,
      roles,
      ...(opts.reason !== undefined ? { reason: opts.reason } : {}),
      ...(maxDuration !== undefined ? { maxDuration } : {}),
    });
  },
  render: (request) => `${request.metadata.name}\n`,
};

export const requestRmCommand: TctlCommand<{ force?: boolean }, string[]> = {
  name: 'request rm',
  help: 'Delete an access request.',
  args: [{ name: '<request-id>', description: 'ID of target request(s), comma-separated.' }],
  options: [{ flags: '-f, --force', description: 'Force deletion of active access requests.', hidden: true }],
  handler: async ({ args }, ctx) => {
    const ids = splitList(args[0]);
    const api = await ctx.api();
    for (const id of ids) await api.deleteAccessRequest(id);
    return ids;
  },
  render: (ids) => ids.map((id) => `access request ${id} has been deleted\n`).join(''),
};
