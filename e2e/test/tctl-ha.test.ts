/**
 * Two auth processes on one PostgreSQL backend (the HA set-up): both answer tctl, and each sees what the other
 * wrote, through the built daemon and the built tctl.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { usePostgres } from '@teleport-ts/testkit';
import { startCluster, type Cluster } from './tctl-harness.js';

describe('two auth servers sharing one PostgreSQL backend', () => {
  const pg = usePostgres();
  let first: Cluster;
  let second: Cluster;
  beforeAll(async () => {
    await pg.server.createDatabase('teleport_ha');
    await pg.server.createDatabase('teleport_ha_audit');
    const storage = [
      'type: postgres',
      `conn_string: ${pg.server.url('teleport_ha', { sslmode: 'disable' })}`,
      `audit_events_uri: ['${pg.server.url('teleport_ha_audit', { sslmode: 'disable' })}']`,
    ];
    // The first creates the cluster (CAs, presets); the second finds them in the backend.
    first = await startCluster({ storage, clusterName: 'ha.example.com' });
    second = await startCluster({ storage, clusterName: 'ha.example.com' });
  });
  afterAll(async () => {
    await second?.stop();
    await first?.stop();
  });

  it('both report the same cluster and CA pin', async () => {
    const a = await first.tctl(['status', '--format=json']);
    const b = await second.tctl(['status', '--format=json']);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    const pinsOf = (out: string): string[] => (JSON.parse(out) as { cluster: { ca_pins: string[] } }).cluster.ca_pins;
    expect(pinsOf(a.stdout)).toEqual(pinsOf(b.stdout));
    expect(pinsOf(a.stdout)[0]).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('a user added through one is listed, updated and removed through the other', async () => {
    const add = await first.tctl(['users', 'add', 'carol', '--roles=access']);
    expect(add.code, add.stderr).toBe(0);
    const ls = await second.tctl(['users', 'ls']);
    expect(ls.stdout).toMatch(/\ncarol +access *\n/);
    const update = await second.tctl(['users', 'update', 'carol', '--set-roles=access,auditor']);
    expect(update.code, update.stderr).toBe(0);
    expect((await first.tctl(['users', 'ls'])).stdout).toMatch(/\ncarol +access,auditor *\n/);
    expect((await first.tctl(['rm', 'user/carol'])).code).toBe(0);
    expect((await second.tctl(['users', 'ls'])).stdout).not.toContain('carol');
  });

  it('a token created on one is listed by the other, and both read one audit log', async () => {
    const add = await second.tctl(['tokens', 'add', '--type=db', '--format=json']);
    expect(add.code, add.stderr).toBe(0);
    const token = (JSON.parse(add.stdout) as { token: string }).token;
    const ls = await first.tctl(['tokens', 'ls']);
    expect(ls.code, ls.stderr).toBe(0);
    // Listed masked: never the whole secret.
    expect(ls.stdout).not.toContain(token);
    expect(ls.stdout).toMatch(/\*{3,}.*Db/);
    const events = await first.tctl(['audit', 'events', '--type=user.create', '--format=json']);
    expect(events.code, events.stderr).toBe(0);
    expect(events.stdout).toContain('carol');
  });
});
