/**
 * The access request watch stream (`GET /v1/accessrequests/watch`) through the auth API on a real socket and sqlite:
 * events in order, filtered per caller, the per-caller cap, no stream left behind a client that went away, and the
 * stream ending when the server closes.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccessRequestWatchEvent, AuthClient } from '@teleport-ts/core/api';
import { parseRole } from '@teleport-ts/core/types';
import { MAX_WATCHERS_PER_CALLER } from '../src/roles/auth/access-request-watch.js';
import { rejection, startTestAuth, type TestAuth } from './auth-helpers.js';

/** A running watch: its events as they come, and a way to wait for the next ones. */
function follow(client: AuthClient) {
  const controller = new AbortController();
  const events: AccessRequestWatchEvent[] = [];
  let wake: (() => void) | undefined;
  const ended = (async () => {
    for await (const e of client.watchAccessRequests(controller.signal)) {
      events.push(e);
      wake?.();
    }
  })();
  const until = async (n: number): Promise<AccessRequestWatchEvent[]> => {
    const deadline = Date.now() + 5_000;
    while (events.length < n) {
      if (Date.now() > deadline) throw new Error(`saw ${JSON.stringify(events.map(summary))}, waited for ${n} events`);
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 100);
      });
    }
    return events;
  };
  return { events, until, ended, stop: () => controller.abort() };
}

const summary = (e: AccessRequestWatchEvent): string =>
  e.type === 'put' ? `put ${e.request.spec.user} ${e.request.spec.state}` : e.type === 'delete' ? `delete ${e.id}` : e.type;

describe('access request watch stream', () => {
  let t: TestAuth;
  let bob: AuthClient;
  let erin: AuthClient;
  let alice: AuthClient;
  let dave: AuthClient;
  beforeAll(async () => {
    t = await startTestAuth();
    const role = (name: string, spec: Record<string, unknown>) => t.admin.upsertRole(parseRole({ kind: 'role', version: 'v7', metadata: { name }, spec }));
    await role('dba', { allow: { db_labels: { '*': '*' }, db_users: ['postgres'], db_names: ['*'] } });
    await role('dba-requester', { allow: { request: { roles: ['dba'] } } });
    await role('dba-reviewer', { allow: { review_requests: { roles: ['dba'] } } });
    bob = await t.userClient('bob', ['dba-requester']);
    erin = await t.userClient('erin', ['dba-requester']);
    alice = await t.userClient('alice', ['dba-reviewer']);
    dave = await t.userClient('dave', ['dba-requester']);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('shows init, a new request, its decision and its deletion in order; others see only what they may', async () => {
    const reviewer = follow(alice);
    const requester = follow(dave);
    const admin = follow(t.admin);
    await Promise.all([reviewer.until(1), requester.until(1), admin.until(1)]);
    expect(reviewer.events).toEqual([{ type: 'init' }]);

    const created = await bob.createAccessRequest({ roles: ['dba'], reason: 'incident 7' });
    const id = created.metadata.name;
    await alice.reviewAccessRequest(id, { state: 'APPROVED', reason: 'ok' });
    const own = await dave.createAccessRequest({ roles: ['dba'] });
    await bob.deleteAccessRequest(id);

    const seen = await reviewer.until(5);
    expect(seen.map(summary)).toEqual(['init', 'put bob PENDING', 'put bob APPROVED', 'put dave PENDING', `delete ${id}`]);
    const approved = seen[2];
    expect(approved?.type === 'put' && approved.request.spec.reviews.map((r) => r.author)).toEqual(['alice']);
    expect((await admin.until(5)).map(summary)).toEqual(seen.map(summary));
    // dave may neither review nor read others' requests: he sees his own only, and never bob's deletion.
    await t.admin.deleteAccessRequest(own.metadata.name);
    expect((await requester.until(3)).map(summary)).toEqual(['init', 'put dave PENDING', `delete ${own.metadata.name}`]);
    for (const w of [reviewer, requester, admin]) w.stop();
    await Promise.all([reviewer.ended, requester.ended, admin.ended]);
  });

  it(`caps streams per caller at ${MAX_WATCHERS_PER_CALLER}, and a client that goes away frees its stream`, async () => {
    const open = () => Array.from({ length: MAX_WATCHERS_PER_CALLER }, () => follow(erin));
    const first = open();
    await Promise.all(first.map((w) => w.until(1)));
    const over = follow(erin);
    expect(await rejection(over.ended)).toMatchObject({ kind: 'limit-exceeded', message: expect.stringMatching(/already has 8 access request watch streams/) });
    for (const w of first) w.stop();
    await Promise.all(first.map((w) => w.ended));
    // The server notices every disconnect: a full set opens again (it would hit the cap if a stream had leaked).
    await new Promise((r) => setTimeout(r, 300));
    const second = open();
    await Promise.all(second.map((w) => Promise.race([w.until(1), w.ended.then(() => Promise.reject(new Error('stream ended')))])));
    for (const w of second) w.stop();
    await Promise.all(second.map((w) => w.ended));
  });

  it('ends when the server closes', async () => {
    const w = follow(alice);
    await w.until(1);
    const started = Date.now();
    const closing = t.auth.close();
    await w.ended;
    await closing;
    expect(w.events).toEqual([{ type: 'init' }]);
    // Without ending the streams, the close would wait out its 10 s grace period.
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
