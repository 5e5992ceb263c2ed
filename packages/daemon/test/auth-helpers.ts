/**
 * Helpers for the auth server integration tests: an auth server on a real socket (port 0) over a real
 * backend, and typed clients with the admin identity or with a user's certificates.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadIdentity, newAuthClient, type AuthClient, type Identity } from '@teleport-ts/core/api';
import { openAuditStore, type AuditEventStore } from '@teleport-ts/core/audit';
import { openBackend, type Backend, type StorageConfig } from '@teleport-ts/core/backend';
import { BALANCED_V1, generateKeyPair } from '@teleport-ts/core/ca';
import { newFakeClock, type FakeClock } from '@teleport-ts/core/clock';
import { startAuthServer, type AuthServer, type AuthServerOptions } from '../src/roles/auth/index.js';

export interface TestAuth {
  auth: AuthServer;
  backend: Backend;
  audit: AuditEventStore;
  clock: FakeClock;
  dataDir: string;
  admin: AuthClient;
  adminIdentity: Identity;
  /** A client with no certificate (trusting the cluster's host CA). */
  anonymous(): AuthClient;
  /** Creates `name` with `roles` (if missing) and returns a client holding their certificates. */
  userClient(name: string, roles: string[], options?: { logins?: string[] }): Promise<AuthClient>;
  close(): Promise<void>;
}

export interface StartTestAuthOptions extends Partial<Omit<AuthServerOptions, 'backend' | 'audit' | 'dataDir' | 'clock'>> {
  storage?: StorageConfig;
  auditUris?: string[];
  clock?: FakeClock;
  dataDir?: string;
}

/** Starts an auth server on 127.0.0.1:0 with a fake clock (starting now) and sqlite storage by default. */
export async function startTestAuth(options: StartTestAuthOptions = {}): Promise<TestAuth> {
  const dataDir = options.dataDir ?? (await mkdtemp(path.join(tmpdir(), 'tp-auth-')));
  const clock = options.clock ?? newFakeClock(new Date());
  const { storage, auditUris, clock: _c, dataDir: _d, ...rest } = options;
  const backend = await openBackend({ storage: storage ?? { type: 'sqlite' }, dataDir, clock });
  const audit = await openAuditStore({ uris: auditUris, dataDir, clock });
  const auth = await startAuthServer({
    nodename: 'auth-test',
    clusterName: 'test.example.com',
    listenAddr: '127.0.0.1:0',
    rateLimit: { average: 1000, burst: 1000 },
    rotationCheckIntervalMs: 0,
    ...rest,
    backend,
    audit,
    dataDir,
    clock,
  });
  const adminIdentity = await loadIdentity(auth.adminIdentityDir);
  const admin = newAuthClient({ addr: auth.dialAddr, identity: adminIdentity });
  const clients: AuthClient[] = [admin];
  const track = (c: AuthClient): AuthClient => {
    clients.push(c);
    return c;
  };
  return {
    auth,
    backend,
    audit,
    clock,
    dataDir,
    admin,
    adminIdentity,
    anonymous: () => track(newAuthClient({ addr: auth.dialAddr, tls: { ca: adminIdentity.caCerts } })),
    async userClient(name, roles, opts = {}) {
      try {
        await admin.getUser(name);
      } catch {
        await admin.createUser({ name, roles, logins: opts.logins ?? [name] });
      }
      const [tls, ssh] = await Promise.all([generateKeyPair(BALANCED_V1['tls-user']), generateKeyPair(BALANCED_V1['ssh-user'])]);
      const certs = await admin.generateUserCerts({ user: name, tlsPublicKey: tls.publicKeyPem, sshPublicKey: ssh.sshPublicKey, ttl: 3_600_000 });
      return track(newAuthClient({ addr: auth.dialAddr, tls: { cert: certs.tlsCert, key: tls.privateKeyPem, ca: certs.tlsCaCerts } }));
    },
    async close() {
      await Promise.allSettled(clients.map((c) => c.close()));
      await auth.close();
      await audit.close();
      await backend.close();
      if (options.dataDir === undefined) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** The rejection of `p`, for asserting on error kinds. */
export async function rejection(p: Promise<unknown>): Promise<{ kind?: string; code?: string; message: string }> {
  try {
    await p;
  } catch (err) {
    return err as { kind?: string; code?: string; message: string };
  }
  throw new Error('expected the promise to reject');
}
