import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AuthenticateUserRequest, CompleteUserTokenRequest, PingResponse, UserCerts, UserTokenDetails } from '@teleport-ts/core/api';
import { generateTotp, newTotpSecret, totpUrl } from '@teleport-ts/core/authn';
import { newCertAuthority, type CertAuthority } from '@teleport-ts/core/ca';
import { systemClock } from '@teleport-ts/core/clock';
import { AccessDeniedError, BadParameterError, NotFoundError } from '@teleport-ts/core/errors';
import { makeTestPki, type TestPki } from '@teleport-ts/testkit';
import { startProxyService, type ProxyAuthApi, type ProxyService } from '../src/roles/proxy/index.js';

/** The cluster's host CA mid-rotation (a second trusted key), its user CA, and a host CA of another cluster. */
const hostCa = await newCertAuthority({ clusterName: 'example.com', type: 'host', clock: systemClock });
const nextHostCa = await newCertAuthority({ clusterName: 'example.com', type: 'host', clock: systemClock });
const rotatingHostCa: CertAuthority = { ...hostCa, spec: { ...hostCa.spec, additional_trusted_keys: nextHostCa.spec.active_keys } };
const userCa = await newCertAuthority({ clusterName: 'example.com', type: 'user', clock: systemClock });
const foreignHostCa = await newCertAuthority({ clusterName: 'leaf.example.com', type: 'host', clock: systemClock });
const sshKeyOf = (ca: CertAuthority): string => ca.spec.active_keys.ssh[0]!.public_key.split(' ').slice(0, 2).join(' ');

/** An auth API double that records what the proxy forwards. */
function fakeAuth(secondFactor: 'otp' | 'off' = 'otp') {
  const secret = newTotpSecret();
  const calls: { authenticate: AuthenticateUserRequest[]; complete: CompleteUserTokenRequest[] } = { authenticate: [], complete: [] };
  const auth: ProxyAuthApi = {
    getCertAuthorities: async (type) => (type === 'host' ? [rotatingHostCa, foreignHostCa] : type === 'user' ? [userCa] : []),
    ping: async (): Promise<PingResponse> => ({ clusterName: 'example.com', serverVersion: '0.1.0', authPreference: { type: 'local', secondFactor } }),
    getUserToken: async (id): Promise<UserTokenDetails> => {
      if (id !== 'good-token') throw new NotFoundError('user token is not found or has expired');
      return {
        user: 'alice',
        kind: 'invite',
        expires: new Date(Date.now() + 3600_000).toISOString(),
        ...(secondFactor === 'otp' ? { totp: { secret, url: totpUrl({ secret, issuer: 'example.com', account: 'alice' }) } } : {}),
      };
    },
    completeUserToken: async (req) => {
      calls.complete.push(req);
      if (req.password.length < 12) throw new BadParameterError('password must be at least 12 characters long');
      return { user: 'alice' };
    },
    authenticateUser: async (req): Promise<UserCerts & { username: string }> => {
      calls.authenticate.push(req);
      if (req.password !== 'correct horse battery') throw new AccessDeniedError('invalid username, password or second factor');
      return { username: req.user, sshCert: 'ssh-ed25519-cert-v01@openssh.com AAAA', tlsCert: 'TLS', tlsCaCerts: ['CA'], sshCaKeys: ['ssh-ed25519 BBBB'] };
    },
  };
  return { auth, calls, secret };
}

const dirs: string[] = [];
const services: ProxyService[] = [];
afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), 'tp-proxy-'));
  dirs.push(d);
  return d;
}

async function start(extra: Partial<Parameters<typeof startProxyService>[0]> = {}) {
  const fake = fakeAuth();
  const proxy = await startProxyService({
    config: { version: 'v3', teleport: {} },
    authClient: fake.auth,
    listenAddr: '127.0.0.1:0',
    clock: systemClock,
    ...extra,
  });
  services.push(proxy);
  return { proxy, ...fake };
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: () => any;
}

function request(proxy: ProxyService, method: string, urlPath: string, body?: unknown, tlsOptions: https.RequestOptions = {}): Promise<Reply> {
  const [host, port] = [proxy.addr.slice(0, proxy.addr.lastIndexOf(':')), Number(proxy.addr.slice(proxy.addr.lastIndexOf(':') + 1))];
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host, port, method, path: urlPath, rejectUnauthorized: false, agent: false, headers: body === undefined ? {} : { 'content-type': 'application/json' }, ...tlsOptions },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) }));
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

