/**
 * `tsh request new|ls|show|review|drop|search`, Teleport's flags. Light descriptors: the request code and its
 * renderers load only when one of them runs.
 */

import { FORMAT_OPTION, type CommandGroup, type OutputFormat, type TshCommand, type TshContext } from './context.js';
import type { NewRequestOptions, NewRequestResult } from './requests.js';
import type { AccessRequest } from '@teleport-ts/core/types';
import type { RequestableResource } from '@teleport-ts/core/api';
import type { ProfileStatus } from '../profile/status.js';

const requests = () => import('./requests.js');
const renderers = () => import('../render/requests.js');
const statusRenderer = () => import('../render/status.js');

export const requestGroup: CommandGroup = { name: 'request', help: 'Manage access requests.' };

const progress = (line: string): void => {
  process.stderr.write(line);
};

export const requestNewCommand: TshCommand<NewRequestOptions, NewRequestResult> = {
  name: 'request new',
  aliases: ['create'],
  help: 'Create a new access request.',
  options: [
    { flags: '--roles <roles>', description: 'Roles to be requested (comma-separated).' },
    { flags: '--resource <id>', description: 'Resource ID to be requested, /<cluster>/db/<name> (repeatable).', repeatable: true },
    { flags: '--reason <reason>', description: 'Reason for requesting.' },
    { flags: '--reviewers <users>', description: 'Suggested reviewers (comma-separated).' },
    { flags: '--nowait', description: 'Finish without waiting for request resolution.' },
    { flags: '--max-duration <duration>', description: 'How long the access should last once approved, e.g. 1h (capped by the roles and your certificate).' },
  ],
  handler: async ({ opts }, ctx) => {
    const r = await requests();
    r.newRequestBody(opts); // the flags first, then the profile and the network
    return r.newRequest({ session: await ctx.dbSession(), progress }, opts);
  },
  render: async (result, _input, ctx) => (await renderers()).renderNewRequest(result, ctx.now()),
};

export const requestLsCommand: TshCommand<{ format: OutputFormat; reviewable?: boolean; myRequests?: boolean }, AccessRequest[]> = {
  name: 'request ls',
  help: 'List access requests.',
  options: [
    FORMAT_OPTION,
    { flags: '--reviewable', description: 'Only show requests reviewable by current user.' },
    { flags: '--my-requests', description: 'Only show requests created by current user.' },
  ],
  handler: async ({ opts }, ctx) => (await requests()).listRequests(await ctx.dbSession(), opts),
  render: async (list, { opts }) => (await renderers()).renderRequestList(list, opts.format),
};

export const requestShowCommand: TshCommand<{ format: OutputFormat }, AccessRequest> = {
  name: 'request show',
  aliases: ['details'],
  help: 'Show request details.',
  args: [{ name: '<request-id>', description: 'ID of the target request.' }],
  options: [FORMAT_OPTION],
  handler: async ({ args }, ctx) => (await requests()).showRequest(await ctx.dbSession(), args[0]!),
  render: async (request, { opts }) => (await renderers()).renderRequestDetails(request, opts.format),
};

export const requestReviewCommand: TshCommand<{ approve?: boolean; deny?: boolean; reason?: string }, AccessRequest> = {
  name: 'request review',
  help: 'Review an access request.',
  args: [{ name: '<request-id>', description: 'ID of target request(s).' }],
  options: [
    { flags: '--approve', description: 'Review proposes approval.' },
    { flags: '--deny', description: 'Review proposes denial.' },
    { flags: '--reason <reason>', description: 'Review reason message.' },
  ],
  handler: async ({ args, opts }, ctx) => {
    const r = await requests();
    r.reviewState(opts);
    return r.reviewRequest(await ctx.dbSession(), args[0]!, opts);
  },
  render: async (request) => `Successfully submitted review.  Request state: ${request.spec.state}\n`,
};

export const requestDropCommand: TshCommand<object, ProfileStatus> = {
  name: 'request drop',
  help: 'Drop one or more access requests from current identity.',
  args: [{ name: '[request-id...]', description: 'IDs of requests to drop (default drops all requests).' }],
  handler: async ({ args }, ctx) => {
    const ids = (args[0] as unknown as string[] | undefined) ?? [];
    return (await requests()).dropRequests(await ctx.dbSession(), ids);
  },
  render: async (status, _input, ctx) => (await statusRenderer()).renderStatusText(status, ctx.now()),
};

export const requestSearchCommand: TshCommand<{ kind: string; labels?: string }, RequestableResource[]> = {
  name: 'request search',
  help: 'Search for resources to request access to.',
  options: [
    { flags: '--kind <kind>', description: 'Resource kind to search for (db).', default: 'db' },
    { flags: '--labels <labels>', description: 'List of comma separated labels to filter by labels (e.g. key1=value1,key2=value2).' },
  ],
  handler: async ({ opts }, ctx) => (await requests()).searchResources(await ctx.dbSession(), opts),
  render: async (found) => (await renderers()).renderSearch(found),
};

/**
 * The access request part of `tsh login`: `--request-id` assumes an approved request; otherwise a role with
 * `request_access: always` makes the login request its roles and wait. `undefined` when neither applies.
 */
export async function loginRequests(ctx: TshContext, opts: { requestId?: string; requestReason?: string }): Promise<ProfileStatus | undefined> {
  const r = await requests();
  if (opts.requestId !== undefined) return r.assumeRequest(await ctx.dbSession(), opts.requestId);
  return r.loginAutoRequest({ session: await ctx.dbSession(), progress }, opts.requestReason);
}
