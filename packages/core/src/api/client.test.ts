import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair, issueHostCert, newCertAuthority, tlsSigningKeyPair } from '../ca/index.js';
import { systemClock } from '../clock/index.js';
import { AUTH_SERVER_NAME, AUTH_VIA_PROXY_ALPN, newAuthClient, type AuthClient } from './auth.js';
import { MAX_RESPONSE_BYTES } from './http.js';

/** An HTTPS server under the auth server's name whose answers the test sets per path. */
interface FakeAuth {
  server: Server;
  addr: string;
  caCert: string;
  answers: Map<string, { status: number; body: string }>;
  connections: number;
}

async function startFakeAuth(): Promise<FakeAuth> {
  const ca = await newCertAuthority({ clusterName: 'example.com', type: 'host', clock: systemClock });
  const keys = await generateKeyPair('ecdsa-p256');
  const cert = await issueHostCert({
    ca: tlsSigningKeyPair(ca),
    publicKey: keys.publicKeyPem,
    hostId: 'auth',
    clusterName: 'example.com',
    systemRole: 'Auth',
    dnsNames: [AUTH_SERVER_NAME],
    expires: new Date(Date.now() + 3_600_000),
    clock: systemClock,
  });
  const fake = { caCert: tlsSigningKeyPair(ca).cert, answers: new Map<string, { status: number; body: string }>(), connections: 0 };
  const server = createServer({ key: keys.privateKeyPem, cert, ALPNProtocols: ['http/1.1'] }, (req, res) => {
    const answer = fake.answers.get(`${req.method} ${req.url}`) ?? { status: 404, body: '' };
    res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
  });
  server.on('connection', () => fake.connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(fake, { server, addr: `127.0.0.1:${(server.address() as AddressInfo).port}` });
}

const SERVER = {
  kind: 'db_server',
  version: 'v3',
  metadata: { name: 'pg', expires: '2026-12-03T00:00:00.000Z' },
  spec: {
    host_id: 'h1',
    hostname: 'agent',
    version: '1.0.0',
    database: { kind: 'db', version: 'v3', metadata: { name: 'pg', labels: { env: 'dev' } }, spec: { protocol: 'postgres', uri: 'localhost:5432' } },
  },
};

describe('newAuthClient over node:https', () => {
  let fake: FakeAuth;
  let client: AuthClient;

  beforeAll(async () => {
    fake = await startFakeAuth();
    client = newAuthClient({ addr: fake.addr, tls: { ca: [fake.caCert] }, alpnProtocols: AUTH_VIA_PROXY_ALPN });
  });
  afterAll(async () => {
    await client.close();
    await new Promise((resolve) => fake.server.close(resolve));
  });

  it('returns answers that match their schema as they came, over one kept-alive connection', async () => {
    fake.answers.set('GET /v1/dbservers', { status: 200, body: JSON.stringify({ items: [{ ...SERVER, extra: 'kept' }] }) });
    fake.answers.set('GET /v1/clustername', { status: 200, body: JSON.stringify({ clusterName: 'example.com' }) });
    const before = fake.connections;
    expect(await client.getDatabaseServers()).toEqual([{ ...SERVER, extra: 'kept' }]);
    expect(await client.getClusterName()).toBe('example.com');
    expect(fake.connections - before).toBe(1);
  });

  it('refuses a malformed answer with one bad-parameter line naming the route and the field', async () => {
    const broken = { ...SERVER, spec: { ...SERVER.spec, database: { ...SERVER.spec.database, metadata: { labels: {} } } } };
    fake.answers.set('GET /v1/dbservers', { status: 200, body: JSON.stringify({ items: [broken] }) });
    await expect(client.getDatabaseServers()).rejects.toMatchObject({
      kind: 'bad-parameter',
      message: 'response of GET /v1/dbservers: items[0].spec.database.metadata.name is required',
    });
    fake.answers.set('POST /v1/certs/user', { status: 200, body: JSON.stringify({ sshCert: 'x', tlsCert: 7, tlsCaCerts: [], sshCaKeys: [] }) });
    const request = { user: 'alice', sshPublicKey: 'k', tlsPublicKey: 'k' };
    await expect(client.generateUserCerts(request)).rejects.toMatchObject({ kind: 'bad-parameter', message: 'response of POST /v1/certs/user: tlsCert must be a string' });
    fake.answers.set('GET /v1/ping', { status: 200, body: 'not json' });
    await expect(client.ping()).rejects.toMatchObject({ kind: 'connection-problem', message: `unexpected response from ${fake.addr}: HTTP 200` });
  });

  it("keeps the server's error kind and code", async () => {
    const error = { kind: 'access-denied', code: 'ERR_TP_LOCKED', message: 'user alice is locked' };
    fake.answers.set('GET /v1/roles/dev', { status: 403, body: JSON.stringify({ error }) });
    await expect(client.getRole('dev')).rejects.toMatchObject(error);
  });

  it('stops reading an answer over 64 MiB and says so in one line; the client keeps working', async () => {
    fake.answers.set('GET /v1/nodes', { status: 200, body: `{"items":[${' '.repeat(MAX_RESPONSE_BYTES)}]}` });
    await expect(client.getNodes()).rejects.toMatchObject({
      kind: 'limit-exceeded',
      code: 'ERR_TP_RESPONSE_TOO_LARGE',
      message: `the answer from ${fake.addr} is larger than 64 MiB`,
    });
    fake.answers.set('GET /v1/clustername', { status: 200, body: JSON.stringify({ clusterName: 'example.com' }) });
    expect(await client.getClusterName()).toBe('example.com');
  });

  it('names the peer in network failures', async () => {
    const closed = newAuthClient({ addr: '127.0.0.1:1', tls: { ca: [fake.caCert] }, peer: 'proxy 127.0.0.1:1', hints: { refused: 'is the proxy running?' } });
    await expect(closed.ping()).rejects.toMatchObject({ kind: 'connection-problem', message: 'failed to connect to proxy 127.0.0.1:1: connection refused', hint: 'is the proxy running?' });
    await closed.close();
    const untrusted = newAuthClient({ addr: fake.addr, tls: { ca: [] }, hints: { verify: 'log in again' } });
    await expect(untrusted.ping()).rejects.toMatchObject({ kind: 'connection-problem', hint: 'log in again' });
    await expect(untrusted.ping()).rejects.toThrow(new RegExp(`^failed to verify the TLS certificate of ${fake.addr}: `));
    await untrusted.close();
  });
});
