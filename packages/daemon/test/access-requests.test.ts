/**
 * Access requests through the auth API on a real socket and sqlite: thresholds, reviews (never one's own, only for
 * covered roles), concurrent reviews, the long poll, certificates carrying the requested roles and request ids up to
 * the access expiry, resource requests, and the audit trail.
 */

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthClient } from '@teleport-ts/core/api';
import { BALANCED_V1, generateKeyPair, parseIdentity, parseSshCertificate } from '@teleport-ts/core/ca';
import { parseRole } from '@teleport-ts/core/types';
import { rejection, startTestAuth, type TestAuth } from './auth-helpers.js';

const MINUTE = 60_000;

async function certsFor(client: AuthClient, user: string, accessRequests?: string[]) {
  const [tls, ssh] = await Promise.all([generateKeyPair(BALANCED_V1['tls-user']), generateKeyPair(BALANCED_V1['ssh-user'])]);
  const certs = await client.generateUserCerts({ user, tlsPublicKey: tls.publicKeyPem, sshPublicKey: ssh.sshPublicKey, ...(accessRequests ? { accessRequests } : {}) });
  return { identity: parseIdentity(certs.tlsCert), ssh: parseSshCertificate(certs.sshCert) };
}

describe('access requests', () => {
  let t: TestAuth;
  let bob: AuthClient;
  let alice: AuthClient;
  let carol: AuthClient;
  let dave: AuthClient;
  beforeAll(async () => {
    t = await startTestAuth();
    const role = (name: string, spec: Record<string, unknown>) => t.admin.upsertRole(parseRole({ kind: 'role', version: 'v7', metadata: { name }, spec }));
    await role('dba', { allow: { db_labels: { '*': '*' }, db_users: ['postgres'], db_names: ['*'] } });
    await role('dba-requester', { allow: { request: { roles: ['dba'], search_as_roles: ['dba'], thresholds: [{ approve: 2, deny: 1 }] } } });
    await role('dba-reviewer', { allow: { review_requests: { roles: ['dba'] } } });
    bob = await t.userClient('bob', ['access', 'dba-requester']);
    alice = await t.userClient('alice', ['dba-reviewer']);
    carol = await t.userClient('carol', ['dba-reviewer']);
    dave = await t.userClient('dave', ['reviewer']);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('needs two approvals, counts two concurrent ones, and the certificates then carry dba and the request id', async () => {
    const created = await bob.createAccessRequest({ roles: ['dba'], reason: 'incident 42' });
    expect(created.spec).toMatchObject({ user: 'bob', roles: ['dba'], state: 'PENDING', request_reason: 'incident 42' });
    const id = created.metadata.name;
    expect((await rejection(bob.reviewAccessRequest(id, { state: 'APPROVED' }))).message).toMatch(/own access request/);
    expect((await rejection(dave.reviewAccessRequest(id, { state: 'APPROVED' }))).message).toMatch(/may not review access requests for dba/);
    expect((await alice.getAccessRequests('reviewable')).map((r) => r.metadata.name)).toEqual([id]);
    expect(await dave.getAccessRequests('reviewable')).toEqual([]);
    expect((await rejection(bob.generateUserCerts({ user: 'bob', tlsPublicKey: 'x', sshPublicKey: 'y', accessRequests: [id] }))).kind).toBeDefined();
    await expect(certsFor(bob, 'bob', [id])).rejects.toThrow(/pending, not approved/);

    expect((await bob.waitForAccessRequest(id, 50)).spec.state).toBe('PENDING');
    const waiting = bob.waitForAccessRequest(id, 20_000);
    const [a, c] = await Promise.all([alice.reviewAccessRequest(id, { state: 'APPROVED', reason: 'ok' }), carol.reviewAccessRequest(id, { state: 'APPROVED' })]);
    expect([a.spec.state, c.spec.state].sort()).toEqual(['APPROVED', 'PENDING']);
    const decided = await waiting;
    expect(decided.spec.state).toBe('APPROVED');
    expect(decided.spec.reviews.map((r) => r.author).sort()).toEqual(['alice', 'carol']);

    const { identity, ssh } = await certsFor(bob, 'bob', [id]);
    expect(identity.roles).toEqual(['access', 'dba-requester', 'dba']);
    expect(identity.activeRequests).toEqual([id]);
    expect(identity.expires.getTime()).toBeLessThanOrEqual(Date.parse(decided.spec.expires));
    expect(JSON.parse(ssh.extensions['teleport-active-requests'] ?? '{}')).toEqual({ access_requests: [id] });
    // Dropping the requests returns to the base roles.
    const dropped = await certsFor(bob, 'bob', []);
    expect(dropped.identity.roles).toEqual(['access', 'dba-requester']);
    expect(dropped.identity.activeRequests).toBeUndefined();
  });

  it('tells a user what they may request, and whether a reason is required or login must request', async () => {
    expect(await bob.getAccessCapabilities()).toEqual({ requestableRoles: ['dba'], requireReason: false, autoRequest: false });
    await t.admin.upsertRole(parseRole({ kind: 'role', metadata: { name: 'always' }, spec: { allow: { request: { roles: ['dba'] } }, options: { request_access: 'always', request_prompt: 'Ticket?' } } }));
    const erin = await t.userClient('erin', ['always']);
    expect(await erin.getAccessCapabilities()).toEqual({ requestableRoles: ['dba'], requireReason: false, autoRequest: true, requestPrompt: 'Ticket?' });
    expect(await alice.getAccessCapabilities()).toEqual({ requestableRoles: [], requireReason: false, autoRequest: false });
  });

  it('a denial ends the request; requests for other roles, or by others for bob, are refused', async () => {
    const { metadata } = await bob.createAccessRequest({ roles: ['dba'] });
    expect((await alice.reviewAccessRequest(metadata.name, { state: 'DENIED', reason: 'no' })).spec).toMatchObject({ state: 'DENIED', resolve_reason: 'no' });
    expect((await rejection(carol.reviewAccessRequest(metadata.name, { state: 'APPROVED' }))).message).toMatch(/already denied/);
    await expect(certsFor(bob, 'bob', [metadata.name])).rejects.toThrow(/denied, not approved/);
    expect((await rejection(bob.createAccessRequest({ roles: ['editor'] }))).message).toMatch(/may not request role "editor"/);
    expect((await rejection(alice.createAccessRequest({ user: 'bob', roles: ['dba'] }))).kind).toBe('access-denied');
    expect((await alice.getAccessRequest(metadata.name)).spec.state).toBe('DENIED');
    expect((await rejection(dave.getAccessRequest(metadata.name))).kind).toBe('access-denied');
  });

  it('tctl: the admin creates for bob, approves a request outright, and the access expiry bounds the certificates', async () => {
    const created = await t.admin.createAccessRequest({ user: 'bob', roles: ['dba'], reason: 'maintenance', maxDuration: 5 * MINUTE });
    expect(Date.parse(created.spec.expires) - Date.parse(created.spec.created)).toBe(5 * MINUTE);
    const approved = await t.admin.setAccessRequestState(created.metadata.name, { state: 'APPROVED', reason: 'fine' });
    expect(approved.spec.state).toBe('APPROVED');
    const { identity } = await certsFor(bob, 'bob', [created.metadata.name]);
    expect(identity.expires.getTime()).toBeLessThanOrEqual(Date.parse(created.spec.expires));
    t.clock.advance(5 * MINUTE + 1000);
    await expect(certsFor(bob, 'bob', [created.metadata.name])).rejects.toThrow(/not found or has expired|has expired/);
    expect((await t.admin.getAccessRequests('all')).length).toBeGreaterThan(0);
  });

  it('a resource request confines the certificates to the named database', async () => {
    const created = await bob.createAccessRequest({ resources: ['/test.example.com/db/roach'], reason: 'debug' });
    expect(created.spec).toMatchObject({ roles: ['dba'], resources: ['/test.example.com/db/roach'] });
    expect((await rejection(bob.createAccessRequest({ resources: ['/other/db/roach'] }))).message).toMatch(/not in cluster/);
    await alice.reviewAccessRequest(created.metadata.name, { state: 'APPROVED' });
    await carol.reviewAccessRequest(created.metadata.name, { state: 'APPROVED' });
    const { identity } = await certsFor(bob, 'bob', [created.metadata.name]);
    expect(identity.allowedResourceIds).toEqual(['/test.example.com/db/roach']);
    await bob.deleteAccessRequest(created.metadata.name);
    await expect(bob.getAccessRequest(created.metadata.name)).rejects.toMatchObject({ kind: 'not-found' });
  });

  it('audits create, review, update, delete and certificates naming the request', async () => {
    const { events } = await t.admin.searchEvents({ from: new Date(0), to: new Date(t.clock.now().getTime() + 60 * MINUTE), limit: 1000, order: 'asc' });
    const kinds = new Set(events.map((e) => `${String(e['event'])}:${String(e['state'] ?? '')}`));
    for (const k of ['access_request.create:PENDING', 'access_request.update:APPROVED', 'access_request.update:DENIED', 'access_request.review:', 'access_request.delete:']) {
      expect(kinds).toContain(k);
    }
    const cert = events.find((e) => e['event'] === 'cert.create' && Array.isArray((e['identity'] as { access_requests?: unknown })?.access_requests));
    expect(cert).toBeDefined();
  });
});

describe('access request webhook', () => {
  it('POSTs the create and the decision to a real HTTP receiver, retrying after a 503, with nothing secret in the body', async () => {
    const received: Record<string, unknown>[] = [];
    let calls = 0;
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        calls++;
        // The first delivery fails: the notifier must retry.
        if (calls === 1) {
          res.writeHead(503).end();
          return;
        }
        received.push(JSON.parse(body) as Record<string, unknown>);
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const t = await startTestAuth({ accessRequestWebhook: { url: `http://127.0.0.1:${port}/hook` } });
    try {
      await t.admin.upsertRole(parseRole({ kind: 'role', metadata: { name: 'dba' }, spec: {} }));
      await t.admin.upsertRole(parseRole({ kind: 'role', metadata: { name: 'req' }, spec: { allow: { request: { roles: ['dba'] } } } }));
      const bob = await t.userClient('bob', ['req']);
      const created = await bob.createAccessRequest({ roles: ['dba'], reason: 'incident 42' });
      await t.admin.setAccessRequestState(created.metadata.name, { state: 'DENIED', reason: 'not now' });
      const deadline = Date.now() + 10_000;
      while (received.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const byEvent = Object.fromEntries(received.map((b) => [String(b['event']), b]));
      expect(byEvent['access_request.create']).toMatchObject({ id: created.metadata.name, user: 'bob', roles: ['dba'], state: 'PENDING', request_reason: 'incident 42', cluster: 'test.example.com' });
      expect(byEvent['access_request.update']).toMatchObject({ id: created.metadata.name, state: 'DENIED', resolve_reason: 'not now' });
      expect(calls).toBe(3);
      expect(JSON.stringify(received)).not.toMatch(/BEGIN|PRIVATE|token/i);
    } finally {
      await t.close();
      server.close();
    }
  });
});
