import { describe, expect, it } from 'vitest';
import type { AuthClient } from '@teleport-ts/core/api';
import { renewingAuthClient } from '../src/roles/renewal.js';
import { withCachedReads, type CachedReads } from '../src/roles/remote-cache.js';

/** A stand-in auth client with two methods, tagged with its generation (only what the test calls exists). */
function fakeClient(generation: number, closed: number[]): AuthClient {
  return {
    ping: async () => ({ generation }),
    getRole: async () => {
      throw new Error('the cache answers roles');
    },
    close: async () => {
      closed.push(generation);
    },
  } as unknown as AuthClient;
}

describe('renewing auth client under cached reads', () => {
  it('sends uncached calls to the current client after a renewal, cached reads to the cache, and closes every generation', async () => {
    const closed: number[] = [];
    let generation = 0;
    const renewing = renewingAuthClient(() => fakeClient(++generation, closed));
    const reads = { getRole: async (name: string) => ({ metadata: { name } }) } as unknown as CachedReads;
    const client = withCachedReads(renewing.client, reads);

    expect(await (client.ping as unknown as () => Promise<unknown>)()).toEqual({ generation: 1 });
    renewing.renew();
    expect(await (client.ping as unknown as () => Promise<unknown>)()).toEqual({ generation: 2 });
    expect((await client.getRole('dba')).metadata.name).toBe('dba');
    await client.close();
    expect(closed.sort()).toEqual([1, 2]);
  });
});
