import { describe, expect, it } from 'vitest';
import type { RotateCertAuthorityRequest } from '@teleport-ts/core/api';
import { handler, render } from './auth-rotate.js';

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
