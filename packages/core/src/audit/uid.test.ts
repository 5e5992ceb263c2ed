import { describe, expect, it } from 'vitest';
import { newAuditEvent } from './catalogue.js';
import { newEventUid } from './uid.js';

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('newEventUid', () => {
  it('is a UUIDv7 carrying the millisecond it was made', () => {
    const ms = Date.UTC(2026, 10, 21, 8, 30, 0, 123);
    const uid = newEventUid(ms);
    expect(uid).toMatch(V7);
    expect(parseInt(uid.replace(/-/g, '').slice(0, 12), 16)).toBe(ms);
  });

  it('sorts in creation order, within one millisecond and across 10,000 uids made back to back', () => {
    const uids = Array.from({ length: 10_000 }, () => newEventUid());
    expect(new Set(uids).size).toBe(uids.length);
    expect([...uids].sort()).toEqual(uids);
    const sameMs = Array.from({ length: 5_000 }, () => newEventUid(Date.now() + 60_000));
    expect([...sameMs].sort()).toEqual(sameMs);
    expect(new Set(sameMs).size).toBe(sameMs.length);
  });

  it('never goes backwards when the clock does', () => {
    const a = newEventUid(Date.now() + 120_000);
    const b = newEventUid(Date.now() - 3_600_000);
    expect(b > a).toBe(true);
  });

  it('is what new audit events get, with the time of the event', () => {
    const ev = newAuditEvent('databaseSessionQuery', { db_query: 'select 1' }, { clock: { now: () => new Date(Date.now() + 180_000) } as never });
    expect(ev.uid).toMatch(V7);
    expect(parseInt(ev.uid.replace(/-/g, '').slice(0, 12), 16)).toBeGreaterThanOrEqual(Date.parse(ev.time));
  });
});
