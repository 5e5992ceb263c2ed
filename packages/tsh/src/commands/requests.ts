/**
 * `tsh request new|ls|show|review|drop|search` and `tsh login --request-id`: access requests through the proxy's
 * `teleport-auth` passthrough with the user's own certificate. Assuming an approved request re-issues the profile's
 * certificates for the same keys with the request's roles (and drops database certificates made with the old ones).
 */

import { createPublicKey } from 'node:crypto';
import { AUTH_VIA_PROXY_ALPN, MAX_WAIT_MS, newAuthClient, type AuthClient, type CreateAccessRequest, type RequestableResource } from '@teleport-ts/core/api';
import { AccessDeniedError, BadParameterError } from '@teleport-ts/core/errors';
import { saveReissuedCerts } from '@teleport-ts/core/profile';
import { parseDuration, type AccessRequest } from '@teleport-ts/core/types';
import { loadStatuses, type ProfileStatus } from '../profile/status.js';
import { parseProxyAddr } from '../webclient.js';
import type { DbSession } from './db.js';

/** What the request commands need: the logged-in profile (as the db commands open it) and a progress line printer. */
export interface RequestDeps {
  session: DbSession;
  /** Progress while waiting (stderr); the result goes through the renderer. */
  progress(line: string): void;
}

function openClient(session: DbSession): AuthClient {
  const target = parseProxyAddr(session.profile.web_proxy_addr);
  return newAuthClient({
    addr: target.addr,
    tls: { key: session.creds.key, cert: session.creds.cert, ca: session.creds.caCerts },
    alpnProtocols: AUTH_VIA_PROXY_ALPN,
    peer: `proxy ${target.addr}`,
    hints: { refused: 'is the proxy running, and is --proxy right?', verify: 'log in again with tsh login' },
  });
}

