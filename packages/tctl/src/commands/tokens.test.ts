import { describe, expect, it } from 'vitest';
import { newCertAuthority } from '@teleport-ts/core/ca';
import { newFakeClock } from '@teleport-ts/core/clock';
import { newFakeAuth } from '../testing/fake-auth.js';
import { caPinsOf } from './ca-info.js';
import { add, list, maskToken, parseTokenType, remove, renderAdd, renderList, renderRemove, type TokensApi } from './tokens.js';

const clock = newFakeClock(new Date('2026-05-01T10:00:00Z'));
const now = () => clock.now();
const hostCa = await newCertAuthority({ clusterName: 'example.com', type: 'host', clock });
const pin = caPinsOf([hostCa], 'example.com')[0]!;

function api(): TokensApi & ReturnType<typeof newFakeAuth> {
  return Object.assign(newFakeAuth(now), { getCertAuthorities: async () => [hostCa] });
}

const VALUE = '0123456789abcdef0123456789abcdef';

describe('tctl tokens add', () => {
  it('prints the node join command with the token, CA pin and auth server', async () => {
    const result = await add(api(), { type: 'node', value: VALUE }, now, '10.0.0.5:3025');
    expect(renderAdd(result)).toBe(`The invite token: ${VALUE}
This token will expire in 30 minutes.

Run this on the new node to join the cluster:

> teleport-ts start \\
   --roles=node \\
   --token=${VALUE} \\
   --ca-pin=${pin} \\
   --auth-server=10.0.0.5:3025

Please note:

  - This invitation token will expire in 30 minutes
  - 10.0.0.5:3025 must be reachable from the new node
`);
  });

  it('prints the database agent form for --type=db', async () => {
    const a = api();
    const result = await add(a, { type: 'db', ttl: '1h', dbName: 'pg', dbProtocol: 'postgres', dbUri: 'localhost:5432' }, now, '127.0.0.1:3025');
    expect(result.token).toMatch(/^[0-9a-f]{32}$/);
    expect(a.tokens.get(result.token)!.spec.roles).toEqual(['Db']);
    const text = renderAdd(result);
    expect(text).toContain(`The invite token: ${result.token}\nThis token will expire in 60 minutes.\n`);
    expect(text).toContain(
      `> teleport-ts start \\\n   --roles=db \\\n   --token=${result.token} \\\n   --ca-pin=${pin} \\\n   --auth-server=127.0.0.1:3025 \\\n   --db-name=pg \\\n   --db-protocol=postgres \\\n   --db-uri=localhost:5432\n`,
    );
  });

  it('prints only the token with --format=text, and the token info as JSON', async () => {
    const result = await add(api(), { type: 'node,db', value: VALUE }, now, 'a:3025');
    expect(renderAdd(result, 'text')).toBe(`${VALUE}\n`);
    expect(JSON.parse(renderAdd(result, 'json'))).toEqual({ expires: '2026-05-01T10:30:00.000Z', roles: ['Node', 'Db'], token: VALUE });
  });

  it('refuses a wrong type in one line, creating nothing', async () => {
    const a = api();
    await expect(add(a, { type: 'node,bogus' }, now)).rejects.toThrow(/^unknown token type "bogus", use one of: auth, node, proxy/);
    await expect(add(a, { type: 'node,bogus' }, now)).rejects.toMatchObject({ hint: undefined });
    await expect(add(a, {}, now)).rejects.toThrow('required flag --type not provided');
    expect(a.calls).toEqual([]);
  });

  it('parses types case-insensitively, deduplicated', () => {
    expect(parseTokenType('Node,db,NODE')).toEqual(['Node', 'Db']);
  });
});

describe('tctl tokens ls / rm', () => {
  it('lists tokens masked, with type and expiry', async () => {
    const a = api();
    expect(renderList(await list(a, {}), { now: now() })).toBe('No active tokens found.\n');
    await add(a, { type: 'node', value: VALUE }, now, 'a:3025');
    const text = renderList(await list(a, {}), { now: now() });
    expect(text).toBe(
      'Token                            Type Labels Expiry Time (UTC)           \n' +
        '-------------------------------- ---- ------ --------------------------- \n' +
        '************************89abcdef Node        01 May 26 10:30 UTC (30m0s) \n',
    );
    expect(renderList(await list(a, {}), { now: now(), withSecrets: true })).toContain(`${VALUE} Node`);
    expect(renderList(await list(a, {}), { now: now(), format: 'text' })).toBe('************************89abcdef\n');
  });

  it('stores --labels on the token, lists them, and filters by them', async () => {
    const a = api();
    await add(a, { type: 'node', value: VALUE, labels: 'env=prod,region=us-west' }, now, 'a:3025');
    await add(a, { type: 'db', value: 'fedcba9876543210fedcba9876543210', labels: 'env=dev' }, now, 'a:3025');
    expect(a.tokens.get(VALUE)!.metadata.labels).toEqual({ env: 'prod', region: 'us-west' });
    const text = renderList(await list(a, {}), { now: now() });
    expect(text).toContain('************************89abcdef Node env=prod,region=us-west 01 May 26 10:30 UTC (30m0s) \n');
    expect(text).toContain('************************76543210 Db   env=dev ');
    expect((await list(a, { labels: 'env=prod' })).map((t) => t.metadata.name)).toEqual([VALUE]);
    await expect(add(a, { type: 'node', labels: 'bad key=x' }, now)).rejects.toThrow('invalid label key "bad key"');
  });

  it('masks short tokens entirely', () => {
    expect(maskToken('short')).toBe('*****');
  });

  it('deletes a token', async () => {
    const a = api();
    await add(a, { type: 'node', value: VALUE }, now, 'a:3025');
    expect(renderRemove(await remove(a, VALUE))).toBe(`Token ${VALUE} has been deleted\n`);
    expect(a.tokens.size).toBe(0);
    await expect(remove(a, undefined)).rejects.toThrow('Need an argument: token');
  });
});

describe('tctl tokens add --ttl', () => {
  it('refuses a lifetime past 8760h before connecting', async () => {
    const a = api();
    await expect(add(a, { type: 'node', ttl: '999999h' }, now)).rejects.toThrow(/^--ttl must not be longer than 8760h$/);
    expect(a.tokens.size).toBe(0);
  });
});

describe('tctl tokens add: the lifetime in words', () => {
  it('says whole minutes as Teleport does and anything else as a duration, never a fraction of minutes', async () => {
    for (const [ttl, words] of [
      ['1s', '1s'],
      ['90s', '1m30s'],
      ['1m', '1 minute'],
      ['2h', '120 minutes'],
    ] as const) {
      for (const type of ['node', 'db']) {
        const text = renderAdd(await add(api(), { type, ttl }, now, 'a:3025'));
        expect(text).toContain(`\nThis token will expire in ${words}.\n`);
        expect(text).toContain(`  - This invitation token will expire in ${words}`);
        expect(text).not.toMatch(/\d\.\d+ minutes/);
      }
    }
  });

  it('masks short tokens in tokens ls with none of their tail', async () => {
    const a = api();
    await add(a, { type: 'node', value: 'tok-0123456789' }, now, 'a:3025');
    expect(renderList(await list(a, {}), { now: now() })).toContain(`${'*'.repeat(14)} Node`);
  });
});
