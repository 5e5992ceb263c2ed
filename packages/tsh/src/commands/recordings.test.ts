import { describe, expect, it } from 'vitest';
import { humanDate, renderRecordingList } from '../render/recordings.js';
import { checkPlay, listWindow } from './recordings.js';

const now = new Date('2026-03-02T12:00:00.000Z');

describe('tsh recordings ls flags', () => {
  it("defaults to the last 24 hours and 50 recordings, as Teleport's", () => {
    expect(listWindow({}, now)).toEqual({ from: new Date('2026-03-01T12:00:00.000Z'), to: now, limit: 50 });
    expect(listWindow({ last: '1h30m', limit: '5' }, now)).toEqual({ from: new Date('2026-03-02T10:30:00.000Z'), to: now, limit: 5 });
    expect(listWindow({ fromUtc: '2026-01-01', toUtc: '2026-02-01' }, now)).toEqual({ from: new Date('2026-01-01T00:00:00Z'), to: new Date('2026-02-01T00:00:00Z'), limit: 50 });
  });

  it('refuses a bad limit, date or a mix of --last and dates', () => {
    expect(() => listWindow({ limit: '0' }, now)).toThrow('--limit must be a positive integer');
    expect(() => listWindow({ fromUtc: '01/02/2026' }, now)).toThrow('--from-utc must be a date such as 2026-01-31');
    expect(() => listWindow({ last: '1h', toUtc: '2026-01-01' }, now)).toThrow('use --last or --from-utc/--to-utc, not both');
  });
});

describe('tsh play flags', () => {
  it('takes a session id, a speed and a format', () => {
    const sid = '6E1D830C-964E-4DC8-829E-B07CDB4469F6';
    expect(checkPlay(sid, { speed: '0.5x', format: 'pty' })).toEqual({ sid: sid.toLowerCase(), speed: 0.5, format: 'pty' });
    expect(() => checkPlay(undefined, { speed: '1x', format: 'pty' })).toThrow('a session ID is required');
    expect(() => checkPlay('../etc', { speed: '1x', format: 'pty' })).toThrow('"../etc" is not a session ID');
    expect(() => checkPlay(sid, { speed: '3x', format: 'pty' })).toThrow('--speed must be one of 0.5x, 1x, 2x, 4x, 8x');
  });
});

describe('recording renderers', () => {
  it("writes Teleport's HumanDateFormatSeconds and its columns", () => {
    expect(humanDate('2026-01-02T03:04:05.678Z')).toBe('Jan  2 2026 03:04:05 UTC');
    expect(humanDate('2026-12-24T23:59:59Z')).toBe('Dec 24 2026 23:59:59 UTC');
    const text = renderRecordingList([], 'text');
    expect(text.split('\n')[0]).toMatch(/^ID\s+Type\s+Participants\s+Hostname\s+Timestamp\s*$/);
    expect(renderRecordingList([], 'json')).toBe('[]\n');
  });
});