function tlsConnect(proxy: ProxyService, options: tls.ConnectionOptions): Promise<tls.TLSSocket> {
  const port = Number(proxy.addr.split(':').pop());
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options }, () => resolve(s));
    s.once('error', reject);
  });
}

describe('proxy web API', () => {
  it('answers ping on both paths with Teleport fields', async () => {
    const { proxy } = await start();
    for (const p of ['/webapi/ping', '/v1/webapi/ping']) {
      const res = await request(proxy, 'GET', p);
      expect(res.status).toBe(200);
      const body = res.json();
      expect(body).toMatchObject({
        auth: { type: 'local', second_factor: 'otp', local: { name: '' } },
        proxy: { tls_routing_enabled: true },
        cluster_name: 'example.com',
      });
      expect(body.server_version).toMatch(/^\d+\.\d+\.\d+/);
      expect(body.min_client_version).toMatch(/^\d+\.0\.0$/);
      expect(res.headers['cache-control']).toBe('no-store');
    }
  });

  it('forwards logins to the auth server with the TTL in ms, default 12 h, clamped to 30 h', async () => {
    const { proxy, calls } = await start();
    const login = { user: 'alice', password: 'correct horse battery', otp_token: '123456', pub_key: 'ssh-ed25519 AAAA alice', tls_pub_key: 'PEM' };
    const ok = await request(proxy, 'POST', '/v1/webapi/ssh/certs', { ...login, ttl: 3600 * 1e9 });
    expect(ok.status).toBe(200);
    expect(ok.json()).toEqual({
      username: 'alice',
      cert: 'ssh-ed25519-cert-v01@openssh.com AAAA',
      tls_cert: 'TLS',
      host_signers: [{ domain_name: 'example.com', checking_keys: ['ssh-ed25519 BBBB'], tls_certs: ['CA'] }],
    });
    await request(proxy, 'POST', '/webapi/ssh/certs', login);
    await request(proxy, 'POST', '/webapi/ssh/certs', { ...login, ttl: 1e9 * 3600 * 100 });
    expect(calls.authenticate.map((c) => c.ttl)).toEqual([3600_000, 12 * 3600_000, 30 * 3600_000]);
    expect(calls.authenticate[0]).toMatchObject({ user: 'alice', otp: '123456', sshPublicKey: 'ssh-ed25519 AAAA alice', tlsPublicKey: 'PEM' });
    // The user's address, for the auth server's login audit.
    expect(calls.authenticate[0]!.clientAddr).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it('returns the auth server error kinds unchanged and refuses malformed requests', async () => {
    const { proxy } = await start();
    const denied = await request(proxy, 'POST', '/v1/webapi/ssh/certs', { user: 'alice', password: 'nope', pub_key: 'k', tls_pub_key: 'k' });
    expect(denied.status).toBe(403);
    expect(denied.json().error).toMatchObject({ kind: 'access-denied', message: 'invalid username, password or second factor' });
    const missing = await request(proxy, 'POST', '/v1/webapi/ssh/certs', { user: 'alice' });
    expect(missing.status).toBe(400);
    expect(missing.json().error.message).toBe('missing password');
    const notJson = await request(proxy, 'POST', '/v1/webapi/ssh/certs', ['x']);
    expect(notJson.status).toBe(400);
    const unknown = await request(proxy, 'GET', '/v1/webapi/nope');
    expect(unknown.status).toBe(404);
  });

  it('answers /favicon.ico with an empty 204, not a 404', async () => {
    const { proxy } = await start();
    for (const method of ['GET', 'HEAD']) {
      const res = await request(proxy, method, '/favicon.ico');
      expect(res.status).toBe(204);
      expect(res.text).toBe('');
    }
    expect((await request(proxy, 'GET', '/favicon.png')).status).toBe(404);
  });

  it('rate-limits the unauthenticated endpoints that check a secret per source address; ping stays open', async () => {
    const { proxy } = await start({ rateLimit: { average: 0.001, burst: 3 } });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await request(proxy, 'POST', '/v1/webapi/ssh/certs', {})).status);
    statuses.push((await request(proxy, 'GET', '/webapi/users/password/token/some-token')).status);
    expect(statuses).toEqual([400, 400, 400, 429]);
    const limited = await request(proxy, 'POST', '/v1/webapi/ssh/certs', {});
    expect(limited.json().error.kind).toBe('limit-exceeded');
    expect((await request(proxy, 'GET', '/web/invite/some-token')).status).toBe(429);
    // Every tsh command that reaches the proxy starts with a ping: it is cached and checks nothing.
    for (let i = 0; i < 10; i++) expect((await request(proxy, 'GET', '/webapi/ping')).status).toBe(200);
  });
});

