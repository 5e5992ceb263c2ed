/**
 * Session recordings on the auth server: the recording mode agents ask for, uploads from nodes and proxies (in parts,
 * then completed), and reading them back for `tsh recordings ls` and `tsh play`. Users need `session` `list` / `read`
 * rules (the `auditor` preset has both; `access` has them for the sessions the user took part in, through
 * `where: contains(session.participants, user.metadata.name)`).
 */

import { pipeline } from 'node:stream/promises';
import type { RecordingSummary, SessionRecordingMode } from '@teleport-ts/core/api';
import { AccessDeniedError } from '@teleport-ts/core/errors';
import { MESSAGE_ONLY, parseWith, v } from '@teleport-ts/core/schema';
import { streamResult, type StreamResult } from '../../http/router.js';
import { authorize, requireAuthenticated, requireSystemRole, type AuthenticatedCaller, type Caller } from './authz.js';
import type { AuthContext } from './context.js';

/** The one `where` clause session rules use (Teleport's presets); any other clause does not hold. */
const PARTICIPANT_CLAUSE = /^\s*contains\(\s*session\.participants\s*,\s*user\.metadata\.name\s*\)\s*$/;

/** How many recordings one listing answers at most. */
const MAX_LISTED = 1000;

const UploadPartBody = v.object({
  offset: v.pipe(v.number('offset must be a number'), v.integer('offset must be an integer'), v.minValue(0, 'offset must not be negative')),
  // base64 of at most MAX_RECORDING_PART_BYTES; the router's 1 MiB body cap bounds it first.
  data: v.string('data must be base64'),
});

const CompleteBody = v.object({
  parts: v.pipe(v.number('parts must be a number'), v.integer('parts must be an integer')),
  size: v.pipe(v.number('size must be a number'), v.integer('size must be an integer')),
});

/** Where `verb` on this recording is allowed for `caller`: a rule without `where`, or the participant clause holding. */
function allows(caller: AuthenticatedCaller, verb: string, summary: RecordingSummary): boolean {
  const where = (clause: string): boolean => PARTICIPANT_CLAUSE.test(clause) && summary.participants.includes(caller.username);
  return caller.checker.allowsRule('session', verb, { where });
}

/** Refuses callers no rule could ever let `verb` recordings, with Teleport's text. */
function requireSomeSessionRule(caller: Caller, verb: 'list' | 'read'): AuthenticatedCaller {
  const authed = requireAuthenticated(caller);
  if (!authed.checker.allowsRule('session', verb, { where: (clause) => PARTICIPANT_CLAUSE.test(clause) })) {
    throw new AccessDeniedError(`access denied to perform action "${verb}" on "session"`, {
      hint: 'session recordings are readable by roles with session rules, such as the auditor preset',
    });
  }
  return authed;
}

/** `GET /sessionrecording`: the cluster's recording mode (every authenticated caller; agents ask at start). */
export function getSessionRecordingConfig(ctx: AuthContext, caller: Caller): { mode: SessionRecordingMode } {
  authorize(caller, 'session_recording_config', 'read');
  return { mode: ctx.sessionRecording };
}

/** `PUT /recordings/:sid/parts/:index`: one part of a recording, from the Node or Proxy that recorded it. */
export async function uploadRecordingPart(ctx: AuthContext, caller: Caller, sid: string, indexText: string, rawBody: unknown): Promise<Record<string, never>> {
  const host = requireSystemRole(caller, 'Node', 'Proxy');
  authorize(caller, 'session', 'create');
  const body = parseWith(UploadPartBody, rawBody, MESSAGE_ONLY);
  const index = /^\d{1,9}$/.test(indexText) ? Number(indexText) : -1;
  await ctx.recordings.putPart(sid, { index, offset: body.offset, data: Buffer.from(body.data, 'base64') }, host.username);
  return {};
}

/** `POST /recordings/:sid/complete`: assembles the parts; the first completion records `session.upload`. */
export async function completeRecording(ctx: AuthContext, caller: Caller, sid: string, rawBody: unknown): Promise<RecordingSummary> {
  const host = requireSystemRole(caller, 'Node', 'Proxy');
  authorize(caller, 'session', 'create');
  const body = parseWith(CompleteBody, rawBody, MESSAGE_ONLY);
  const { summary, created } = await ctx.recordings.complete(sid, body, host.username);
  if (created) {
    await ctx.emit('sessionUpload', {
      sid: summary.sid,
      user: summary.user,
      login: summary.login,
      server_id: summary.server_id,
      server_hostname: summary.server_hostname,
      url: new URL(`${summary.sid}.ndjson`, `file://${ctx.recordings.dir}/`).toString(),
      recording_size: summary.recording_size,
    });
  }
  return summary;
}

/** `GET /recordings`: the recordings the caller may list, newest first. */
export async function listRecordings(ctx: AuthContext, caller: Caller, limitText: string | null): Promise<{ items: RecordingSummary[] }> {
  const authed = requireSomeSessionRule(caller, 'list');
  const limit = limitText === null ? MAX_LISTED : Math.min(Math.max(1, Number.parseInt(limitText, 10) || MAX_LISTED), MAX_LISTED);
  const items = (await ctx.recordings.list()).filter((s) => allows(authed, 'list', s)).slice(0, limit);
  return { items };
}

/**
 * `GET /recordings/:sid/events`: the recording's events as JSON lines, and a `session.recording.access` event. Callers
 * without any `session` read rule are refused before the recording is looked up; a recording their rules do not cover
 * (the access preset: a session they were not in) is access-denied.
 */
export async function streamRecording(ctx: AuthContext, caller: Caller, sid: string): Promise<StreamResult> {
  const authed = requireSomeSessionRule(caller, 'read');
  const summary = await ctx.recordings.summary(sid);
  if (!allows(authed, 'read', summary)) throw new AccessDeniedError('access denied to perform action "read" on "session"');
  const file = await ctx.recordings.open(summary.sid);
  await ctx.emit('sessionRecordingAccess', { sid: summary.sid, user: authed.username, session_type: summary.proto });
  return streamResult(async (res, signal) => {
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
    try {
      await pipeline(file, res, { signal });
    } catch {
      // The client went away, or the server is closing: nothing to answer.
      file.destroy();
    }
  });
}
