import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openBackend } from '../backend/index.js';
import { newMemoryBackend } from '../backend/memory/index.js';
import { newFakeClock } from '../clock/index.js';
import { assertCanReview, requestRules, withReview } from '../rbac/index.js';
import { parseAccessRequest, parseRole, type AccessRequest } from '../types/index.js';
import { newAccessRequestService } from './index.js';

const twoApprovals = parseRole({ kind: 'role', metadata: { name: 'two' }, spec: { allow: { request: { roles: ['dba'], thresholds: [{ approve: 2, deny: 2 }] } } } });
const reviewer = parseRole({ kind: 'role', metadata: { name: 'rev' }, spec: { allow: { review_requests: { roles: ['dba'] } } } });

function newRequest(id: string, now: Date): AccessRequest {
  const { thresholds, role_thresholds } = requestRules({ roles: [twoApprovals], traits: {} }, ['dba'], 'role');
  return parseAccessRequest({
    kind: 'access_request',
    metadata: { name: id, expires: new Date(now.getTime() + 3_600_000).toISOString() },
    spec: { user: 'bob', roles: ['dba'], state: 'PENDING', created: now.toISOString(), expires: new Date(now.getTime() + 600_000).toISOString(), thresholds, role_thresholds },
  });
}

const review = (requests: ReturnType<typeof newAccessRequestService>, id: string, author: string) =>
  requests.updateAccessRequest(id, (current) => {
    assertCanReview({ name: author, roles: [reviewer], traits: {} }, current);
    return withReview(current, { author, roles: ['rev'], state: 'APPROVED', created: new Date().toISOString() });
  });

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('access request service', () => {
  it('stores under /access_requests/<id> with the request TTL, and an approval moves the TTL to the access expiry', async () => {
    const clock = newFakeClock(new Date('2026-01-01T00:00:00Z'));
    const backend = newMemoryBackend({ clock });
    const requests = newAccessRequestService(backend);
    await requests.createAccessRequest(newRequest('r1', clock.now()));
    await expect(requests.createAccessRequest(newRequest('r1', clock.now()))).rejects.toMatchObject({ kind: 'already-exists' });
    expect((await backend.get('/access_requests/r1')).expires?.toISOString()).toBe('2026-01-01T01:00:00.000Z');
    await review(requests, 'r1', 'alice');
    await expect(review(requests, 'r1', 'alice')).rejects.toThrow(/already reviewed/);
    const { after } = await review(requests, 'r1', 'carol');
    expect(after.spec.state).toBe('APPROVED');
    expect((await backend.get('/access_requests/r1')).expires?.toISOString()).toBe('2026-01-01T01:00:00.000Z');
    clock.advance(3_600_001);
    await expect(requests.getAccessRequest('r1')).rejects.toMatchObject({ kind: 'not-found' });
    await expect(requests.deleteAccessRequest('r1')).rejects.toMatchObject({ kind: 'not-found' });
  });

  it('counts two concurrent reviews from two services on one sqlite backend, and a waiter sees the decision', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'requests-'));
    dirs.push(dir);
    const a = await openBackend({ storage: { type: 'sqlite', path: dir }, dataDir: dir });
    const b = await openBackend({ storage: { type: 'sqlite', path: dir }, dataDir: dir });
    try {
      const ra = newAccessRequestService(a);
      const rb = newAccessRequestService(b);
      await ra.createAccessRequest(newRequest('r2', new Date()));
      const pending = await ra.waitForDecision('r2', 50);
      expect(pending.spec.state).toBe('PENDING');
      const waiting = ra.waitForDecision('r2', 10_000);
      await Promise.all([review(ra, 'r2', 'alice'), review(rb, 'r2', 'carol')]);
      const decided = await waiting;
      expect(decided.spec.state).toBe('APPROVED');
      expect(decided.spec.reviews.map((r) => r.author).sort()).toEqual(['alice', 'carol']);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
