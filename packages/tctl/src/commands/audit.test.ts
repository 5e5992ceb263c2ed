import { describe, expect, it } from 'vitest';
import { newFakeAuth } from '../testing/fake-auth.js';
import { events, parseTime, render } from './audit.js';

const now = new Date('2026-05-01T10:00:00Z');

const text = (out: string | Iterable<string>): string => (typeof out === 'string' ? out : [...out].join(''));

function withEvents(n: number) {
  const api = newFakeAuth(() => now);
  for (let i = 0; i < n; i++) {
    api.events.push({
      uid: `u${i}`,
      event: i % 2 ? 'user.create' : 'user.login',
      code: i % 2 ? 'T1002I' : 'T1000I',
      time: new Date(now.getTime() - (n - i) * 60_000).toISOString(),
      user: 'admin',
      ...(i % 2 ? { name: `user${i}` } : { success: true }),
    });
  }
  return api;
}

describe('tctl audit events', () => {
  it('pages through results up to --limit and filters by type', async () => {
    const api = withEvents(30);
    expect(await events(api, { limit: '25' }, now)).toHaveLength(25);
    const creates = await events(api, { type: ['user.create'] }, now);
    expect(creates).toHaveLength(15);
    expect(creates.every((e) => e.event === 'user.create')).toBe(true);
  });

  it('renders a table and JSON', async () => {
    const api = withEvents(2);
    const list = await events(api, {}, now);
    expect(text(render(list))).toBe(
      'Time                     Type        Code   User  Details      \n' +
        '------------------------ ----------- ------ ----- ------------ \n' +
        '2026-05-01T09:58:00.000Z user.login  T1000I admin success=true \n' +
        '2026-05-01T09:59:00.000Z user.create T1002I admin name=user1   \n',
    );
    expect(JSON.parse(text(render(list, 'json')))).toHaveLength(2);
    expect(text(render([], 'json'))).toBe('[]\n');
    expect(render([], 'text')).toBe('No events found\n');
  });

  it('renders thousands of events with a 1 MB statement containing newlines: one line per event, cells capped; JSON keeps it whole', async () => {
    const api = withEvents(3000);
    const statement = `select 1;\n${'x'.repeat(1024 * 1024)}\nselect 2;`;
    api.events.splice(1500, 0, { uid: 'big', event: 'db.session.query', code: 'TDB02I', time: new Date(now.getTime() - 1500 * 60_000 - 1).toISOString(), user: 'alice', db_query: statement });
    const list = await events(api, { limit: '5000', from: '72h' }, now);
    expect(list).toHaveLength(3001);
    const lines = [...(render(list) as Iterable<string>)];
    expect(lines).toHaveLength(3003);
    expect(lines.every((l) => l.indexOf('\n') === l.length - 1)).toBe(true);
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThan(300);
    const big = lines.find((l) => l.includes('db.session.query'))!;
    expect(big).toContain('db_query=select 1;\\nxxx');
    expect(big.trimEnd().endsWith('…')).toBe(true);
    const json = JSON.parse(text(render(list, 'json'))) as { db_query?: string }[];
    expect(json.find((e) => e.db_query !== undefined)?.db_query).toBe(statement);
  });

  it('reads dates, times and durations ago', () => {
    expect(parseTime('2026-04-30', now, '--from').toISOString()).toBe('2026-04-30T00:00:00.000Z');
    expect(parseTime('2026-04-30T12:00:00Z', now, '--from').toISOString()).toBe('2026-04-30T12:00:00.000Z');
    expect(parseTime('2h', now, '--from').toISOString()).toBe('2026-05-01T08:00:00.000Z');
    expect(() => parseTime('yesterday', now, '--from')).toThrow('invalid --from "yesterday"');
  });
});
