/**
 * The auth server's integration suite, run against each storage backend: a real HTTPS server on port 0,
 * driven with the typed client (`newAuthClient`), with an injected clock wherever time matters.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchServerCaChain, joinCluster, loadIdentity, newAuthClient } from '@teleport-ts/core/api';
import { generateTotp } from '@teleport-ts/core/authn';
import {
  BALANCED_V1,
  caPin,
  generateKeyPair,
  issueUserCert,
  newCertAuthority,
  parseIdentity,
  parseSshCertificate,
  tlsSigningKeyPair,
  verifySshCert,
  verifyTlsCert,
} from '@teleport-ts/core/ca';
import type { StorageConfig } from '@teleport-ts/core/backend';
import { keyPaths } from '@teleport-ts/core/profile';
import { parseAuthPreference, parseLock, parseNode, parseRole } from '@teleport-ts/core/types';
import { rejection, startTestAuth, type StartTestAuthOptions, type TestAuth } from './auth-helpers.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const PASSWORD = 'correct horse battery staple';

/** Fresh storage for one auth server (a new cluster). */
export type StorageFactory = () => Promise<StorageConfig>;

async function userKeys(): Promise<{ tlsPublicKey: string; sshPublicKey: string; tlsKey: string }> {
  const [tls, ssh] = await Promise.all([generateKeyPair(BALANCED_V1['tls-user']), generateKeyPair(BALANCED_V1['ssh-user'])]);
  return { tlsPublicKey: tls.publicKeyPem, sshPublicKey: ssh.sshPublicKey, tlsKey: tls.privateKeyPem };
}

/** Creates a user with a password (and OTP device when the cluster asks for one) through the invite. */
export async function userWithPassword(t: TestAuth, name: string, roles: string[]): Promise<{ totpSecret?: string }> {
  const { token } = await t.admin.createUser({ name, roles, logins: [name] });
  const anon = t.anonymous();
  const details = await anon.getUserToken(token.id);
  const otpCode = details.totp ? generateTotp(details.totp.secret, t.clock.now()) : undefined;
  await anon.completeUserToken({ tokenId: token.id, password: PASSWORD, ...(otpCode ? { otpCode } : {}) });
  return details.totp ? { totpSecret: details.totp.secret } : {};
}

export async function login(t: TestAuth, user: string, password: string, otp?: string, ttl?: number) {
  return t.admin.authenticateUser({ user, password, ...(otp ? { otp } : {}), ...(ttl !== undefined ? { ttl } : {}), ...(await userKeys()) });
}

async function allEvents(t: TestAuth): Promise<Record<string, unknown>[]> {
  const { events } = await t.admin.searchEvents({ from: new Date(0), to: new Date(t.clock.now().getTime() + HOUR), limit: 1000, order: 'asc' });
  return events;
}

/**
 * After a burst of wrong passwords for `user`: at most 5 passwords were verified (each verified failure is audited as
 * "invalid password", every other refusal names the lock), exactly one `lock.created` names the user, and the right
 * password is refused until the lock ends.
 */
export async function expectLockedOnce(t: TestAuth, user: string, others: TestAuth[] = []): Promise<void> {
  const events = await allEvents(t);
  const failures = events.filter((e) => e['event'] === 'user.login' && e['user'] === user).map((e) => e['error']);
  expect(failures).toHaveLength(20);
  const verified = failures.filter((f) => f === 'invalid password').length;
  expect(verified).toBeGreaterThan(0);
  expect(verified).toBeLessThanOrEqual(5);
  expect(failures.filter((f) => f !== 'invalid password').every((f) => f === 'user is locked' || f === 'too many login attempts in progress')).toBe(true);
  expect(events.filter((e) => e['event'] === 'lock.created').map((e) => [e['target'], e['user']])).toEqual([[{ user }, 'system']]);
  for (const server of [t, ...others]) {
    expect(await rejection(login(server, user, PASSWORD))).toMatchObject({ code: 'ERR_TP_USER_LOCKED' });
  }
  t.clock.advance(30 * MINUTE + 1_000);
  expect((await login(t, user, PASSWORD)).username).toBe(user);
}

