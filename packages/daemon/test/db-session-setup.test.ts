/**
 * What a new database session costs the proxy and the agent, kept from costing more than once: the verified user
 * certificate remembered across CA refetches (and still refused once expired or once its CA is gone).
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newCertAuthorityCache } from '../src/roles/db/cas.js';
import { startTestAuth, rejection, type TestAuth } from './auth-helpers.js';
import { databaseUserCert } from './db-helpers.js';

describe('the certificate authority cache of the proxy and the db agent', () => {
  let t: TestAuth;
  let cert: string;

  beforeAll(async () => {
    t = await startTestAuth({ authentication: { second_factor: 'off' } });
    await t.admin.createUser({ name: 'alice', roles: ['access'], dbUsers: ['alice'], invite: false });
    cert = (await databaseUserCert(t, 'alice', { serviceName: 'pg', protocol: 'postgres', username: 'alice' })).cert;
  });

  afterAll(async () => {
    await t?.close();
  });

  it('verifies a certificate once while the CAs it read again are unchanged, and refuses it once it expired', async () => {
    // maxAgeMs 0: every verification reads the CAs again, as an agent with a cache does every 250 ms.
    const cas = newCertAuthorityCache({ auth: t.admin, clusterName: 'test.example.com', clock: t.clock, maxAgeMs: 0 });
    const first = await cas.verify('user', cert, 'clientAuth');
    expect(first.identity.username).toBe('alice');
    expect(await cas.verify('user', cert, 'clientAuth')).toBe(first);
    t.clock.advance(2 * 3_600_000);
    expect(await rejection(cas.verify('user', cert, 'clientAuth'))).toMatchObject({ code: 'ERR_TP_TLS_CERT_EXPIRED' });
    t.clock.advance(-2 * 3_600_000);
  });

  it('verifies again when the trusted CAs change, and refuses a certificate whose CA is no longer trusted', async () => {
    let cas = (await t.admin.getCertAuthorities('user')).map((ca) => ca);
    const auth = { getCertAuthorities: async () => cas };
    const cache = newCertAuthorityCache({ auth, clusterName: 'test.example.com', clock: t.clock, maxAgeMs: 0 });
    const first = await cache.verify('user', cert, 'clientAuth');
    // The same CA in a new list (a refetch): still the remembered verification.
    cas = [...cas];
    expect(await cache.verify('user', cert, 'clientAuth')).toBe(first);
    // Another cluster's CA only (the user CA rotated away): refused, not served from memory.
    cas = (await t.admin.getCertAuthorities('host')).map((ca) => ca);
    expect(await rejection(cache.verify('user', cert, 'clientAuth'))).toMatchObject({ code: 'ERR_TP_TLS_UNTRUSTED_CA' });
  });
});