describe('public CA export', () => {
  const hostLines = `@cert-authority example.com,*.example.com ${sshKeyOf(hostCa)} type=host\n@cert-authority example.com,*.example.com ${sshKeyOf(nextHostCa)} type=host\n`;
  const userLines = `cert-authority ${sshKeyOf(userCa)} clustername=example.com&type=user\n`;

  it('serves the host CA keys (both during a rotation), the user CA keys, the TLS certificates, without authentication', async () => {
    const { proxy } = await start();
    for (const prefix of ['/webapi', '/v1/webapi']) {
      const host = await request(proxy, 'GET', `${prefix}/auth/export?type=host`);
      expect(host.status).toBe(200);
      expect(host.headers['content-type']).toBe('text/plain; charset=utf-8');
      expect(host.text).toBe(hostLines);
    }
    expect((await request(proxy, 'GET', '/webapi/auth/export?type=user')).text).toBe(userLines);
    expect((await request(proxy, 'GET', '/webapi/auth/export')).text).toBe(hostLines + userLines);
    for (const type of ['tls', 'tls-host']) {
      expect((await request(proxy, 'GET', `/webapi/auth/export?type=${type}`)).text).toBe(hostCa.spec.active_keys.tls[0]!.cert.replace(/\n?$/, '\n'));
    }
  });

  it('refuses an unknown type with a one-line 400 in the API error shape', async () => {
    const { proxy } = await start();
    const res = await request(proxy, 'GET', `/webapi/auth/export?type=${'x'.repeat(500)}`);
    expect(res.status).toBe(400);
    const error = res.json().error;
    expect(error).toMatchObject({ kind: 'bad-parameter' });
    expect(error.message).toBe(`unsupported type "${'x'.repeat(64)}", use one of: host, user, tls, tls-host`);
    expect(error.message).not.toContain('\n');
    expect((await request(proxy, 'GET', '/webapi/auth/export?type=db')).status).toBe(400);
  });

  it('reads the CAs from caReads when given, and is rate-limited per address', async () => {
    const calls: string[] = [];
    const { proxy } = await start({
      rateLimit: { average: 0.001, burst: 2 },
      caReads: { getCertAuthorities: async (type) => (calls.push(type), type === 'host' ? [hostCa] : []) },
    });
    expect((await request(proxy, 'GET', '/webapi/auth/export?type=host')).text).toBe(`@cert-authority example.com,*.example.com ${sshKeyOf(hostCa)} type=host\n`);
    expect(calls).toEqual(['host']);
    expect((await request(proxy, 'GET', '/webapi/auth/export?type=host')).status).toBe(200);
    const limited = await request(proxy, 'GET', '/webapi/auth/export?type=host');
    expect(limited.status).toBe(429);
    expect(limited.json().error.kind).toBe('limit-exceeded');
  });
});