export function runAuthSuite(name: string, newStorage: StorageFactory): void {
  const start = async (options: StartTestAuthOptions = {}): Promise<TestAuth> => startTestAuth({ storage: await newStorage(), ...options });

  describe(`auth server on ${name}`, () => {
    let t: TestAuth;
    beforeAll(async () => {
      t = await start({ staticTokens: [{ roles: ['Node'], token: 'static-node-token-0123456789' }] });
    });
    afterAll(async () => {
      await t?.close();
    });

    describe('mutual TLS', () => {
      it('answers ping without a certificate, but refuses every other call', async () => {
        const anon = t.anonymous();
        expect((await anon.ping()).clusterName).toBe('test.example.com');
        const err = await rejection(anon.getUsers());
        expect(err).toMatchObject({ kind: 'access-denied', code: 'ERR_TP_CLIENT_CERT_REQUIRED' });
        expect((await rejection(anon.getClusterName())).kind).toBe('access-denied');
      });

      it('refuses a certificate from another CA, even one with the same cluster name', async () => {
        const foreign = await newCertAuthority({ clusterName: 'test.example.com', type: 'user', clock: t.clock });
        const keys = await userKeys();
        const cert = await issueUserCert({
          ca: tlsSigningKeyPair(foreign),
          publicKey: keys.tlsPublicKey,
          clock: t.clock,
          identity: { username: 'mallory', roles: ['editor'], logins: [], traits: {}, expires: new Date(t.clock.now().getTime() + HOUR) },
        });
        const client = newAuthClient({ addr: t.auth.dialAddr, tls: { cert, key: keys.tlsKey, ca: t.adminIdentity.caCerts } });
        try {
          const err = await rejection(client.createRole(parseRole({ metadata: { name: 'pwned' } })));
          expect(err.kind).toBe('access-denied');
          expect(err.message).toContain('not signed by a certificate authority of this cluster');
        } finally {
          await client.close();
        }
      });

      it('sends the host CA in its chain, with the pin tctl status shows', async () => {
        const chain = await fetchServerCaChain(t.auth.dialAddr);
        const status = await t.admin.getClusterStatus();
        expect(chain.map(caPin)).toEqual(status.caPins);
        expect(status.caPins).toEqual(await t.auth.caPins());
        expect(status.certAuthorities.map((c) => [c.type, c.algorithms])).toEqual([
          ['host', { tls: 'ecdsa-p256', ssh: 'ed25519' }],
          ['user', { tls: 'ecdsa-p256', ssh: 'ed25519' }],
          ['db', { tls: 'rsa-2048' }],
          ['db_client', { tls: 'rsa-2048' }],
          ['openssh', { ssh: 'ed25519' }],
        ]);
      });

      it('verifies the server as teleport.cluster.local whatever address is dialled', async () => {
        const socket = connect({ host: '127.0.0.1', port: Number(t.auth.dialAddr.split(':')[1]), servername: 'teleport.cluster.local', ca: t.adminIdentity.caCerts });
        await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
        expect(socket.authorized).toBe(true);
        socket.destroy();
      });
    });

    describe('RBAC', () => {
      it('an access user cannot create roles; an editor can', async () => {
        const access = await t.userClient('ann', ['access']);
        const editor = await t.userClient('ed', ['editor']);
        const role = parseRole({ metadata: { name: 'dev' }, spec: { allow: { logins: ['dev'] } } });
        const denied = await rejection(access.createRole(role));
        expect(denied.kind).toBe('access-denied');
        expect(denied.message).toBe('access denied to perform action "create" on "role"');
        expect((await rejection(access.getRoles())).kind).toBe('access-denied');
        const created = await editor.createRole(role);
        expect(created.metadata.name).toBe('dev');
        expect((await rejection(editor.createRole(role))).kind).toBe('already-exists');
        const updated = await editor.upsertRole(parseRole({ metadata: { name: 'dev' }, spec: { allow: { logins: ['dev', 'ops'] } } }));
        expect(updated.spec.allow.logins).toEqual(['dev', 'ops']);
        expect((await editor.getRole('dev')).spec.allow.logins).toEqual(['dev', 'ops']);
        await editor.deleteRole('dev');
        expect((await rejection(editor.getRole('dev'))).kind).toBe('not-found');
      });

      it('a user reads the roles they hold, and no other role', async () => {
        const access = await t.userClient('ann', ['access']);
        expect((await access.getRole('access')).metadata.name).toBe('access');
        const denied = await rejection(access.getRole('editor'));
        expect(denied.kind).toBe('access-denied');
        expect(denied.message).toBe('access denied to perform action "read" on "role"');
      });

      it('every authenticated caller reads the cluster name and CAs without keys; keys need read', async () => {
        const access = await t.userClient('ann', ['access']);
        expect(await access.getClusterName()).toBe('test.example.com');
        const [ca] = await access.getCertAuthorities('host');
        expect(ca!.spec.active_keys.tls[0]!.key).toBeUndefined();
        expect(ca!.spec.active_keys.ssh[0]!.private_key).toBeUndefined();
        expect((await rejection(access.getCertAuthorities('host', { withSecrets: true }))).kind).toBe('access-denied');
        const [withKeys] = await t.admin.getCertAuthorities('host', { withSecrets: true });
        expect(withKeys!.spec.active_keys.tls[0]!.key).toContain('PRIVATE KEY');
      });

      it('a user renews only their own certificates, never past their current ones', async () => {
        const access = await t.userClient('ann', ['access']);
        const keys = await userKeys();
        const certs = await access.generateUserCerts({ user: 'ann', ...keys, ttl: 10 * HOUR });
        const identity = parseIdentity(certs.tlsCert);
        expect(identity.username).toBe('ann');
        // userClient's certificates live one hour: renewal cannot extend them.
        expect(identity.expires.getTime()).toBeLessThanOrEqual(t.clock.now().getTime() + HOUR);
        expect((await rejection(access.generateUserCerts({ user: 'ed', ...keys }))).kind).toBe('access-denied');
      });

      it('caps certificate TTLs by the roles\' max_session_ttl and never issues a principal-less SSH cert', async () => {
        await t.admin.createRole(parseRole({ metadata: { name: 'short' }, spec: { options: { max_session_ttl: '1h' } } }));
        await t.admin.createUser({ name: 'shorty', roles: ['short'] });
        const certs = await t.admin.generateUserCerts({ user: 'shorty', ...(await userKeys()), ttl: 10 * HOUR });
        const expires = parseIdentity(certs.tlsCert).expires.getTime();
        expect(expires).toBeLessThanOrEqual(t.clock.now().getTime() + HOUR);
        expect(expires).toBeGreaterThan(t.clock.now().getTime() + HOUR - MINUTE);
        const ssh = parseSshCertificate(certs.sshCert);
        expect(ssh.validPrincipals).toHaveLength(1);
        expect(ssh.validPrincipals[0]).toMatch(/^-teleport-nologin-/);
      });

      it('database certificates: editors sign server certs, the Db role signs client certs', async () => {
        const editor = await t.userClient('ed', ['editor']);
        const access = await t.userClient('ann', ['access']);
        const key = await generateKeyPair('rsa-2048');
        const res = await editor.generateDatabaseCert({ publicKey: key.publicKeyPem, hosts: ['db.example.com', '127.0.0.1'], ttl: 24 * HOUR });
        const verified = verifyTlsCert(res.cert, { trustedCaCerts: res.caCerts, clock: t.clock, usage: 'serverAuth' });
        expect(verified.identity.username).toBe('db.example.com');
        expect(() => verifyTlsCert(res.cert, { trustedCaCerts: res.caCerts, clock: t.clock, usage: 'clientAuth' })).toThrow();
        // clientAuth: both usages, as a CockroachDB node certificate needs.
        const node = await editor.generateDatabaseCert({ publicKey: key.publicKeyPem, hosts: ['node', 'localhost'], clientAuth: true });
        for (const usage of ['serverAuth', 'clientAuth'] as const) {
          expect(verifyTlsCert(node.cert, { trustedCaCerts: node.caCerts, clock: t.clock, usage }).identity.username).toBe('node');
        }
        expect((await rejection(editor.generateDatabaseCert({ publicKey: key.publicKeyPem, hosts: ['x'], clientAuth: 'yes' as never }))).kind).toBe('bad-parameter');
        const [dbClientCa] = await t.admin.getCertAuthorities('db_client');
        expect(res.clientCaCerts).toEqual([dbClientCa!.spec.active_keys.tls[0]!.cert]);
        expect((await rejection(access.generateDatabaseCert({ publicKey: key.publicKeyPem, hosts: ['x'] }))).kind).toBe('access-denied');
        expect((await rejection(editor.generateDatabaseClientCert({ publicKey: key.publicKeyPem, dbUser: 'postgres' }))).kind).toBe('access-denied');
      });
      it('OpenSSH host certificates: Admin or a host_cert create rule, the principals as given, audited', async () => {
        const key = await generateKeyPair('ed25519');
        const res = await t.admin.generateHostCert({ sshPublicKey: key.sshPublicKey, principals: ['db1.example.com', '10.0.0.7'], ttl: HOUR });
        const { certificate } = verifySshCert(res.sshCert, { trustedCaKeys: res.sshCaKeys, certType: 'host', principal: '10.0.0.7', clock: t.clock });
        expect(certificate.validPrincipals).toEqual(['db1.example.com', '10.0.0.7']);
        expect(certificate.extensions).toEqual({ 'x-teleport-authority': 'test.example.com', 'x-teleport-role': 'Node' });
        expect(Number(certificate.validBefore) * 1000).toBeCloseTo(t.clock.now().getTime() + HOUR, -4);
        const [hostCa] = await t.admin.getCertAuthorities('host');
        expect(res.sshCaKeys).toEqual(hostCa!.spec.active_keys.ssh.map((k) => k.public_key));

        const editor = await t.userClient('ed', ['editor']);
        const denied = await rejection(editor.generateHostCert({ sshPublicKey: key.sshPublicKey, principals: ['x'] }));
        expect(denied).toMatchObject({ kind: 'access-denied', message: 'access denied to perform action "create" on "host_cert"' });
        await t.admin.upsertRole(parseRole({ metadata: { name: 'host-signer' }, spec: { allow: { rules: [{ resources: ['host_cert'], verbs: ['create'] }] } } }));
        const signer = await t.userClient('hank', ['host-signer']);
        expect(parseSshCertificate((await signer.generateHostCert({ sshPublicKey: key.sshPublicKey, principals: ['h1'] })).sshCert).validPrincipals).toEqual(['h1']);

        expect((await rejection(t.admin.generateHostCert({ sshPublicKey: key.sshPublicKey, principals: [] }))).message).toBe('at least one host name is required');
        expect((await rejection(t.admin.generateHostCert({ sshPublicKey: key.sshPublicKey, principals: ['a b'] }))).message).toBe('invalid host name "a b"');
        expect((await rejection(t.admin.generateHostCert({ sshPublicKey: 'not a key', principals: ['h1'] }))).kind).toBe('bad-parameter');
        const issued = (await allEvents(t)).filter((e) => e['code'] === 'TC000I' && e['cert_type'] === 'host');
        // Same (fake) time for both: the order is not defined.
        expect(issued).toHaveLength(2);
        expect(issued.map((e) => [e['user'], e['principals']])).toEqual(
          expect.arrayContaining([
            [expect.stringMatching(/\.test\.example\.com$/), ['db1.example.com', '10.0.0.7']],
            ['hank', ['h1']],
          ]),
        );
      });
    });

    describe('users', () => {
      it('refuses a user with an unknown role with not-found, and creates nothing', async () => {
        const err = await rejection(t.admin.createUser({ name: 'ghost', roles: ['access', 'no-such-role'] }));
        expect(err).toMatchObject({ kind: 'not-found', message: 'role "no-such-role" is not found' });
        expect((await rejection(t.admin.getUser('ghost'))).kind).toBe('not-found');
        expect((await t.admin.getUsers()).map((u) => u.metadata.name)).not.toContain('ghost');
        expect((await t.backend.getRange('/usertoken/', '/usertoken/\u{10FFFF}')).items.filter((i) => new TextDecoder().decode(i.value).includes('"ghost"'))).toEqual([]);
        expect((await t.backend.getRange('/web/users/ghost/', '/web/users/ghost/\u{10FFFF}')).items).toEqual([]);
      });

      it('stores --logins, --db-users and --db-names as traits and returns an invite for the proxy', async () => {
        const { user, token } = await t.admin.createUser({ name: 'alice', roles: ['access'], logins: ['alice', 'root'], dbUsers: ['alice'], dbNames: ['app'] });
        expect(user.spec.traits).toEqual({ logins: ['alice', 'root'], db_users: ['alice'], db_names: ['app'] });
        expect(user.spec.created_by?.user?.name).toMatch(/\.test\.example\.com$/);
        expect(token).toMatchObject({ user: 'alice', kind: 'invite' });
        expect(token.id).toMatch(/^[0-9a-f]{32}$/);
        expect(token.url).toBe(`https://auth-test:3080/web/invite/${token.id}`);
        expect(Date.parse(token.expires) - t.clock.now().getTime()).toBe(HOUR);
        expect((await rejection(t.admin.createUser({ name: 'alice', roles: ['access'] }))).kind).toBe('already-exists');
      });

      it('creates a user without an invite, with labels, description and expiry (tctl create)', async () => {
        const res = await t.admin.createUser({ name: 'ulla', roles: ['access'], invite: false, labels: { team: 'db' }, description: 'on call', expires: '2099-01-01T00:00:00Z' });
        expect('token' in res).toBe(false);
        expect(res.user.metadata).toMatchObject({ name: 'ulla', labels: { team: 'db' }, description: 'on call' });
        expect(Date.parse(res.user.metadata.expires!)).toBe(Date.parse('2099-01-01T00:00:00Z'));
        expect((await t.admin.getUser('ulla')).metadata.labels).toEqual({ team: 'db' });
        const tokens = (await t.backend.getRange('/usertoken/', '/usertoken/\u{10FFFF}')).items.filter((i) => new TextDecoder().decode(i.value).includes('"ulla"'));
        expect(tokens).toEqual([]);
        const events = await allEvents(t);
        expect(events.filter((e) => e['name'] === 'ulla').map((e) => e['event'])).toEqual(['user.create']);
        expect((await rejection(t.admin.createUser({ name: 'ulf', roles: ['access'], invite: false, ttl: HOUR }))).message).toBe('ttl is the lifetime of the invite: it needs invite');
        expect((await rejection(t.admin.createUser({ name: 'ulf', roles: ['access'], labels: { 'no spaces': 'x' } }))).kind).toBe('bad-parameter');
        expect((await rejection(t.admin.createUser({ name: 'ulf', roles: ['access'], expires: 'tomorrow' }))).kind).toBe('bad-parameter');
        expect((await rejection(t.admin.getUser('ulf'))).kind).toBe('not-found');
      });

      it('updates roles (which must exist) and deletes users with their tokens', async () => {
        await t.admin.createUser({ name: 'bob', roles: ['access'] });
        const bob = await t.admin.getUser('bob');
        const updated = await t.admin.updateUser({ ...bob, spec: { ...bob.spec, roles: ['access', 'auditor'] } });
        expect(updated.spec.roles).toEqual(['access', 'auditor']);
        expect((await rejection(t.admin.updateUser({ ...bob, spec: { ...bob.spec, roles: ['nope'] } }))).kind).toBe('not-found');
        const reset = await t.admin.createResetPasswordToken({ name: 'bob' });
        expect(Date.parse(reset.expires) - t.clock.now().getTime()).toBe(8 * HOUR);
        await t.admin.deleteUser('bob');
        expect((await rejection(t.admin.getUser('bob'))).kind).toBe('not-found');
        expect((await rejection(t.anonymous().getUserToken(reset.id))).kind).toBe('not-found');
        expect((await rejection(t.admin.deleteUser('bob'))).kind).toBe('not-found');
      });

      it('refuses to delete a role a user holds', async () => {
        await t.admin.createRole(parseRole({ metadata: { name: 'held' } }));
        await t.admin.createUser({ name: 'holder', roles: ['held'] });
        const err = await rejection(t.admin.deleteRole('held'));
        expect(err).toMatchObject({ kind: 'bad-parameter', message: 'role "held" is still held by user "holder"' });
      });

      it('invite: OTP enrolment, weak passwords refused, single use, then password + OTP login', async () => {
        const { token } = await t.admin.createUser({ name: 'carol', roles: ['access'], logins: ['carol'] });
        const anon = t.anonymous();
        const details = await anon.getUserToken(token.id);
        expect(details).toMatchObject({ user: 'carol', kind: 'invite' });
        expect(details.totp?.url).toMatch(/^otpauth:\/\/totp\/test\.example\.com:carol\?secret=/);
        const secret = details.totp!.secret;
        const code = generateTotp(secret, t.clock.now());

        const weak = await rejection(anon.completeUserToken({ tokenId: token.id, password: 'short', otpCode: code }));
        expect(weak).toMatchObject({ kind: 'bad-parameter', message: 'password must be at least 12 characters long' });
        const long = await rejection(anon.completeUserToken({ tokenId: token.id, password: 'x'.repeat(129), otpCode: code }));
        expect(long.message).toBe('password must be at most 128 characters long');
        expect((await rejection(anon.completeUserToken({ tokenId: token.id, password: PASSWORD }))).kind).toBe('bad-parameter');
        expect((await rejection(anon.completeUserToken({ tokenId: token.id, password: PASSWORD, otpCode: code === '000000' ? '111111' : '000000' }))).kind).toBe('access-denied');

        expect(await anon.completeUserToken({ tokenId: token.id, password: PASSWORD, otpCode: code })).toEqual({ user: 'carol' });
        const again = await rejection(anon.completeUserToken({ tokenId: token.id, password: PASSWORD, otpCode: code }));
        expect(again).toMatchObject({ kind: 'not-found', code: 'ERR_TP_USER_TOKEN_NOT_FOUND' });

        // The code used at enrolment cannot log in again (replay); the next one can.
        expect((await rejection(login(t, 'carol', PASSWORD, code))).kind).toBe('access-denied');
        t.clock.advance(30_000);
        const res = await login(t, 'carol', PASSWORD, generateTotp(secret, t.clock.now()));
        expect(res.username).toBe('carol');
        expect(parseIdentity(res.tlsCert)).toMatchObject({ username: 'carol', roles: ['access'], logins: ['carol'], teleportCluster: 'test.example.com' });
        expect(parseSshCertificate(res.sshCert)).toMatchObject({ keyId: 'carol', validPrincipals: ['carol'] });
        expect(res.tlsCaCerts).toEqual(t.adminIdentity.caCerts);
      });

      it('refuses invite lifetimes over 48h', async () => {
        const err = await rejection(t.admin.createUser({ name: 'dave', roles: ['access'], ttl: 49 * HOUR }));
        expect(err).toMatchObject({ kind: 'bad-parameter', message: 'ttl must be at most 48h' });
        expect((await rejection(t.admin.getUser('dave'))).kind).toBe('not-found');
      });
    });

    describe('join tokens', () => {
      const pins = async (): Promise<string[]> => (await t.admin.getClusterStatus()).caPins;

      it('joins with a good token and the right pin, as the token\'s role', async () => {
        const token = await t.admin.createToken({ roles: 'db,node' });
        expect(token.spec.roles).toEqual(['Db', 'Node']);
        expect(Date.parse(token.metadata.expires!) - t.clock.now().getTime()).toBe(30 * MINUTE);
        const identity = await joinCluster({
          authAddr: t.auth.dialAddr,
          token: token.metadata.name,
          caPins: await pins(),
          role: 'Db',
          hostUuid: '11111111-2222-3333-4444-555555555555',
          nodename: 'db-1',
        });
        expect(parseIdentity(identity.cert)).toMatchObject({ username: '11111111-2222-3333-4444-555555555555.test.example.com', roles: ['Db'] });
        expect(parseSshCertificate(identity.sshCert!).validPrincipals).toContain('db-1');
        expect(identity.clusterName).toBe('test.example.com');
        const db = newAuthClient({ addr: t.auth.dialAddr, identity });
        try {
          expect(await db.getClusterName()).toBe('test.example.com');
          const key = await generateKeyPair('rsa-2048');
          const clientCert = await db.generateDatabaseClientCert({ publicKey: key.publicKeyPem, dbUser: 'alice' });
          expect(verifyTlsCert(clientCert.cert, { trustedCaCerts: clientCert.clientCaCerts, clock: t.clock, usage: 'clientAuth' }).identity.username).toBe('alice');
          expect((await rejection(db.createUser({ name: 'x', roles: ['access'] }))).kind).toBe('access-denied');
        } finally {
          await db.close();
        }
      });

      it('a joined host renews its own certificates, reports the rotation it caught up with, and follows CA changes', async () => {
        const token = await t.admin.createToken({ roles: 'db' });
        const hostUuid = '99999999-2222-3333-4444-555555555555';
        const identity = await joinCluster({ authAddr: t.auth.dialAddr, token: token.metadata.name, caPins: await pins(), role: 'Db', hostUuid, nodename: 'db-9' });
        const db = newAuthClient({ addr: t.auth.dialAddr, identity });
        const watch = new AbortController();
        try {
          const key = await generateKeyPair('ecdsa-p256');
          const ssh = await generateKeyPair('ed25519');
          const renewed = await db.reissueHostCerts({ nodeName: 'db-9', tlsPublicKey: key.publicKeyPem, sshPublicKey: ssh.sshPublicKey });
          expect(parseIdentity(renewed.tlsCert)).toMatchObject({ username: `${hostUuid}.test.example.com`, roles: ['Db'] });
          expect(renewed.tlsCert).not.toBe(identity.cert);
          // Only hosts renew this way; an admin (or a user) is refused.
          expect((await rejection(t.admin.reissueHostCerts({ nodeName: 'x', tlsPublicKey: key.publicKeyPem, sshPublicKey: ssh.sshPublicKey }))).kind).toBe('access-denied');
          // A host reports about itself only, under the role of its certificate.
          expect((await rejection(db.upsertInstance({ hostname: 'db-9', role: 'Node', host: { phase: 'standby' } }))).kind).toBe('access-denied');
          await db.upsertInstance({ hostname: 'db-9', role: 'Db', host: { phase: 'standby' }, user: { phase: 'standby' } });
          const listed = (await t.admin.getInstances()).find((i) => i.spec.host_id === hostUuid);
          expect(listed?.spec).toMatchObject({ hostname: 'db-9', role: 'Db', host: { phase: 'standby' } });
          expect((await rejection(db.getInstances())).kind).toBe('access-denied');
          // The CA watch stream: `init`, then a `change` when a rotation moves.
          const events = db.watchCertAuthorities(watch.signal)[Symbol.asyncIterator]();
          expect((await events.next()).value).toBe('init');
          await t.admin.rotateCertAuthority({ type: 'db_client', phase: 'init', mode: 'manual' });
          expect((await events.next()).value).toBe('change');
          await t.admin.rotateCertAuthority({ type: 'db_client', phase: 'rollback' });
          await t.admin.rotateCertAuthority({ type: 'db_client', phase: 'standby' });
        } finally {
          watch.abort();
          await db.close();
        }
      });

      it('refuses a token of another type, a deleted token and a wrong CA pin, with clear errors', async () => {
        const node = await t.admin.createToken({ roles: ['Node'] });
        const join = (token: string, caPins: string[], role: 'Db' | 'Node' = 'Db') =>
          joinCluster({ authAddr: t.auth.dialAddr, token, caPins, role, hostUuid: 'host-2', nodename: 'n2' });
        const wrongType = await rejection(join(node.metadata.name, await pins()));
        expect(wrongType).toMatchObject({ kind: 'access-denied', code: 'ERR_TP_JOIN_TOKEN_ROLE', message: 'the join token does not allow joining as Db; it allows Node' });
        expect(wrongType.message).not.toContain(node.metadata.name);

        await t.admin.deleteToken(node.metadata.name);
        expect((await t.admin.getTokens()).map((x) => x.metadata.name)).not.toContain(node.metadata.name);
        expect(await rejection(join(node.metadata.name, await pins(), 'Node'))).toMatchObject({ kind: 'access-denied', code: 'ERR_TP_JOIN_TOKEN_INVALID' });

        const good = await t.admin.createToken({ roles: ['Db'] });
        const other = await newCertAuthority({ clusterName: 'test.example.com', type: 'host', clock: t.clock });
        const pinErr = await rejection(join(good.metadata.name, [caPin(other.spec.active_keys.tls[0]!.cert)]));
        expect(pinErr).toMatchObject({ kind: 'access-denied', code: 'ERR_TP_CA_PIN_MISMATCH', message: 'the certificate authority does not match the CA pin' });
      });

      it('refuses lifetimes past 8760h in one bad-parameter line (was an internal error past the date range)', async () => {
        const huge = 999_999 * HOUR;
        for (const ttl of [huge, 1e300, 8761 * HOUR]) {
          expect(await rejection(t.admin.createToken({ roles: ['Node'], ttl }))).toMatchObject({ kind: 'bad-parameter', message: 'ttl must be at most 8760h' });
        }
        expect((await t.admin.createToken({ roles: ['Node'], ttl: 8760 * HOUR })).metadata.expires).toBe(new Date(t.clock.now().getTime() + 8760 * HOUR).toISOString());
        const { tlsPublicKey, sshPublicKey } = await userKeys();
        // Each rejection gets its handler at once (awaiting them one by one left the later ones unhandled for a while).
        const refusals = await Promise.all(
          [
            t.admin.generateUserCerts({ user: 'admin-test', tlsPublicKey, sshPublicKey, ttl: huge }),
            t.admin.generateDatabaseCert({ publicKey: tlsPublicKey, hosts: ['db.example.com'], ttl: huge }),
            t.admin.generateHostCert({ sshPublicKey, principals: ['h.example.com'], ttl: huge }),
            login(t, 'nobody', PASSWORD, undefined, huge),
          ].map((p) => rejection(p)),
        );
        for (const r of refusals) expect(r).toMatchObject({ kind: 'bad-parameter', message: 'ttl must be at most 8760h' });
      });

      it('stores token labels, checking their keys', async () => {
        const token = await t.admin.createToken({ roles: ['Node'], labels: { env: 'prod', 'teleport.dev/origin': 'tctl' } });
        expect(token.metadata.labels).toEqual({ env: 'prod', 'teleport.dev/origin': 'tctl' });
        expect((await t.admin.getTokens()).find((x) => x.metadata.name === token.metadata.name)?.metadata.labels).toEqual({ env: 'prod', 'teleport.dev/origin': 'tctl' });
        expect(await rejection(t.admin.createToken({ roles: ['Node'], labels: { 'bad key': 'x' } }))).toMatchObject({ kind: 'bad-parameter', message: 'labels: invalid label key "bad key"' });
        expect((await rejection(t.admin.createToken({ roles: ['Node'], labels: { env: 1 as never } }))).kind).toBe('bad-parameter');
      });

      it('accepts static tokens from auth_service.tokens, which the API cannot delete', async () => {
        const identity = await joinCluster({ authAddr: t.auth.dialAddr, token: 'static-node-token-0123456789', caPins: await pins(), role: 'Node', hostUuid: 'host-3', nodename: 'n3' });
        expect(parseIdentity(identity.cert).roles).toEqual(['Node']);
        const tokens = await t.admin.getTokens();
        expect(tokens.find((x) => x.metadata.name === 'static-node-token-0123456789')?.metadata.expires).toBeUndefined();
        expect((await rejection(t.admin.deleteToken('static-node-token-0123456789'))).kind).toBe('bad-parameter');
      });
    });

    describe('nodes', () => {
      const nodeDoc = (name: string, hostname: string, extra: Record<string, unknown> = {}) =>
        parseNode({ kind: 'node', version: 'v2', metadata: { name, labels: { env: hostname.startsWith('prod') ? 'prod' : 'dev' } }, spec: { hostname, addr: '', use_tunnel: true }, ...extra });

      it('lets a node heartbeat only itself with a TTL, admins register agentless nodes, and users see what node_labels allow', async () => {
        const token = await t.admin.createToken({ roles: ['Node'] });
        const hostUuid = '0b0e0f00-1111-4222-8333-444444444444';
        const pins = (await t.admin.getClusterStatus()).caPins;
        const identity = await joinCluster({ authAddr: t.auth.dialAddr, token: token.metadata.name, caPins: pins, role: 'Node', hostUuid, nodename: 'web-1' });
        expect(parseSshCertificate(identity.sshCert!).validPrincipals).toEqual(expect.arrayContaining([hostUuid, `${hostUuid}.test.example.com`, 'web-1', 'web-1.test.example.com']));
        const node = newAuthClient({ addr: t.auth.dialAddr, identity });
        const access = await t.userClient('nell', ['access']);
        try {
          const stored = await node.upsertNode(nodeDoc(hostUuid, 'web-1'), { ttl: 60_000 });
          expect(Date.parse(stored.metadata.expires!) - t.clock.now().getTime()).toBe(60_000);
          expect(await rejection(node.upsertNode(nodeDoc('someone-else', 'web-2')))).toMatchObject({ kind: 'access-denied' });
          expect(await rejection(node.upsertNode(nodeDoc(hostUuid, 'web-1', { sub_kind: 'openssh', spec: { hostname: 'web-1', addr: '10.0.0.1:22' } })))).toMatchObject({ kind: 'access-denied' });
          // Only agentless nodes are created by hand.
          expect(await rejection(t.admin.upsertNode(nodeDoc('hand-made', 'web-3')))).toMatchObject({ kind: 'bad-parameter' });
          await t.admin.upsertNode(parseNode({ kind: 'node', sub_kind: 'openssh', metadata: { name: 'agentless-1', labels: { env: 'prod' } }, spec: { hostname: 'prod-db', addr: '10.0.0.7:22' } }));
          expect((await t.admin.getNodes()).map((n) => n.spec.hostname)).toEqual(['prod-db', 'web-1']);
          await t.admin.upsertRole(parseRole({ metadata: { name: 'prod-only' }, spec: { allow: { logins: ['ops'], node_labels: { env: 'prod' } } } }));
          const prod = await t.userClient('pat', ['prod-only']);
          try {
            expect((await prod.getNodes()).map((n) => n.spec.hostname)).toEqual(['prod-db']);
          } finally {
            await prod.close();
          }
          expect((await access.getNodes()).map((n) => n.spec.hostname)).toEqual(['prod-db', 'web-1']);
          // The next heartbeat's labels and expiry are what the next listing shows and filters by (a listing decodes
          // each node once per heartbeat, not once per request).
          t.clock.advance(10_000);
          const moved = await node.upsertNode(nodeDoc(hostUuid, 'prod-web-1'), { ttl: 60_000 });
          const prodAgain = await t.userClient('pat', ['prod-only']);
          try {
            expect((await prodAgain.getNodes()).map((n) => [n.spec.hostname, n.metadata.expires])).toEqual([['prod-db', undefined], ['prod-web-1', moved.metadata.expires]]);
          } finally {
            await prodAgain.close();
          }
          expect(await rejection(access.upsertNode(parseNode({ kind: 'node', sub_kind: 'openssh', metadata: { name: 'x' }, spec: { hostname: 'x', addr: '1.2.3.4:22' } })))).toMatchObject({ kind: 'access-denied' });
          // The heartbeat expires with its TTL; the agentless node stays until removed.
          t.clock.advance(61_000);
          expect((await t.admin.getNodes()).map((n) => n.spec.hostname)).toEqual(['prod-db']);
          await t.admin.deleteNode('agentless-1');
          expect(await t.admin.getNodes()).toEqual([]);
          expect(await rejection(t.admin.deleteNode('agentless-1'))).toMatchObject({ kind: 'not-found' });
        } finally {
          await node.close();
          await access.close();
        }
      });
    });

    describe('audit log', () => {
      it('records security events and never a token, password or OTP secret', async () => {
        const token = await t.admin.createToken({ roles: ['Node'] });
        await joinCluster({ authAddr: t.auth.dialAddr, token: token.metadata.name, caPins: (await t.admin.getClusterStatus()).caPins, role: 'Node', hostUuid: 'host-4', nodename: 'n4' });
        await rejection(t.anonymous().registerUsingToken({ token: 'not-a-real-token-abcdef', hostId: 'h5', nodeName: 'n5', role: 'Node', tlsPublicKey: 'x', sshPublicKey: 'y' }));
        const { totpSecret } = await userWithPassword(t, 'erin', ['access']);
        const events = await allEvents(t);
        const codes = new Set(events.map((e) => e['code']));
        for (const code of ['T1002I', 'T6000I', 'T1005I', 'TJT00I', 'TJ002I', 'TJ002E', 'T9000I', 'T9001I', 'T9002I', 'TC000I', 'T1004I', 'T1003I']) expect(codes).toContain(code);
        const joined = events.find((e) => e['code'] === 'TJ002I' && e['host_id'] === 'host-4')!;
        expect(joined['token_name']).toBe(`${'*'.repeat(24)}${token.metadata.name.slice(24)}`);
        const failed = events.find((e) => e['code'] === 'TJ002E' && e['host_id'] === 'h5')!;
        expect(failed['error']).toBe('invalid or expired token');
        const text = JSON.stringify(events);
        expect(text).not.toContain(token.metadata.name);
        expect(text).not.toContain('not-a-real-token-abcdef');
        expect(text).not.toContain('static-node-token-0123456789');
        expect(text).not.toContain(PASSWORD);
        expect(text).not.toContain(totpSecret!);
      });

      it('lets access users search events (their preset reads events) but not auditors\' secrets', async () => {
        const access = await t.userClient('ann', ['access']);
        const { events } = await access.searchEvents({ from: new Date(0), to: new Date(t.clock.now().getTime() + HOUR), eventTypes: ['user.create'], limit: 5 });
        expect(events.length).toBeGreaterThan(0);
        expect(events.every((e) => e.event === 'user.create')).toBe(true);
      });
    });

    describe('auth preference', () => {
      it('is read by anyone authenticated and shown by ping', async () => {
        const pref = await t.admin.getAuthPreference();
        expect(pref.spec.second_factor).toBe('otp');
        expect((await t.anonymous().ping()).authPreference).toEqual({ type: 'local', secondFactor: 'otp' });
        const access = await t.userClient('ann', ['access']);
        expect((await access.getAuthPreference()).spec.type).toBe('local');
        expect((await rejection(access.setAuthPreference(parseAuthPreference({ spec: { second_factor: 'off' } })))).kind).toBe('access-denied');
      });
    });
  });

  describe(`auth server on ${name}: time`, () => {
    it('locks a user after 5 failed logins; the right password is refused until the lock expires', async () => {
      const t = await start({ authentication: { second_factor: 'off' } });
      try {
        await userWithPassword(t, 'frank', ['access']);
        // One second between attempts, so the audit log orders them by time.
        const tick = (): void => t.clock.advance(1_000);
        for (let i = 0; i < 4; i++) {
          expect(await rejection(login(t, 'frank', 'wrong password!!'))).toMatchObject({ kind: 'access-denied', code: 'ERR_TP_INVALID_CREDENTIALS' });
          tick();
        }
        // The attempt that locks the user already says so.
        const until = new Date(t.clock.now().getTime() + 30 * MINUTE).toISOString();
        expect(await rejection(login(t, 'frank', 'wrong password!!'))).toMatchObject({
          kind: 'access-denied',
          code: 'ERR_TP_USER_LOCKED',
          message: `user "frank" is locked until ${until}: too many failed login attempts`,
        });
        tick();
        const locked = await rejection(login(t, 'frank', PASSWORD));
        expect(locked).toMatchObject({ kind: 'access-denied', code: 'ERR_TP_USER_LOCKED', message: `user "frank" is locked until ${until}: too many failed login attempts` });
        tick();
        expect((await t.admin.getUser('frank')).status).toMatchObject({ is_locked: true, lock_reason: 'user has exceeded maximum failed login attempts' });
        t.clock.advance(29 * MINUTE);
        expect((await rejection(login(t, 'frank', PASSWORD))).code).toBe('ERR_TP_USER_LOCKED');
        t.clock.advance(MINUTE);
        expect((await login(t, 'frank', PASSWORD)).username).toBe('frank');
        tick();
        expect((await t.admin.getUser('frank')).status.is_locked).toBe(false);
        // The success cleared the count: four failures do not lock.
        for (let i = 0; i < 4; i++) {
          await rejection(login(t, 'frank', 'wrong password!!'));
          tick();
        }
        expect((await login(t, 'frank', PASSWORD)).username).toBe('frank');

        const events = await allEvents(t);
        const logins = events.filter((e) => e['event'] === 'user.login' && e['user'] === 'frank');
        expect(logins.map((e) => [e['code'], e['error'] ?? null])).toEqual([
          ...Array(5).fill(['T1000W', 'invalid password']),
          ['T1000W', 'user is locked'],
          ['T1000W', 'user is locked'],
          ['T1000I', null],
          ...Array(4).fill(['T1000W', 'invalid password']),
          ['T1000I', null],
        ]);
        expect(events.filter((e) => e['code'] === 'TLK00I').map((e) => e['target'])).toEqual([{ user: 'frank' }]);
        expect((await rejection(login(t, 'nobody', PASSWORD))).code).toBe('ERR_TP_INVALID_CREDENTIALS');
      } finally {
        await t.close();
      }
    });

    it('20 parallel wrong passwords: at most 5 are verified and one lock is written; the right password then waits', async () => {
      const t = await start({ authentication: { second_factor: 'off' } });
      try {
        await userWithPassword(t, 'hank', ['access']);
        const results = await Promise.allSettled(Array.from({ length: 20 }, () => login(t, 'hank', 'wrong password!!')));
        expect(results.every((r) => r.status === 'rejected')).toBe(true);
        await expectLockedOnce(t, 'hank');
      } finally {
        await t.close();
      }
    });

    it('names: every user name the server accepts logs in, fits tsh\'s key store and is managed; the rest are refused in one line', async () => {
      const t = await start({ authentication: { second_factor: 'off' } });
      const home = await mkdtemp(path.join(tmpdir(), 'tp-names-'));
      try {
        const accepted = ['alice+ops@example.com', 'a.b-c_d', '_svc', '@ops', '0day', 'x'.repeat(128)];
        for (const name of accepted) {
          await userWithPassword(t, name, ['access']);
          const certs = await login(t, name, PASSWORD);
          expect(certs.username).toBe(name);
          // Where tsh writes the keys of this login: the same rule, so tsh never refuses a name after a login.
          expect(keyPaths(home, 'proxy.example.com', certs.username, 'test.example.com').tlsCert).toBe(path.join(home, 'keys', 'proxy.example.com', `${name}-x509.pem`));
          // tctl users update and rm.
          const user = await t.admin.getUser(name);
          expect((await t.admin.updateUser({ ...user, spec: { ...user.spec, roles: ['access', 'auditor'] } })).spec.roles).toEqual(['access', 'auditor']);
          await t.admin.deleteUser(name);
          expect((await rejection(t.admin.getUser(name))).kind).toBe('not-found');
        }
        const refused = ['-rf', '.hidden', '..', 'a b', 'a,b', 'x'.repeat(129), 'josé', 'ali\u202ece'];
        for (const name of refused) {
          const err = await rejection(t.admin.createUser({ name, roles: ['access'] }));
          expect(err.kind, name).toBe('bad-parameter');
          expect(err.message).toMatch(/^user name /);
          expect(err.message).not.toMatch(/[\n\u202a-\u202e]/);
        }
        const bidi = (name: string) => parseRole({ kind: 'role', version: 'v7', metadata: { name }, spec: {} });
        expect(await rejection(t.admin.createRole(bidi('admin\u202enimda')))).toMatchObject({
          kind: 'bad-parameter',
          message: 'role name "admin\\u202enimda" contains control or bidirectional-override characters',
        });
        expect((await rejection(t.admin.upsertRole(bidi('dev\u2066')))).message).toMatch(/^role name .* contains control or bidirectional-override characters$/);
        expect((await rejection(t.admin.createToken({ roles: ['Node'], name: 'has space' }))).message).toMatch(/^token name must be ASCII/);
        const lock = parseLock({ kind: 'lock', version: 'v2', metadata: { name: '-l1' }, spec: { target: { user: 'x' } } });
        expect((await rejection(t.admin.upsertLock(lock))).message).toMatch(/^lock name "-l1" must be ASCII/);
        expect((await t.admin.getRoles()).map((r) => r.metadata.name).filter((n) => /[^\x20-\x7e]/.test(n))).toEqual([]);
      } finally {
        await t.close();
        await rm(home, { recursive: true, force: true });
      }
    });

    it('a lock (tctl lock) refuses login with the right password and certificate renewals until it expires; audited', async () => {
      const t = await start({ authentication: { second_factor: 'off' } });
      try {
        await userWithPassword(t, 'gina', ['access']);
        // Her certificates from before the lock.
        const gina = await t.userClient('gina', ['access']);
        const expires = new Date(t.clock.now().getTime() + 10 * MINUTE).toISOString();
        await t.admin.upsertLock(parseLock({ kind: 'lock', version: 'v2', metadata: { name: 'l1' }, spec: { target: { role: 'access' }, message: 'maintenance', expires } }));
        const message = 'lock targeting Role:"access" is in force: maintenance';
        expect((await t.admin.getLocks()).find((l) => l.metadata.name === 'l1')?.spec.created_by).toBe('Admin');
        expect(await rejection(login(t, 'gina', PASSWORD))).toMatchObject({ kind: 'access-denied', code: 'ERR_TP_LOCKED', message });
        // Locks are for admins: a user may not read, write or delete them.
        expect((await rejection(gina.getLocks())).kind).toBe('access-denied');
        expect((await rejection(gina.deleteLock('l1'))).kind).toBe('access-denied');
        const { tlsPublicKey, sshPublicKey } = await userKeys();
        expect(await rejection(gina.generateUserCerts({ user: 'gina', sshPublicKey, tlsPublicKey }))).toMatchObject({ message });
        t.clock.advance(10 * MINUTE + 1_000);
        expect((await login(t, 'gina', PASSWORD)).username).toBe('gina');
        const events = await allEvents(t);
        expect(events.filter((e) => e['event'] === 'user.login' && e['user'] === 'gina').map((e) => [e['code'], e['error'] ?? null])).toEqual([
          ['T1000W', message],
          ['T1000I', null],
        ]);
        // The admin identity (tctl on the auth host) is named by its role, not by the auth server's host UUID.
        expect(events.find((e) => e['code'] === 'TLK00I' && e['name'] === 'l1')).toMatchObject({ target: { role: 'access' }, user: 'Admin' });
      } finally {
        await t.close();
      }
    });

    it('expires invite tokens and join tokens with the clock', async () => {
      const t = await start();
      try {
        const { token } = await t.admin.createUser({ name: 'gina', roles: ['access'] });
        const join = await t.admin.createToken({ roles: ['Db'], ttl: 5 * MINUTE });
        const reset = await t.admin.createResetPasswordToken({ name: 'gina', ttl: 2 * HOUR });
        expect((await rejection(t.anonymous().getUserToken(token.id))).kind).toBe('not-found'); // replaced by the reset token
        expect((await t.anonymous().getUserToken(reset.id)).kind).toBe('reset');
        t.clock.advance(6 * MINUTE);
        const pins = (await t.admin.getClusterStatus()).caPins;
        const err = await rejection(joinCluster({ authAddr: t.auth.dialAddr, token: join.metadata.name, caPins: pins, role: 'Db', hostUuid: 'h', nodename: 'n' }));
        expect(err).toMatchObject({ kind: 'access-denied', code: 'ERR_TP_JOIN_TOKEN_INVALID' });
        t.clock.advance(2 * HOUR);
        expect((await rejection(t.anonymous().completeUserToken({ tokenId: reset.id, password: PASSWORD }))).kind).toBe('not-found');
      } finally {
        await t.close();
      }
    });

    it('refuses expired user certificates', async () => {
      const t = await start();
      try {
        const access = await t.userClient('hal', ['access']);
        expect(await access.getClusterName()).toBe('test.example.com');
        t.clock.advance(2 * HOUR);
        const err = await rejection(access.getClusterName());
        expect(err.kind).toBe('access-denied');
        expect(err.message).toContain('certificate has expired');
      } finally {
        await t.close();
      }
    });

    it('rotates the host CA through its phases while clients keep working', async () => {
      const t = await start({ authentication: { second_factor: 'off' } });
      try {
        const [initCa] = await t.admin.rotateCertAuthority({ type: 'host', phase: 'init', mode: 'manual' });
        expect(initCa!.spec.rotation).toMatchObject({ state: 'in_progress', phase: 'init' });
        const status = await t.admin.getClusterStatus();
        expect(status.caPins).toHaveLength(2);
        expect(status.certAuthorities.find((c) => c.type === 'host')!.trustedKeys).toEqual({ tls: 2, ssh: 2 });
        // The old admin identity still works while the server keeps its certificate.
        await t.admin.rotateCertAuthority({ type: 'host', phase: 'update_clients' });
        expect(await t.admin.getClusterName()).toBe('test.example.com');
        // A client that fetched both CAs keeps working through the server's switch to the new key.
        const user = await t.userClient('ivy', ['editor']);
        await user.getRoles();
        await t.admin.rotateCertAuthority({ type: 'host', phase: 'update_servers' });
        await eventually(async () => (await fetchServerCaChain(t.auth.dialAddr)).map(caPin)[0] === status.caPins[1]);
        expect((await user.getRoles()).length).toBeGreaterThan(0);
        const [done] = await user.getCertAuthorities('host');
        expect(done!.spec.rotation.phase).toBe('update_servers');
        expect((await rejection(t.admin.rotateCertAuthority({ type: 'host', phase: 'init' }))).kind).toBe('bad-parameter');
        // The admin identity on disk follows the rotation: signed by the new key, trusting both.
        await t.admin.rotateCertAuthority({ type: 'host', phase: 'standby' });
        await eventually(async () => {
          const fresh = newAuthClient({ addr: t.auth.dialAddr, identity: await loadIdentity(t.auth.adminIdentityDir) });
          try {
            return (await fresh.getCertAuthorities('host'))[0]!.spec.rotation.phase === 'standby';
          } finally {
            await fresh.close();
          }
        });
      } finally {
        await t.close();
      }
    });

    it('rate-limits the unauthenticated endpoints per address, not the authenticated ones', async () => {
      const t = await start({ rateLimit: { average: 1, burst: 3 } });
      try {
        const anon = t.anonymous();
        for (let i = 0; i < 3; i++) await anon.ping();
        expect(await rejection(anon.ping())).toMatchObject({ kind: 'limit-exceeded', code: 'ERR_TP_RATE_LIMITED' });
        expect((await rejection(anon.getUserToken('abc'))).kind).toBe('limit-exceeded');
        for (let i = 0; i < 5; i++) await t.admin.getClusterName();
        // Ping with a certificate (proxies, agents, tctl: one address on one machine) takes no token.
        for (let i = 0; i < 5; i++) await t.admin.ping();
        expect((await rejection(anon.ping())).kind).toBe('limit-exceeded');
        t.clock.advance(1_000);
        await anon.ping();
      } finally {
        await t.close();
      }
    });
  });
}

/** Polls `check` until it holds, failing after `ms` (for changes another task brings about). */
export async function eventually(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

