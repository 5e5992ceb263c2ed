import { describe, expect, it } from 'vitest';
import { parseAccessRequest, parseRole, type AccessRequest, type AccessReview, type Role } from '../types/index.js';
import { newPresetRequesterRole, newPresetReviewerRole } from './presets.js';
import { assertCanReview, evaluateReviewFilter, requestRules, requestableRoles, searchAsRoles, stateFromReviews, withReview, withState } from './requests.js';

const role = (name: string, spec: Record<string, unknown>): Role => parseRole({ kind: 'role', version: 'v7', metadata: { name }, spec });

const dbaRequester = role('dba-requester', {
  allow: { request: { roles: ['dba', 'db-*', '{{external.extra}}'], search_as_roles: ['access'], max_duration: '2h' } },
  deny: { request: { roles: ['db-admin'] } },
});
const twoApprovals = role('two', { allow: { request: { roles: ['dba'], thresholds: [{ approve: 2, deny: 1 }] } } });
const dbaReviewer = role('dba-reviewer', { allow: { review_requests: { roles: ['dba', 'access'] } } });
const CANDIDATES = ['access', 'dba', 'db-ro', 'db-admin', 'editor', 'ops'];

function request(all: Partial<ReturnType<typeof requestRules>>, roles = ['dba'], user = 'bob'): AccessRequest {
  const { maxDurationMs: _max, ...rules } = all;
  return parseAccessRequest({
    kind: 'access_request',
    metadata: { name: 'r1' },
    spec: { user, roles, state: 'PENDING', created: '2026-01-01T00:00:00Z', expires: '2026-01-01T01:00:00Z', ...rules },
  });
}

const review = (author: string, state: 'APPROVED' | 'DENIED', roles = ['dba-reviewer'], reason?: string): AccessReview => ({
  author,
  roles,
  state,
  created: '2026-01-01T00:10:00.000Z',
  ...(reason ? { reason } : {}),
});

describe('requestable roles', () => {
  it('matches names, globs and trait templates, and deny wins', () => {
    const set = { roles: [dbaRequester], traits: { extra: ['ops'] } };
    expect(requestableRoles(set, CANDIDATES)).toEqual(['dba', 'db-ro', 'ops']);
    expect(requestableRoles({ roles: [dbaRequester], traits: {} }, CANDIDATES)).toEqual(['dba', 'db-ro']);
    expect(requestableRoles({ roles: [newPresetRequesterRole()], traits: {} }, CANDIDATES)).toEqual(['access']);
    expect(searchAsRoles(set)).toEqual(['access']);
  });

  it('refuses a role that may not be requested, and carries thresholds and max_duration', () => {
    const set = { roles: [dbaRequester, twoApprovals], traits: {} };
    expect(() => requestRules(set, ['editor'], 'role')).toThrow(/may not request role "editor"/);
    expect(() => requestRules(set, ['db-admin'], 'role')).toThrow(/may not request role "db-admin"/);
    expect(() => requestRules(set, [], 'role')).toThrow(/at least one role/);
    const rules = requestRules(set, ['dba', 'db-ro'], 'role');
    expect(rules.thresholds).toEqual([{ approve: 1, deny: 1 }, { approve: 2, deny: 1 }]);
    expect(rules.role_thresholds).toEqual({ dba: [0, 1], 'db-ro': [0] });
    expect(rules.maxDurationMs).toBe(2 * 3_600_000);
    expect(requestRules(set, ['access'], 'resource').role_thresholds).toEqual({ access: [0] });
  });
});

