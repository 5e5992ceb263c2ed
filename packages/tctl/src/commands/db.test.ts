import { describe, expect, it } from 'vitest';
import type { DatabaseServer } from '@teleport-ts/core/api';
import { list, render } from './db.js';

const server = (name: string, hostname: string, labels: Record<string, string>): DatabaseServer => ({
  kind: 'db_server',
  version: 'v3',
  metadata: { name, expires: '2026-05-01T10:01:00.000Z' },
  spec: {
    host_id: `${hostname}-uuid`,
    hostname,
    version: '0.1.0',
    database: { kind: 'db', version: 'v3', metadata: { name, labels }, spec: { protocol: 'postgres', uri: 'localhost:5432' } },
  },
});

describe('tctl db ls', () => {
  it("prints Teleport's table, sorted by name, internal labels hidden", async () => {
    const servers = await list({
      getDatabaseServers: async () => [server('orders', 'db-2', { env: 'prod', 'teleport.internal/x': 'y', app: 'shop' }), server('analytics', 'db-1', {})],
    });
    expect(render(servers)).toBe(
      [
        'Host Name      Protocol URI            Labels            Version ',
        '---- --------- -------- -------------- ----------------- ------- ',
        'db-1 analytics postgres localhost:5432                   0.1.0   ',
        'db-2 orders    postgres localhost:5432 app=shop,env=prod 0.1.0   ',
        '',
      ].join('\n'),
    );
  });

  it('prints db_server resources as JSON or YAML', async () => {
    const servers = [server('orders', 'db-2', { env: 'prod' })];
    expect(JSON.parse(render(servers, 'json'))).toEqual(servers);
    expect(render(servers, 'yaml')).toContain('kind: db_server');
    expect(render([], 'yaml')).toBe('');
  });
});