export async function withClient<T>(session: DbSession, fn: (client: AuthClient) => Promise<T>): Promise<T> {
  const client = openClient(session);
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

const splitList = (text: string | undefined): string[] => (text ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');

export interface NewRequestOptions {
  roles?: string;
  resource?: string[];
  reason?: string;
  reviewers?: string;
  nowait?: boolean;
  maxDuration?: string;
}

/** What `tsh request new` did: the request as last seen and, once approved, the new status. */
export interface NewRequestResult {
  request: AccessRequest;
  status?: ProfileStatus;
}

/** Checks the flags of `tsh request new` (before any network call). */
export function newRequestBody(opts: NewRequestOptions): CreateAccessRequest {
  const roles = splitList(opts.roles);
  const resources = (opts.resource ?? []).flatMap((r) => splitList(r));
  if (roles.length === 0 && resources.length === 0) throw new BadParameterError('at least one role or resource is required', { hint: 'pass --roles=<role> or --resource=/<cluster>/db/<name>' });
  if (roles.length > 0 && resources.length > 0) throw new BadParameterError('request roles or resources, not both');
  const body: CreateAccessRequest = roles.length > 0 ? { roles } : { resources };
  if (opts.reason !== undefined) body.reason = opts.reason;
  const reviewers = splitList(opts.reviewers);
  if (reviewers.length > 0) body.suggestedReviewers = reviewers;
  if (opts.maxDuration !== undefined) {
    const ms = parseDuration(opts.maxDuration);
    if (ms <= 0) throw new BadParameterError('--max-duration must be positive');
    body.maxDuration = ms;
  }
  return body;
}

/** Long-polls until the request is decided; a denial is an error naming the reason. */
async function waitForDecision(client: AuthClient, id: string): Promise<AccessRequest> {
  for (;;) {
    const request = await client.waitForAccessRequest(id, MAX_WAIT_MS);
    if (request.spec.state === 'APPROVED') return request;
    if (request.spec.state === 'DENIED') {
      const reason = request.spec.resolve_reason ? `, reason=${JSON.stringify(request.spec.resolve_reason)}` : '';
      throw new AccessDeniedError(`request ${id} has been set to DENIED${reason}`);
    }
  }
}

/** Re-issues the profile's certificates with `ids` as the active requests and returns the new status. */
async function reissue(session: DbSession, client: AuthClient, ids: string[]): Promise<ProfileStatus> {
  const tlsPublicKey = createPublicKey(session.creds.key).export({ type: 'spki', format: 'pem' }) as string;
  const certs = await client.generateUserCerts({ user: session.profile.user, sshPublicKey: session.creds.sshPublicKey, tlsPublicKey, accessRequests: ids });
  await saveReissuedCerts(session.home, session.profile, certs);
  const status = (await loadStatuses(session.home)).find((s) => s.webProxyAddr === session.profile.web_proxy_addr);
  if (status === undefined) throw new BadParameterError('the profile could not be read back after renewing its certificates');
  return status;
}

/** `tsh request new`: creates the request, then (unless `--nowait`) waits for the decision and assumes it. */
export async function newRequest(deps: RequestDeps, opts: NewRequestOptions): Promise<NewRequestResult> {
  const body = newRequestBody(opts);
  return withClient(deps.session, async (client) => {
    const request = await client.createAccessRequest(body);
    deps.progress(`Creating request...\nRequest ID: ${request.metadata.name}\n`);
    if (opts.nowait === true) return { request };
    deps.progress(`\nWaiting for request approval...\n`);
    const approved = await waitForDecision(client, request.metadata.name);
    deps.progress(`\nApproval received, getting updated certificates...\n\n`);
    const status = await reissue(deps.session, client, [...new Set([...deps.session.status.activeRequests, approved.metadata.name])]);
    return { request: approved, status };
  });
}

/** `tsh login --request-id` and the end of `tsh request new`: assumes an approved request. */
export async function assumeRequest(session: DbSession, id: string): Promise<ProfileStatus> {
  return withClient(session, async (client) => {
    const request = await client.getAccessRequest(id);
    if (request.spec.state !== 'APPROVED') throw new AccessDeniedError(`access request ${id} is ${request.spec.state.toLowerCase()}, not approved`);
    return reissue(session, client, [...new Set([...session.status.activeRequests, id])]);
  });
}

/**
 * After `tsh login`: when a role sets `request_access: always`, requests every requestable role, waits for the
 * decision and assumes it (Teleport's auto-request). `undefined` when nothing is to be requested.
 */
export async function loginAutoRequest(deps: RequestDeps, reason: string | undefined): Promise<ProfileStatus | undefined> {
  return withClient(deps.session, async (client) => {
    const caps = await client.getAccessCapabilities();
    if (!caps.autoRequest) return undefined;
    if (caps.requireReason && (reason === undefined || reason.trim() === '')) {
      throw new BadParameterError('a reason is required for the access request this login makes', { hint: caps.requestPrompt ?? 'pass --request-reason' });
    }
    const request = await client.createAccessRequest({ roles: caps.requestableRoles, ...(reason !== undefined ? { reason } : {}) });
    deps.progress(`Creating request...\nRequest ID: ${request.metadata.name}\n\nWaiting for request approval...\n`);
    const approved = await waitForDecision(client, request.metadata.name);
    deps.progress(`\nApproval received, getting updated certificates...\n\n`);
    return reissue(deps.session, client, [approved.metadata.name]);
  });
}

/** `tsh request drop [id...]`: re-issues the certificates without those requests (all when none is named). */
export async function dropRequests(session: DbSession, ids: readonly string[]): Promise<ProfileStatus> {
  const keep = ids.length === 0 || ids.includes('*') ? [] : session.status.activeRequests.filter((id) => !ids.includes(id));
  return withClient(session, (client) => reissue(session, client, keep));
}

/** `tsh request ls`: own requests and those the user may review (`--my-requests`, `--reviewable` narrow it). */
export async function listRequests(session: DbSession, opts: { reviewable?: boolean; myRequests?: boolean }): Promise<AccessRequest[]> {
  return withClient(session, async (client) => {
    const own = opts.reviewable === true ? [] : await client.getAccessRequests('own');
    const reviewable = opts.myRequests === true ? [] : await client.getAccessRequests('reviewable');
    const byId = new Map([...own, ...reviewable].map((r) => [r.metadata.name, r]));
    return [...byId.values()].sort((a, b) => (a.spec.created < b.spec.created ? -1 : 1));
  });
}

export async function showRequest(session: DbSession, id: string): Promise<AccessRequest> {
  return withClient(session, (client) => client.getAccessRequest(id));
}

/** The state `--approve` / `--deny` propose; exactly one is required. */
export function reviewState(opts: { approve?: boolean; deny?: boolean }): 'APPROVED' | 'DENIED' {
  if (opts.approve === true && opts.deny !== true) return 'APPROVED';
  if (opts.deny === true && opts.approve !== true) return 'DENIED';
  throw new BadParameterError('pass exactly one of --approve or --deny');
}

/** `tsh request review --approve|--deny [--reason] <id>`. */
export async function reviewRequest(session: DbSession, id: string, opts: { approve?: boolean; deny?: boolean; reason?: string }): Promise<AccessRequest> {
  const state = reviewState(opts);
  return withClient(session, (client) => client.reviewAccessRequest(id, { state, ...(opts.reason !== undefined ? { reason: opts.reason } : {}) }));
}

/** `tsh request search --kind=db [--labels k=v,...]`: databases a resource request may name. */
export async function searchResources(session: DbSession, opts: { kind: string; labels?: string }): Promise<RequestableResource[]> {
  if (opts.kind !== 'db') throw new BadParameterError(`--kind=${opts.kind} is not supported`, { hint: 'use --kind=db' });
  const wanted = splitList(opts.labels).map((pair) => {
    const i = pair.indexOf('=');
    if (i <= 0) throw new BadParameterError(`invalid label ${JSON.stringify(pair)}`, { hint: 'use --labels=key=value,key2=value2' });
    return [pair.slice(0, i), pair.slice(i + 1)] as const;
  });
  const found = await withClient(session, (client) => client.searchRequestableResources('db'));
  return found.filter((r) => wanted.every(([k, v]) => r.labels[k] === v));
}
