import { describe, expect, it } from 'vitest';
import { formatDurationShort } from '@teleport-ts/core/types';
import { humanDateSeconds, humanTime, rfc822, roundedDuration } from './time.js';

describe('Go time formats', () => {
  it('HumanDateFormatSeconds pads the day with a space', () => {
    expect(humanDateSeconds(new Date('2026-03-01T09:05:07Z'))).toBe('Mar  1 09:05:07 UTC');
    expect(humanDateSeconds(new Date('2026-11-21T23:59:59Z'))).toBe('Nov 21 23:59:59 UTC');
  });

  it('HumanTimeFormat has the weekday, a space-padded day and no seconds', () => {
    expect(humanTime(new Date('2026-03-01T09:05:07Z'))).toBe('Sun Mar  1 09:05 UTC');
    expect(humanTime(new Date('2026-05-01T11:00:00Z'))).toBe('Fri May  1 11:00 UTC');
  });

  it('RFC822 has a two-digit year and no seconds', () => {
    expect(rfc822(new Date('2026-03-01T09:05:07Z'))).toBe('01 Mar 26 09:05 UTC');
  });

  it('rounds durations to seconds as Duration.Round(time.Second).String()', () => {
    expect(roundedDuration(29 * 60_000 + 59_400)).toBe('29m59s');
    expect(roundedDuration(29 * 60_000 + 59_600)).toBe('30m0s');
    expect(roundedDuration(8 * 3_600_000)).toBe('8h0m0s');
  });

  it('trims zero suffixes the way users add / reset print the link lifetime', () => {
    expect(formatDurationShort(3_600_000 - 200)).toBe('1h');
    expect(formatDurationShort(8 * 3_600_000)).toBe('8h');
    expect(formatDurationShort(30 * 60_000)).toBe('30m');
    expect(formatDurationShort(90 * 60_000)).toBe('1h30m');
    expect(formatDurationShort(45_000)).toBe('45s');
  });
});