describe('invite and reset pages', () => {
  it('serves the invite page under a strict CSP with the QR code, the secret and labelled fields', async () => {
    const { proxy, secret } = await start();
    const res = await request(proxy, 'GET', '/web/invite/good-token');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    const csp = String(res.headers['content-security-policy']);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'/);
    expect(csp).not.toContain('unsafe-inline');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.text).toContain('<svg');
    expect(res.text).toContain(`data-secret="${secret}"`);
    for (const label of ['Password', 'Confirm password', 'Authenticator code']) expect(res.text).toContain(`>${label}</label>`);
    expect(res.text).not.toMatch(/ style="/); // inline style attributes would be blocked by the CSP
  });

  it('leaves the authenticator part out when second_factor is off', async () => {
    const fake = fakeAuth('off');
    const { proxy } = await start({ authClient: fake.auth });
    const res = await request(proxy, 'GET', '/web/reset/good-token');
    expect(res.status).toBe(200);
    expect(res.text).not.toContain('<svg');
    expect(res.text).not.toContain('Authenticator code');
    expect(res.text).toContain('>Confirm password</label>');
  });

  it('says an expired or unknown link has expired', async () => {
    const { proxy } = await start();
    const res = await request(proxy, 'GET', '/web/invite/expired-token');
    expect(res.status).toBe(404);
    expect(res.text).toContain('This link has expired or is not valid.');
  });

  it('exposes the token lookup and completion as JSON', async () => {
    const { proxy, calls, secret } = await start();
    const lookup = await request(proxy, 'GET', '/v1/webapi/users/password/token/good-token');
    expect(lookup.json()).toMatchObject({ user: 'alice', kind: 'invite', totp: { secret } });
    const code = generateTotp(secret, new Date());
    const done = await request(proxy, 'PUT', '/v1/webapi/users/password/token', { token: 'good-token', password: 'a long enough password', second_factor_token: code });
    expect(done.status).toBe(200);
    expect(done.json()).toEqual({ user: 'alice' });
    expect(calls.complete[0]).toEqual({ tokenId: 'good-token', password: 'a long enough password', otpCode: code });
    const weak = await request(proxy, 'PUT', '/v1/webapi/users/password/token', { token: 'good-token', password: 'short' });
    expect(weak.status).toBe(400);
    expect(weak.json().error.message).toMatch(/at least 12 characters/);
  });
});

describe('ALPN routing on the one port', () => {
  let pki: TestPki;
  beforeAll(async () => {
    pki = await makeTestPki(path.join(await tempDir(), 'pki'), { clientCommonName: 'alice' });
  });

  it('passes teleport-auth through untouched, so the client certificate reaches the auth server', async () => {
    // A stand-in auth server that requires and reports the client certificate.
    const [ca, cert, key, clientCert, clientKey] = await Promise.all(
      [pki.caCert, pki.serverCert, pki.serverKey, pki.clientCert, pki.clientKey].map((f) => readFile(f, 'utf8')),
    );
    const authServer = https.createServer({ ca, cert, key, requestCert: true, rejectUnauthorized: true }, (req, res) => {
      const peer = (req.socket as tls.TLSSocket).getPeerCertificate();
      res.end(JSON.stringify({ cn: peer.subject?.CN, path: req.url }));
    });
    await new Promise<void>((r) => authServer.listen(0, '127.0.0.1', () => r()));
    try {
      const authPort = (authServer.address() as net.AddressInfo).port;
      const { proxy } = await start({ authAddr: `127.0.0.1:${authPort}` });
      const res = await request(proxy, 'GET', '/v1/ping', undefined, {
        ca,
        cert: clientCert,
        key: clientKey,
        rejectUnauthorized: true,
        servername: 'localhost',
        ALPNProtocols: ['teleport-auth', 'http/1.1'],
      } as https.RequestOptions);
      expect(res.json()).toEqual({ cn: 'alice', path: '/v1/ping' });
    } finally {
      authServer.close();
    }
  });

  it('serves the web API for http/1.1, for h2 + http/1.1 and without ALPN', async () => {
    const { proxy } = await start();
    for (const ALPNProtocols of [['http/1.1'], ['h2', 'http/1.1'], undefined]) {
      const socket = await tlsConnect(proxy, ALPNProtocols ? { ALPNProtocols } : {});
      expect(socket.alpnProtocol).toBe(ALPNProtocols ? 'http/1.1' : false);
      socket.write('GET /webapi/ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      const text = await new Promise<string>((r) => {
        let t = '';
        socket.on('data', (c: Buffer) => (t += c.toString()));
        socket.on('end', () => r(t));
      });
      expect(text).toMatch(/^HTTP\/1.1 200 OK/);
      expect(text).toContain('"tls_routing_enabled":true');
    }
  });

  it('hands terminated connections of a registered protocol to its handler', async () => {
    const { proxy } = await start();
    const remove = proxy.registry.register({
      protocol: 'teleport-postgres',
      tls: 'terminate',
      handle: (socket, info) => {
        socket.end(`hello ${socket.alpnProtocol} ${info.hello.serverName ?? '-'}`);
      },
    });
    expect(proxy.registry.protocols()).toContain('teleport-postgres');
    const socket = await tlsConnect(proxy, { ALPNProtocols: ['teleport-postgres'], servername: 'db.example.com' });
    const text = await new Promise<string>((r) => {
      let t = '';
      socket.on('data', (c: Buffer) => (t += c.toString()));
      socket.on('end', () => r(t));
    });
    expect(text).toBe('hello teleport-postgres db.example.com');
    remove();
    expect(() => proxy.registry.register({ protocol: 'http/1.1', tls: 'terminate', handle: () => {} })).toThrow(TypeError);
    // Once removed, a client offering only that protocol is refused during the handshake.
    await expect(tlsConnect(proxy, { ALPNProtocols: ['teleport-postgres'] })).rejects.toThrow(/no_application_protocol|alert/i);
  });

  it('drops connections that are not TLS, and those that send nothing in time', async () => {
    const { proxy } = await start({ deadlines: { handshakeMs: 300 } });
    const port = Number(proxy.addr.split(':').pop());
    const closedAfter = (payload: string | undefined): Promise<number> =>
      new Promise((resolve) => {
        const t0 = Date.now();
        const s = net.connect({ host: '127.0.0.1', port }, () => {
          if (payload !== undefined) s.write(payload);
        });
        s.on('error', () => {});
        s.on('close', () => resolve(Date.now() - t0));
      });
    expect(await closedAfter('GET / HTTP/1.1\r\nHost: x\r\n\r\n')).toBeLessThan(300);
    expect(await closedAfter(undefined)).toBeGreaterThanOrEqual(250);
  });
});