describe('reviews', () => {
  it('one approval approves by default; one denial denies', () => {
    const r = request(requestRules({ roles: [dbaRequester], traits: {} }, ['dba'], 'role'));
    expect(withReview(r, review('alice', 'APPROVED', undefined, 'ok')).spec).toMatchObject({ state: 'APPROVED', resolve_reason: 'ok' });
    expect(withReview(r, review('alice', 'DENIED')).spec.state).toBe('DENIED');
  });

  it('a threshold of two approvals needs both, and a denial ends the request', () => {
    const r = request(requestRules({ roles: [twoApprovals], traits: {} }, ['dba'], 'role'));
    const once = withReview(r, review('alice', 'APPROVED'));
    expect(once.spec.state).toBe('PENDING');
    expect(withReview(once, review('carol', 'APPROVED')).spec.state).toBe('APPROVED');
    expect(withReview(once, review('carol', 'DENIED')).spec.state).toBe('DENIED');
  });

  it('every requested role needs one of its thresholds met', () => {
    const r = request(requestRules({ roles: [dbaRequester, twoApprovals], traits: {} }, ['dba'], 'role'));
    // dba may be decided by either threshold: the default one (one approval) suffices.
    expect(withReview(r, review('alice', 'APPROVED')).spec.state).toBe('APPROVED');
    const filtered = role('filtered', { allow: { request: { roles: ['dba'], thresholds: [{ approve: 1, deny: 1, filter: 'contains(reviewer.roles, "senior")' }] } } });
    const f = request(requestRules({ roles: [filtered], traits: {} }, ['dba'], 'role'));
    expect(withReview(f, review('alice', 'APPROVED', ['dba-reviewer'])).spec.state).toBe('PENDING');
    expect(withReview(f, review('alice', 'APPROVED', ['senior'])).spec.state).toBe('APPROVED');
  });

  it('no self-review, no second review, and only roles the reviewer covers', () => {
    const r = request(requestRules({ roles: [twoApprovals], traits: {} }, ['dba'], 'role'));
    const alice = { name: 'alice', roles: [dbaReviewer], traits: {} };
    expect(() => assertCanReview({ ...alice, name: 'bob' }, r)).toThrow(/own access request/);
    expect(() => assertCanReview(alice, r)).not.toThrow();
    expect(() => assertCanReview(alice, withReview(r, review('alice', 'APPROVED')))).toThrow(/already reviewed/);
    expect(() => assertCanReview({ name: 'carol', roles: [newPresetReviewerRole()], traits: {} }, r)).toThrow(/may not review access requests for dba/);
    const denied = role('no-dba', { deny: { review_requests: { roles: ['dba'] } } });
    expect(() => assertCanReview({ ...alice, roles: [dbaReviewer, denied] }, r)).toThrow(/may not review/);
    expect(() => assertCanReview(alice, withReview(withReview(r, review('x', 'DENIED')), review('y', 'DENIED')))).toThrow(/already denied/);
  });

  it('an administrator approves a subset, or denies, once', () => {
    const r = request(requestRules({ roles: [dbaRequester], traits: {} }, ['dba', 'db-ro'], 'role'), ['dba', 'db-ro']);
    expect(withState(r, 'APPROVED', { roles: ['db-ro'], reason: 'only ro' }).spec).toMatchObject({ state: 'APPROVED', roles: ['db-ro'], resolve_reason: 'only ro' });
    expect(() => withState(r, 'APPROVED', { roles: ['editor'] })).toThrow(/was not requested/);
    expect(() => withState(withState(r, 'DENIED'), 'APPROVED')).toThrow(/already denied/);
  });
});

describe('threshold filters', () => {
  const subject = { roles: ['dba', 'reviewer'], traits: { team: ['sre'] } };
  it.each([
    ['contains(reviewer.roles, "dba")', true],
    ['contains(reviewer.roles, "x")', false],
    ['contains(reviewer.roles, "x") || contains(reviewer.traits["team"], "sre")', true],
    ['contains(reviewer.roles, "dba") && !contains(reviewer.roles, "reviewer")', false],
    ['(contains(reviewer.roles,"x") || equals("a", "a")) && contains(reviewer.roles, "dba")', true],
  ])('%s is %s', (filter, expected) => {
    expect(evaluateReviewFilter(filter, subject)).toBe(expected);
  });
  it('refuses what it does not understand, and such a threshold never counts', () => {
    expect(() => evaluateReviewFilter('regexp.match(reviewer.roles, "x")', subject)).toThrow(/invalid threshold filter/);
    expect(() => evaluateReviewFilter('contains(reviewer.roles', subject)).toThrow(/invalid threshold filter/);
    expect(stateFromReviews({ ...request({ thresholds: [{ approve: 1, deny: 1, filter: 'nonsense(' }], role_thresholds: { dba: [0] } }).spec, reviews: [review('a', 'APPROVED')] })).toBe('PENDING');
  });
});
