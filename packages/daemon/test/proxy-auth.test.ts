/** The proxy next to a real auth server: its in-process Proxy identity, the auth API through the one port, logins. */

import https from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH_SERVER_NAME, AUTH_VIA_PROXY_ALPN, newAuthClient } from '@teleport-ts/core/api';
import { BALANCED_V1, generateKeyPair, parseIdentity, parseSshCertificate } from '@teleport-ts/core/ca';
import { parseRole } from '@teleport-ts/core/types';
import { nopLoggerForTests } from './proxy-helpers.js';
import { startTestAuth, type TestAuth } from './auth-helpers.js';
import { colocatedProxyIdentity, startProxyRole, type ProxyService } from '../src/roles/proxy/index.js';

function call(
  proxy: ProxyService,
  method: string,
  path: string,
  body?: unknown,
  tls: https.RequestOptions = {},
): Promise<{ status: number; json: any; localPort: number }> {
  const port = Number(proxy.addr.split(':').pop());
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port, method, path, agent: false, rejectUnauthorized: false, headers: body === undefined ? {} : { 'content-type': 'application/json' }, ...tls },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        const localPort = res.socket.localPort ?? 0;
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: text.startsWith('{') ? JSON.parse(text) : text, localPort }));
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

describe('proxy with a co-located auth server', () => {
  let t: TestAuth;
  let proxy: ProxyService;
  beforeAll(async () => {
    t = await startTestAuth({ authentication: { second_factor: 'off' } });
    proxy = await startProxyRole({
      dataDir: t.dataDir,
      nodename: 'proxy-test',
      proxy: { listenAddr: '127.0.0.1:0', publicAddrs: [] },
      auth: t.auth,
      join: { caPins: [] },
      clock: t.clock,
      logger: nopLoggerForTests,
    });
  });
  afterAll(async () => {
    await proxy?.close();
    await t?.close();
  });

  it('holds a Proxy host identity issued by the host CA', async () => {
    const identity = await colocatedProxyIdentity(t.auth, t.auth.dialAddr);
    const parsed = parseIdentity(identity.cert);
    expect(parsed.roles).toEqual(['Proxy']);
    expect(parsed.username).toBe(`${t.auth.hostUuid}.test.example.com`);
  });

  it('answers ping with the cluster and its second factor', async () => {
    const res = await call(proxy, 'GET', '/webapi/ping');
    expect(res.json).toMatchObject({ cluster_name: 'test.example.com', auth: { second_factor: 'off' }, proxy: { tls_routing_enabled: true } });
  });

  it('passes teleport-auth through to the auth API, where the admin certificate is verified', async () => {
    const { adminIdentity } = t;
    const tls = { ca: adminIdentity.caCerts, cert: adminIdentity.cert, key: adminIdentity.key, servername: AUTH_SERVER_NAME, rejectUnauthorized: true };
    const through = await call(proxy, 'GET', '/v1/clustername', undefined, { ...tls, ALPNProtocols: ['teleport-auth', 'http/1.1'] } as https.RequestOptions);
    expect(through).toMatchObject({ status: 200, json: { clusterName: 'test.example.com' } });
    // Without the ALPN protocol the same request reaches the proxy's own web server, which has no such route.
    const web = await call(proxy, 'GET', '/v1/clustername');
    expect(web.status).toBe(404);
  });

  it('hands teleport-auth connections to the auth server of its process, which sees each client by its own address', async () => {
    // Spliced over loopback, every client would reach the auth server from the proxy's address, and share its
    // per-address limits (a fleet of agents behind one proxy meets the cap of connections still in their handshake).
    const client = newAuthClient({ addr: proxy.addr, identity: t.adminIdentity, alpnProtocols: AUTH_VIA_PROXY_ALPN, localAddress: '127.0.0.2' });
    try {
      const [ssh, tls] = await Promise.all([generateKeyPair(BALANCED_V1['ssh-user']), generateKeyPair(BALANCED_V1['tls-user'])]);
      await expect(client.authenticateUser({ user: 'nobody-local', password: 'x', sshPublicKey: ssh.sshPublicKey, tlsPublicKey: tls.publicKeyPem })).rejects.toMatchObject({ code: 'ERR_TP_INVALID_CREDENTIALS' });
      const { events } = await t.admin.searchEvents({ from: new Date(0), to: new Date(t.clock.now().getTime() + 3_600_000), eventTypes: ['user.login'], limit: 100, order: 'desc' });
      expect(events.find((e) => e['user'] === 'nobody-local')).toMatchObject({ 'addr.remote': '127.0.0.2' });
    } finally {
      await client.close();
    }
  });

  it("completes an invite and logs in through the proxy, the TTL capped by the role's max_session_ttl", async () => {
    await t.admin.createRole(parseRole({ kind: 'role', version: 'v7', metadata: { name: 'short' }, spec: { options: { max_session_ttl: '1h' }, allow: { logins: ['{{internal.logins}}'] } } }));
    const { token } = await t.admin.createUser({ name: 'erin', roles: ['short'], logins: ['erin'] });
    const lookup = await call(proxy, 'GET', `/v1/webapi/users/password/token/${token.id}`);
    expect(lookup.json).toMatchObject({ user: 'erin', kind: 'invite' });
    expect(lookup.json.totp).toBeUndefined();
    const done = await call(proxy, 'PUT', '/v1/webapi/users/password/token', { token: token.id, password: 'correct horse battery' });
    expect(done).toMatchObject({ status: 200, json: { user: 'erin' } });

    const [ssh, tls] = await Promise.all([generateKeyPair(BALANCED_V1['ssh-user']), generateKeyPair(BALANCED_V1['tls-user'])]);
    const login = (ttlNs?: number) =>
      call(proxy, 'POST', '/v1/webapi/ssh/certs', {
        user: 'erin',
        password: 'correct horse battery',
        pub_key: ssh.sshPublicKey,
        tls_pub_key: tls.publicKeyPem,
        ...(ttlNs !== undefined ? { ttl: ttlNs } : {}),
      });
    const now = t.clock.now().getTime() / 1000;
    for (const [ttlNs, expectSeconds] of [
      [12 * 3600e9, 3600],
      [undefined, 3600],
      [10 * 60e9, 600],
    ] as const) {
      const res = await login(ttlNs);
      expect(res.status).toBe(200);
      const cert = parseSshCertificate(res.json.cert);
      expect(cert.keyId).toBe('erin');
      expect(Number(cert.validBefore) - now).toBeCloseTo(expectSeconds, -1);
      expect(parseIdentity(res.json.tls_cert).username).toBe('erin');
      expect(res.json.host_signers[0]).toMatchObject({ domain_name: 'test.example.com' });
      expect(res.json.host_signers[0].tls_certs[0]).toMatch(/^-----BEGIN CERTIFICATE-----/);
    }
    const wrong = await call(proxy, 'POST', '/v1/webapi/ssh/certs', { user: 'erin', password: 'nope', pub_key: ssh.sshPublicKey, tls_pub_key: tls.publicKeyPem });
    expect(wrong.status).toBe(403);
    expect(wrong.json.error.message).toBe('invalid username, password or second factor');

    // The login events carry the user's address (the port of this client's connection), not the proxy's.
    const ok = await login();
    const { events } = await t.admin.searchEvents({ from: new Date(0), to: new Date(t.clock.now().getTime() + 3_600_000), eventTypes: ['user.login'], limit: 100, order: 'asc' });
    const erin = events.filter((e) => e['user'] === 'erin');
    expect(erin.find((e) => e['code'] === 'T1000W')).toMatchObject({ 'addr.remote': `127.0.0.1:${wrong.localPort}`, error: 'invalid password' });
    const successes = erin.filter((e) => e['code'] === 'T1000I').map((e) => e['addr.remote']);
    expect(successes).toHaveLength(4);
    expect(successes).toContain(`127.0.0.1:${ok.localPort}`);
    for (const addr of successes) expect(addr).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it('lets only the Proxy report a client address, and only a well-formed IP:port', async () => {
    const proxyClient = newAuthClient({ addr: t.auth.dialAddr, identity: await colocatedProxyIdentity(t.auth, t.auth.dialAddr) });
    try {
      const [ssh, tls] = await Promise.all([generateKeyPair(BALANCED_V1['ssh-user']), generateKeyPair(BALANCED_V1['tls-user'])]);
      const request = { user: 'nobody', password: 'x', sshPublicKey: ssh.sshPublicKey, tlsPublicKey: tls.publicKeyPem };
      for (const clientAddr of ['203.0.113.7', '203.0.113.7:0', '2001:db8::7:51234', '[203.0.113.7]:1', 'example.com:443', '[2001:db8::7]:70000']) {
        await expect(proxyClient.authenticateUser({ ...request, clientAddr })).rejects.toMatchObject({ kind: 'bad-parameter' });
      }
      await expect(proxyClient.authenticateUser({ ...request, clientAddr: '[2001:db8::7]:51234' })).rejects.toMatchObject({ code: 'ERR_TP_INVALID_CREDENTIALS' });
      await expect(t.admin.authenticateUser({ ...request, clientAddr: '203.0.113.7:51234' })).rejects.toMatchObject({
        kind: 'access-denied',
        message: 'access denied: only the Proxy may report a client address',
      });
      const { events } = await t.admin.searchEvents({ from: new Date(0), to: new Date(t.clock.now().getTime() + 3_600_000), eventTypes: ['user.login'], limit: 100, order: 'desc' });
      expect(events.find((e) => e['user'] === 'nobody')).toMatchObject({ 'addr.remote': '[2001:db8::7]:51234', error: 'user not found' });
    } finally {
      await proxyClient.close();
    }
  });
});
