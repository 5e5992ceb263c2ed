import { describe, expect, it } from 'vitest';
import type { ProfileStatus } from '../profile/status.js';
import { formatGoDuration, renderStatusText, renderStatuses } from './status.js';

const alice: ProfileStatus = {
  proxyUrl: 'https://proxy.example.com:3080',
  webProxyAddr: 'proxy.example.com:3080',
  username: 'alice',
  cluster: 'example.com',
  roles: ['access'],
  traits: { logins: ['alice'] },
  logins: ['alice'],
  databaseUsers: [],
  databaseNames: [],
  kubernetesEnabled: false,
  validUntil: new Date('2026-11-21T18:00:00Z'),
  extensions: ['permit-pty'],
  active: true,
  activeRequests: [],
};

describe('tsh status rendering', () => {
  it("prints Teleport's profile block", () => {
    expect(renderStatusText(alice, new Date('2026-11-21T06:00:00Z'))).toBe(
      [
        '> Profile URL:        https://proxy.example.com:3080',
        '  Logged in as:       alice',
        '  Cluster:            example.com',
        '  Roles:              access',
        '  Logins:             alice',
        '  Kubernetes:         disabled',
        '  Valid until:        2026-11-21 18:00:00 +0000 UTC [valid for 12h0m0s]',
        '  Extensions:         permit-pty',
        '',
        '',
      ].join('\n'),
    );
  });

  it('shows the active access requests, in text and JSON', () => {
    const status = { ...alice, roles: ['access', 'dba'], activeRequests: ['0f1e2d3c'] };
    const text = renderStatusText(status, new Date('2026-11-21T17:30:00Z'));
    expect(text).toContain('  Logged in as:       alice\n  Active requests:    0f1e2d3c\n');
    expect(text).toContain('[valid for 30m0s]');
    expect(JSON.parse(renderStatuses([status], 'json', new Date())).active.active_requests).toEqual(['0f1e2d3c']);
  });

  it('marks an expired certificate and shows database traits when present', () => {
    const text = renderStatusText({ ...alice, databaseUsers: ['alice', 'reader'], databaseNames: ['app'] }, new Date('2026-11-21T18:00:01Z'));
    expect(text).toContain('  Valid until:        2026-11-21 18:00:00 +0000 UTC [EXPIRED]\n');
    expect(text).toContain('  Database users:     alice, reader\n  Database names:     app\n');
  });

  it('rounds durations to the minute as Go does', () => {
    expect(formatGoDuration(12 * 3600_000)).toBe('12h0m0s');
    expect(formatGoDuration(59 * 60_000 + 31_000)).toBe('1h0m0s');
    expect(formatGoDuration(61_000)).toBe('1m0s');
    expect(formatGoDuration(20_000)).toBe('0s');
  });

  it('prints json and yaml in the shape of Teleport', () => {
    const now = new Date('2026-11-21T06:00:00Z');
    const json = JSON.parse(renderStatuses([alice, { ...alice, active: false, proxyUrl: 'https://other:3080' }], 'json', now));
    expect(json.active).toMatchObject({ profile_url: 'https://proxy.example.com:3080', username: 'alice', valid_until: '2026-11-21T18:00:00Z', kubernetes_enabled: false });
    expect(json.profiles).toHaveLength(1);
    const yaml = renderStatuses([alice], 'yaml', now);
    expect(yaml).toContain('active:\n  profile_url: https://proxy.example.com:3080\n  username: alice\n');
    expect(yaml).toContain('  roles:\n  - access\n');
    expect(yaml).toContain('profiles: []\n');
  });
});
