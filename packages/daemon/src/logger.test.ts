import { describe, expect, it } from 'vitest';
import { newFakeClock } from '@teleport-ts/core/clock';
import { newLogger } from './logger.js';

const clock = newFakeClock(new Date('2026-01-01T00:00:00Z'));

function capture(format: 'text' | 'json', severity: 'debug' | 'info' | 'warn' | 'error' = 'info') {
  const lines: string[] = [];
  const log = newLogger({ output: 'stderr', severity, format, clock, write: (l) => lines.push(l) });
  return { log, lines };
}

describe('logger', () => {
  it('writes JSON lines with timestamp, level, component and fields', () => {
    const { log, lines } = capture('json');
    log.with('auth', { cluster: 'example.com' }).info('auth service is up', { addr: '0.0.0.0:3025' });
    expect(JSON.parse(lines[0]!)).toEqual({
      timestamp: '2026-01-01T00:00:00.000Z',
      level: 'info',
      component: 'auth',
      message: 'auth service is up',
      cluster: 'example.com',
      addr: '0.0.0.0:3025',
    });
  });

  it('writes text lines in Teleport\'s shape and drops lines below the severity', () => {
    const { log, lines } = capture('text', 'warn');
    log.info('hidden');
    log.with('auth').warn('user locked', { user: 'alice', roles: ['a', 'b'], note: 'two words' });
    expect(lines).toEqual(['2026-01-01T00:00:00.000Z WARN  [AUTH] user locked user:alice roles:a,b note:"two words"\n']);
  });

  it('masks secret-named fields and credentials in connection strings', () => {
    const { log, lines } = capture('json');
    log.error('failed: postgres://teleport:hunter2@db:5432/teleport', { token: 'abc', password: 'pw', conn: 'postgres://u:pw2@h/db' });
    const line = lines[0]!;
    for (const secret of ['hunter2', 'abc', '"pw"', 'pw2']) expect(line).not.toContain(secret);
    expect(JSON.parse(line)).toMatchObject({ token: '[redacted]', password: '[redacted]' });
  });
});
