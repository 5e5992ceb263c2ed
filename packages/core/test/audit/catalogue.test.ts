import { describe, expect, it } from 'vitest';
import { newFakeClock } from '../../src/clock/index.js';
import {
  AUDIT_EVENT_CATALOGUE,
  AUDIT_EVENTS,
  auditEventSeverity,
  lookupAuditEventCode,
  newAuditEvent,
} from '../../src/audit/index.js';

describe('audit event catalogue', () => {
  it('has unique keys and codes, Teleport-shaped codes, and one name per key', () => {
    const keys = AUDIT_EVENT_CATALOGUE.map((d) => d.key);
    const codes = AUDIT_EVENT_CATALOGUE.map((d) => d.code);
    expect(new Set(keys).size).toBe(keys.length);
    expect(new Set(codes).size).toBe(codes.length);
    for (const d of AUDIT_EVENT_CATALOGUE) {
      expect(d.code).toMatch(/^T[A-Z0-9]{4,}[IWE]$/);
      expect(d.event).toMatch(/^[a-z_]+(\.[a-z_]+)*$/);
      expect(d.description.length).toBeGreaterThan(0);
    }
  });

  it('uses Teleport\'s codes for the events the next issues emit', () => {
    const pairs = Object.fromEntries(AUDIT_EVENT_CATALOGUE.map((d) => [d.code, d.event]));
    expect(pairs).toMatchObject({
      T1000I: 'user.login',
      T1000W: 'user.login',
      T1002I: 'user.create',
      T1003I: 'user.update',
      T1004I: 'user.delete',
      T1005I: 'user.password_change',
      TC000I: 'cert.create',
      TJT00I: 'join_token.create',
      TJ002I: 'instance.join',
      TJ002E: 'instance.join',
      T9000I: 'role.created',
      T9001I: 'role.deleted',
      TLK00I: 'lock.created',
      TDB00I: 'db.session.start',
      TDB00W: 'db.session.start',
      TDB01I: 'db.session.end',
      TDB02I: 'db.session.query',
      T3007W: 'auth',
      T2000I: 'session.start',
      T2002I: 'resize',
      T2004I: 'session.end',
      T2005I: 'session.upload',
      T2012I: 'session.recording.access',
      T3002I: 'exec',
      T3002E: 'exec',
      T3003I: 'port',
      T3004I: 'scp',
      T3005I: 'scp',
      TS001I: 'sftp',
    });
  });

  it('looks up by key and code, and reads severity from the suffix', () => {
    expect(AUDIT_EVENTS.userLoginFailure).toMatchObject({ event: 'user.login', code: 'T1000W' });
    expect(lookupAuditEventCode('TDB00W')?.key).toBe('databaseSessionStartFailure');
    expect(lookupAuditEventCode('NOPE')).toBeUndefined();
    expect(auditEventSeverity('T1000I')).toBe('info');
    expect(auditEventSeverity('T1000W')).toBe('warning');
    expect(auditEventSeverity('TJ002E')).toBe('error');
  });

  it('newAuditEvent fills event, code, uid and time from the clock, and drops undefined fields', () => {
    const clock = newFakeClock(new Date('2026-03-01T12:00:00.000Z'));
    const ev = newAuditEvent('userLoginFailure', { user: 'alice', success: false, error: 'bad password', method: undefined }, { clock });
    expect(ev).toEqual({
      event: 'user.login',
      code: 'T1000W',
      uid: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
      time: '2026-03-01T12:00:00.000Z',
      user: 'alice',
      success: false,
      error: 'bad password',
    });
    expect('method' in ev).toBe(false);
    expect(newAuditEvent('userCreate', {}, { uid: 'fixed' }).uid).toBe('fixed');
    expect(newAuditEvent('userCreate').uid).not.toBe(newAuditEvent('userCreate').uid);
  });
});
