import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { usePostgres } from '@teleport-ts/testkit';
import { BALANCED_V1, generateKeyPair, parseIdentity } from '@teleport-ts/core/ca';
import { newAuthClient } from '@teleport-ts/core/api';
import { openAuditStore } from '@teleport-ts/core/audit';
import { newFakeClock } from '@teleport-ts/core/clock';
import { rejection, startTestAuth } from './auth-helpers.js';
import { eventually, expectLockedOnce, login, runAuthSuite, userWithPassword } from './auth-suite.js';

const server = usePostgres();
let databases = 0;
/** A database that does not exist yet (the backend creates it): a new cluster. */
const newDatabase = (prefix: string): string => server.server.url(`${prefix}_${process.pid}_${++databases}`, { sslmode: 'disable' });

runAuthSuite('postgres', async () => ({ type: 'postgres', conn_string: newDatabase('auth') }));

describe('two auth servers on one PostgreSQL backend', () => {
  it('both answer, see each other\'s writes, and follow each other\'s CA rotation', async () => {
    const storage = { type: 'postgres' as const, conn_string: newDatabase('ha') };
    const clock = newFakeClock(new Date());
    const a = await startTestAuth({ storage, clock, nodename: 'auth-a' });
    const b = await startTestAuth({ storage, clock, nodename: 'auth-b' });
    try {
      expect(a.auth.hostUuid).not.toBe(b.auth.hostUuid);
      expect(a.auth.clusterName).toBe(b.auth.clusterName);
      expect(await a.auth.caPins()).toEqual(await b.auth.caPins());
      expect((await b.anonymous().ping()).clusterName).toBe('test.example.com');

      const { token } = await a.admin.createUser({ name: 'alice', roles: ['access'], logins: ['alice'] });
      expect((await b.admin.getUser('alice')).spec.traits).toEqual({ logins: ['alice'] });
      expect((await b.anonymous().getUserToken(token.id)).user).toBe('alice');
      await b.admin.deleteUser('alice');
      expect((await rejection(a.admin.getUser('alice'))).kind).toBe('not-found');

      // Certificates issued by one are accepted by the other.
      const keys = await generateKeyPair(BALANCED_V1['tls-user']);
      const ssh = await generateKeyPair(BALANCED_V1['ssh-user']);
      await a.admin.createUser({ name: 'bob', roles: ['editor'] });
      const certs = await a.admin.generateUserCerts({ user: 'bob', tlsPublicKey: keys.publicKeyPem, sshPublicKey: ssh.sshPublicKey });
      const bobOnB = newAuthClient({ addr: b.auth.dialAddr, tls: { cert: certs.tlsCert, key: keys.privateKeyPem, ca: certs.tlsCaCerts } });
      try {
        expect((await bobOnB.getRoles()).length).toBeGreaterThan(3);

        // A user CA rotation on A: B learns the new key through the backend watch.
        await a.admin.rotateCertAuthority({ type: 'user', phase: 'init' });
        await a.admin.rotateCertAuthority({ type: 'user', phase: 'update_clients' });
        const fresh = await a.admin.generateUserCerts({ user: 'bob', tlsPublicKey: keys.publicKeyPem, sshPublicKey: ssh.sshPublicKey });
        expect(fresh.tlsCert).not.toBe(certs.tlsCert);
        expect(parseIdentity(fresh.tlsCert).username).toBe('bob');
        const freshOnB = newAuthClient({ addr: b.auth.dialAddr, tls: { cert: fresh.tlsCert, key: keys.privateKeyPem, ca: fresh.tlsCaCerts } });
        try {
          await eventually(async () => (await freshOnB.getRoles()).length > 0);
        } finally {
          await freshOnB.close();
        }
      } finally {
        await bobOnB.close();
      }
    } finally {
      await b.close();
      await a.close();
    }
  });
});

describe('failed-login lockout across two auth servers on one PostgreSQL backend', () => {
  it('20 parallel wrong passwords split over both servers verify at most 5 and write one lock', async () => {
    const storage = { type: 'postgres' as const, conn_string: newDatabase('lockout') };
    const clock = newFakeClock(new Date());
    // One audit log for both, as a shared audit_events_uri is.
    const auditUris = [newDatabase('lockout_audit')];
    const a = await startTestAuth({ storage, clock, nodename: 'auth-a', auditUris, authentication: { second_factor: 'off' } });
    const b = await startTestAuth({ storage, clock, nodename: 'auth-b', auditUris, authentication: { second_factor: 'off' } });
    try {
      await userWithPassword(a, 'ivan', ['access']);
      const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => login(i % 2 === 0 ? a : b, 'ivan', 'wrong password!!')));
      expect(results.every((r) => r.status === 'rejected')).toBe(true);
      await expectLockedOnce(a, 'ivan', [b]);
    } finally {
      await b.close();
      await a.close();
    }
  });
});

describe('audit events in PostgreSQL', () => {
  it('stores the auth server\'s events in the audit_events_uri database', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'tp-auth-audit-'));
    const auditUri = newDatabase('audit');
    const t = await startTestAuth({ dataDir, auditUris: [auditUri] });
    try {
      await t.admin.createUser({ name: 'carol', roles: ['access'] });
      await t.admin.createToken({ roles: ['Node'] });
      // Read the PostgreSQL store directly, not through the server.
      const store = await openAuditStore({ uris: [auditUri], dataDir: '/nonexistent', createDatabase: false });
      try {
        const { events } = await store.search({ from: new Date(0), to: new Date(Date.now() + 3_600_000), limit: 100, order: 'asc' });
        expect(events.map((e) => [e.event, e.code, e['name'] ?? null])).toEqual(
          expect.arrayContaining([
            ['user.create', 'T1002I', 'carol'],
            ['reset_password_token.create', 'T6000I', 'carol'],
            ['join_token.create', 'TJT00I', null],
          ]),
        );
      } finally {
        await store.close();
      }
      // The search API reads the same store.
      const { events } = await t.admin.searchEvents({ from: new Date(0), to: new Date(Date.now() + 3_600_000), eventTypes: ['user.create'] });
      expect(events.map((e) => e['name'])).toEqual(['carol']);
    } finally {
      await t.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
