import { readFile, mkdtemp, rm } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestPki } from '@teleport-ts/testkit';
import { proxyTextRequest, type ProxyTarget } from './webclient.js';

describe('proxyTextRequest', () => {
  let dir: string;
  let server: https.Server;
  let target: ProxyTarget;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'tsh-webclient-'));
    const pki = await makeTestPki(dir);
    server = https.createServer({ key: await readFile(pki.serverKey), cert: await readFile(pki.serverCert) }, (req, res) => {
      if (req.url === '/big') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('x'.repeat(200 * 1024));
      } else if (req.url === '/bad') {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { kind: 'bad-parameter', code: 'ERR_TP_BAD_PARAMETER', message: 'unsupported type "x"' } }));
      } else {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('hello\n');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    target = { host: '127.0.0.1', port, addr: `127.0.0.1:${port}` };
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a text answer, verifying the certificate unless insecure', async () => {
    expect(await proxyTextRequest(target, '/ok', { insecure: true, maxBytes: 1024 })).toBe('hello\n');
    await expect(proxyTextRequest(target, '/ok', { insecure: false, maxBytes: 1024 })).rejects.toMatchObject({ code: 'ERR_TP_TLS_UNTRUSTED' });
  });

  it('refuses an answer over maxBytes, and returns the proxy error kind', async () => {
    await expect(proxyTextRequest(target, '/big', { insecure: true, maxBytes: 64 * 1024 })).rejects.toMatchObject({ kind: 'limit-exceeded', message: `the answer from proxy ${target.addr} is larger than 65536 bytes` });
    await expect(proxyTextRequest(target, '/bad', { insecure: true, maxBytes: 1024 })).rejects.toMatchObject({ kind: 'bad-parameter', message: 'unsupported type "x"' });
  });
});
