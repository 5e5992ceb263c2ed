import { describe, expect, it } from 'vitest';
import type { RotateCertAuthorityRequest } from '@teleport-ts/core/api';
import { handler, render, renderStatus, rotateStatus } from './auth-rotate.js';

function api() {
  const requests: RotateCertAuthorityRequest[] = [];
  return { requests, rotateCertAuthority: async (r: RotateCertAuthorityRequest = {}) => (requests.push(r), []) };
}

describe('tctl auth rotate', () => {
  it('starts an automatic rotation with the default 30h grace period', async () => {
    const a = api();
    expect(render(await handler(a, { type: 'host' }))).toBe("Initiated certificate authority rotation. To check status use 'tctl status'\n");
    expect(a.requests).toEqual([{ type: 'host', mode: 'auto', gracePeriod: 30 * 3_600_000 }]);
  });

  it('moves a manual rotation to a phase', async () => {
    const a = api();
    expect(render(await handler(a, { type: 'db', manual: true, phase: 'update_clients', gracePeriod: '1h' }))).toBe(
      "Updated rotation phase to \"update_clients\". To check status use 'tctl status'\n",
    );
    expect(a.requests).toEqual([{ type: 'db', mode: 'manual', phase: 'update_clients', gracePeriod: 3_600_000 }]);
  });

  it('refuses missing or unknown flags in one line', async () => {
    await expect(handler(api(), {})).rejects.toThrow('required flag --type not provided');
    await expect(handler(api(), { type: 'jwt' })).rejects.toThrow('unsupported --type "jwt", use one of: host, user, db, db_client, openssh');
    await expect(handler(api(), { type: 'host', manual: true })).rejects.toThrow('--phase is required with --manual');
    await expect(handler(api(), { type: 'host', phase: 'done' })).rejects.toThrow('unsupported --phase "done"');
  });
});

describe('tctl auth rotate status', () => {
  const rotation = (phase: string, id?: string) => ({ state: phase === 'standby' ? 'standby' : 'in_progress', phase, mode: 'auto', ...(id ? { current_id: id } : {}) });
  const ca = (type: string, r: ReturnType<typeof rotation>) => ({ kind: 'cert_authority', sub_kind: type, version: 'v2', metadata: { name: 'example.com' }, spec: { type, cluster_name: 'example.com', rotation: r, active_keys: { ssh: [], tls: [] }, additional_trusted_keys: { ssh: [], tls: [] } } });
  const instance = (hostId: string, role: string, host: { phase: string; current_id?: string }, user: { phase: string; current_id?: string }) => ({
    kind: 'instance' as const,
    version: 'v1' as const,
    metadata: { name: `${hostId}/${role}` },
    spec: { host_id: hostId, hostname: `h-${hostId}`, role, last_seen: '2026-12-03T23:00:00.000Z', host, user },
  });
  const fakeApi = (hostRotation: ReturnType<typeof rotation>, instances: ReturnType<typeof instance>[]) => ({
    ping: async () => ({ clusterName: 'example.com' }) as never,
    getCertAuthorities: async (type: string) => [ca(type, type === 'host' ? hostRotation : rotation('standby'))] as never,
    getInstances: async () => instances,
  });

  it('lists the processes behind the host CA rotation, and none once all caught up', async () => {
    const during = await rotateStatus(
      fakeApi(rotation('update_servers', 'r1'), [
        instance('a1', 'Db', { phase: 'update_servers', current_id: 'r1' }, { phase: 'standby' }),
        instance('n1', 'Node', { phase: 'update_clients', current_id: 'r1' }, { phase: 'standby' }),
        instance('p1', 'Proxy', { phase: 'standby' }, { phase: 'standby' }),
      ]),
    );
    expect(during.lagging.map((l) => `${l.hostId} ${l.role} ${l.host}`)).toEqual(['n1 Node update_clients', 'p1 Proxy standby']);
    const text = renderStatus(during);
    expect(text).toContain('Agents and proxies not yet on the current certificate authorities (2 of 3):');
    expect(text).toMatch(/host\s+in_progress\s+update_servers\s+auto/);
    expect(text).toMatch(/n1\s+h-n1\s+Node\s+update_clients\s+standby/);
    const after = await rotateStatus(fakeApi(rotation('standby', 'r1'), [instance('a1', 'Db', { phase: 'standby', current_id: 'r1' }, { phase: 'standby' })]));
    expect(after.lagging).toEqual([]);
    expect(renderStatus(after)).toContain('All 1 agents and proxies are on the current certificate authorities.');
  });
});
