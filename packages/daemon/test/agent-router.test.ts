/**
 * A proxy that just (re)started, under agent mesh, gives an agent a moment to dial it again before it says the agent
 * is not connected here; a proxy running for a while answers at once.
 */

import { newTunnelServer } from '@teleport-ts/core/tunnel';
import { describe, expect, it } from 'vitest';
import { newAgentRouter, newTunnelSettler } from '../src/roles/proxy/agents.js';
import { rejection } from './auth-helpers.js';

const meta = { service: 'orders', protocol: 'postgres' } as const;

describe('agent router under agent mesh', () => {
  it('just started: waits about 3 s for the agent\'s tunnel; running for a while: refuses at once', async () => {
    const tunnels = newTunnelServer();
    try {
      const fresh = newAgentRouter(tunnels, undefined);
      let t0 = performance.now();
      expect(await rejection(fresh.openStream('agent-1', [], meta as never))).toMatchObject({ kind: 'connection-problem', code: 'ERR_TP_TUNNEL_AGENT_OFFLINE' });
      expect(performance.now() - t0).toBeGreaterThanOrEqual(2_900);

      const old = newAgentRouter(tunnels, undefined, performance.now() - 60_000);
      t0 = performance.now();
      expect(await rejection(old.openStream('agent-1', [], meta as never))).toMatchObject({ kind: 'connection-problem', code: 'ERR_TP_TUNNEL_AGENT_OFFLINE' });
      expect(performance.now() - t0).toBeLessThan(500);
    } finally {
      await tunnels.close();
    }
  }, 20_000);

  it('the settler (also the SSH route\'s) returns as soon as the agent\'s tunnel is here, at once for a proxy running a while', async () => {
    const appearsAt = performance.now() + 300;
    const tunnels = { hasAgent: (id: string) => id === 'node-1' && performance.now() >= appearsAt };
    let t0 = performance.now();
    await newTunnelSettler(tunnels)(['node-1']);
    const waited = performance.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(250);
    expect(waited).toBeLessThan(2_000);
    t0 = performance.now();
    await newTunnelSettler(tunnels, performance.now() - 60_000)(['node-2']);
    expect(performance.now() - t0).toBeLessThan(100);
  });
});