describe('web certificate', () => {
  it('generates a self-signed certificate once, keeps it in the data dir, and clients that verify refuse it', async () => {
    const dataDir = await tempDir();
    const { proxy } = await start({ dataDir });
    expect(proxy.selfSigned).toBe(true);
    const key = path.join(dataDir, 'webproxy_key.pem');
    expect((await stat(key)).mode & 0o777).toBe(0o600);
    const first = await readFile(path.join(dataDir, 'webproxy_cert.pem'), 'utf8');
    await expect(request(proxy, 'GET', '/webapi/ping', undefined, { rejectUnauthorized: true })).rejects.toThrow(/self[- ]signed|unable to verify|unable to get local issuer/i);
    await proxy.close();
    services.splice(services.indexOf(proxy), 1);
    await start({ dataDir });
    expect(await readFile(path.join(dataDir, 'webproxy_cert.pem'), 'utf8')).toBe(first);
  });

  it('serves the configured https_keypairs', async () => {
    const { proxy } = await start({ httpsKeyPairs: [{ key_file: pki2().serverKey, cert_file: pki2().serverCert }] });
    expect(proxy.selfSigned).toBe(false);
    const ca = await readFile(pki2().caCert, 'utf8');
    const res = await request(proxy, 'GET', '/webapi/ping', undefined, { ca, rejectUnauthorized: true, servername: 'localhost' } as https.RequestOptions);
    expect(res.status).toBe(200);
  });

  it('refuses a key pair that does not match', async () => {
    await expect(start({ httpsKeyPairs: [{ key_file: pki2().clientKey, cert_file: pki2().serverCert }] })).rejects.toThrow(/do not match: the key is not the certificate's key$/);
  });
});

let sharedPki: TestPki | undefined;
function pki2(): TestPki {
  if (!sharedPki) throw new Error('pki not ready');
  return sharedPki;
}
beforeAll(async () => {
  sharedPki = await makeTestPki(path.join(await tempDir(), 'pki2'));
});

describe('logging', () => {
  it('never logs the user token of a path', async () => {
    const { redactTokenPath } = await import('../src/roles/proxy/service.js');
    expect(redactTokenPath('/v1/webapi/users/password/token/abc123')).toBe('/v1/webapi/users/password/token/<token>');
    expect(redactTokenPath('/web/invite/abc123')).toBe('/web/invite/<token>');
    expect(redactTokenPath('/webapi/ping')).toBe('/webapi/ping');
  });
});
