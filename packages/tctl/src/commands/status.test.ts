import { describe, expect, it } from 'vitest';
import { caPin, newCertAuthority, type CertAuthority, type CertAuthorityType } from '@teleport-ts/core/ca';
import { newFakeClock } from '@teleport-ts/core/clock';
import { handler, render, rotationDescription, type StatusApi } from './status.js';

const clock = newFakeClock(new Date('2026-01-02T03:04:05Z'));

async function fakeApi(): Promise<{ api: StatusApi; cas: Map<CertAuthorityType, CertAuthority> }> {
  const cas = new Map<CertAuthorityType, CertAuthority>();
  for (const type of ['host', 'user', 'db', 'db_client', 'openssh'] as const) {
    cas.set(type, await newCertAuthority({ clusterName: 'example.com', type, clock }));
  }
  return {
    cas,
    api: {
      ping: async () => ({ clusterName: 'example.com', serverVersion: '0.1.0', authPreference: { type: 'local', secondFactor: 'otp' } }),
      getCertAuthorities: async (type) => [cas.get(type)!],
    },
  };
}

describe('tctl status', () => {
  it("renders Teleport's summary block and key table", async () => {
    const { api, cas } = await fakeApi();
    const model = await handler(api);
    const pin = caPin(cas.get('host')!.spec.active_keys.tls[0]!.cert);
    const text = render(model, { format: 'text' });
    const lines = text.split('\n');
    expect(lines[0]!.trimEnd()).toBe('Cluster: example.com');
    expect(lines[0]).toMatch(/^Cluster: example\.com {61}$/);
    expect(lines[1]!.trimEnd()).toBe('Version: 0.1.0');
    expect(lines[2]!.trimEnd()).toBe(`CA pins: ${pin}`);
    expect(lines[3]).toBe('');
    expect(lines.slice(4).map((l) => l.trimEnd())).toEqual([
      'authority rotation                protocol status algorithm   storage',
      '--------- ----------------------- -------- ------ ----------- --------',
      'host      standby (never rotated) SSH      active Ed25519     software',
      '                                  TLS      active ECDSA P-256 software',
      'user      standby (never rotated) SSH      active Ed25519     software',
      '                                  TLS      active ECDSA P-256 software',
      'db        standby (never rotated) TLS      active RSA 2048    software',
      'db_client standby (never rotated) TLS      active RSA 2048    software',
      'openssh   standby (never rotated) SSH      active Ed25519     software',
      '',
    ]);
  });

  it('renders JSON and YAML with the CA pins and each key', async () => {
    const { api } = await fakeApi();
    const model = await handler(api);
    const json = JSON.parse(render(model, { format: 'json' })) as {
      cluster: { name: string; ca_pins: string[] };
      authorities: { type: string; keys: { protocol: string; algorithm: string }[] }[];
    };
    expect(json.cluster.name).toBe('example.com');
    expect(json.cluster.ca_pins[0]).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(json.authorities.map((a) => a.type)).toEqual(['host', 'user', 'db', 'db_client', 'openssh']);
    expect(json.authorities[0]!.keys).toEqual([
      { protocol: 'SSH', status: 'active', algorithm: 'Ed25519', storage: 'software' },
      { protocol: 'TLS', status: 'active', algorithm: 'ECDSA P-256', storage: 'software' },
    ]);
    expect(render(model, { format: 'yaml' })).toMatch(/^authorities:\n- cluster_name: example.com\n/);
  });

  it("describes rotations as Teleport's Rotation.String()", () => {
    expect(rotationDescription({ state: 'standby', phase: 'standby', last_rotated: '2026-03-01T09:05:07Z' })).toBe(
      'standby (last rotated: Mar  1 09:05:07 UTC)',
    );
    expect(rotationDescription({ state: 'in_progress', phase: 'init', mode: 'manual' })).toBe('in progress (mode: manual, phase: init)');
    expect(
      rotationDescription({ state: 'in_progress', phase: 'update_clients', mode: 'auto', started: '2026-03-01T00:00:00Z', grace_period: 30 * 3_600_000 }),
    ).toBe('in progress (mode: automatic, phase: update_clients, started: Mar  1 00:00:00 UTC, ending: Mar  2 06:00:00 UTC)');
  });

  it('lists old and new keys during a rotation', async () => {
    const { api, cas } = await fakeApi();
    const user = cas.get('user')!;
    const next = await newCertAuthority({ clusterName: 'example.com', type: 'user', clock });
    cas.set('user', {
      ...user,
      spec: {
        ...user.spec,
        additional_trusted_keys: next.spec.active_keys,
        rotation: { state: 'in_progress', phase: 'init', mode: 'manual', current_id: 'x', started: '2026-01-02T03:04:05Z' },
      },
    });
    const text = render(await handler(api), { format: 'text' });
    expect(text).toContain('user      in progress (mode: manual, phase: init) SSH      active  Ed25519');
    expect(text).toMatch(/\n {50}SSH {6}trusted Ed25519 {5}software \n/);
  });
});
