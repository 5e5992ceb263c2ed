import { describe, expect, it } from 'vitest';
import { isKind } from '../errors/index.js';
import { formatDuration, formatDurationShort, MAX_TTL_MS, parseDuration, parseTtl } from './duration.js';

const H = 3_600_000;
const M = 60_000;
const S = 1_000;

describe('parseDuration', () => {
  it.each([
    ['8h', 8 * H],
    ['30h', 30 * H],
    ['1h30m', H + 30 * M],
    ['1.5h', 1.5 * H],
    ['90s', 90 * S],
    ['1h0m0s', H],
    ['500ms', 500],
    ['100us', 0.1],
    ['2µs', 0.002],
    ['250ns', 0.00025],
    ['0', 0],
    ['-1m', -M],
    ['+2m', 2 * M],
    ['.5s', 500],
    ['1.s', S],
    ['8760h', 8760 * H],
  ])('%s -> %d ms', (text, ms) => {
    expect(parseDuration(text)).toBeCloseTo(ms, 9);
  });

  it.each(['', '1', 'h', '1x', '1h 30m', '.h', 'abc', '1hh', '-', ' 1h', '1h-30m', '9'.repeat(70) + 'h'])('rejects %j', (text) => {
    let err: unknown;
    try {
      parseDuration(text);
    } catch (e) {
      err = e;
    }
    expect(isKind(err, 'bad-parameter')).toBe(true);
    expect((err as Error).message).toMatch(/^invalid duration/);
  });
});

describe('formatDuration (Go time.Duration.String)', () => {
  it.each([
    [30 * H, '30h0m0s'],
    [H + 30 * M, '1h30m0s'],
    [8 * H, '8h0m0s'],
    [90 * S, '1m30s'],
    [61 * S, '1m1s'],
    [1.5 * S, '1.5s'],
    [S, '1s'],
    [500, '500ms'],
    [1.5, '1.5ms'],
    [0.002, '2µs'],
    [0.00025, '250ns'],
    [0, '0s'],
    [-30 * S, '-30s'],
    [8760 * H, '8760h0m0s'],
  ])('%d ms -> %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it.each(['30h', '1h30m', '45m', '1.5s', '8760h', '2h3m4.005s'])('round-trips %s', (text) => {
    expect(parseDuration(formatDuration(parseDuration(text)))).toBeCloseTo(parseDuration(text), 9);
  });
});

describe('parseTtl', () => {
  it('accepts a positive duration up to 8760h and refuses the rest in one line', () => {
    expect(parseTtl('30m')).toBe(1_800_000);
    expect(parseTtl('8760h')).toBe(MAX_TTL_MS);
    expect(() => parseTtl('999999h')).toThrow(/^--ttl must not be longer than 8760h$/);
    expect(() => parseTtl('8760h1s')).toThrow(/^--ttl must not be longer than 8760h$/);
    expect(() => parseTtl('0')).toThrow(/^--ttl must be positive$/);
    expect(() => parseTtl('49h', { maxMs: 48 * 3_600_000 })).toThrow(/^--ttl must not be longer than 48h$/);
    expect(formatDurationShort(90 * 60_000)).toBe('1h30m');
    expect(formatDurationShort(1_000)).toBe('1s');
  });
});
