/**
 * How the two HTTP servers (the proxy's web API and the auth API) answer requests that no handler should see:
 * a malformed `%` escape (400, not 500 with a stack trace in the log), a known path with another method (405 and
 * `Allow`), an oversized body (413). Driven with the real `curl -k`, as a user or a scanner would.
 */

import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTool } from '@teleport-ts/testkit';
import { newLogger } from '../src/logger.js';
import { MAX_BODY_BYTES } from '../src/http/router.js';
import { startProxyRole, type ProxyService } from '../src/roles/proxy/index.js';
import { startTestAuth, type TestAuth } from './auth-helpers.js';

const curlTool = requireTool('/usr/bin/curl', 'curl');

interface CurlReply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** One request with curl: `-k` (the test CA is not trusted), HTTP/1.1, `--path-as-is` so the path goes out verbatim. */
function curl(url: string, args: string[] = []): Promise<CurlReply> {
  return new Promise((resolve, reject) => {
    execFile(curlTool.path!, ['-k', '-s', '--http1.1', '--path-as-is', '-D', '-', ...args, url], { maxBuffer: 4 << 20 }, (err, stdout) => {
      // curl may fail to finish sending a body the server refused (exit 55); the answer it read still counts.
      // Skip interim answers (`100 Continue` to curl's `Expect: 100-continue` on large bodies).
      const text = stdout.toString().replace(/^(HTTP\/1\.1 1\d\d [^\r]*\r\n(?:[^\r]+\r\n)*\r\n)+/, '');
      const split = text.indexOf('\r\n\r\n');
      if (split < 0) return reject(err ?? new Error(`no HTTP answer from curl: ${text}`));
      const [statusLine, ...lines] = text.slice(0, split).split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) headers[line.slice(0, line.indexOf(':')).toLowerCase()] = line.slice(line.indexOf(':') + 1).trim();
      resolve({ status: Number(statusLine!.split(' ')[1]), headers, body: text.slice(split + 4) });
    });
  });
}

const STACK_FRAME = /\bat .+\(?[^\s]+:\d+:\d+\)?|"stack"|internal error/;

describe.skipIf(!curlTool.available)('malformed requests to the proxy web API and the auth API', () => {
  let t: TestAuth;
  let proxy: ProxyService;
  const authLog: string[] = [];
  const proxyLog: string[] = [];
  let proxyUrl: string;
  let authUrl: string;
  let bigBody: string;

  beforeAll(async () => {
    const logger = (lines: string[]) => newLogger({ output: '', severity: 'debug', format: 'json', write: (line) => lines.push(line) });
    t = await startTestAuth({ authentication: { second_factor: 'off' }, logger: logger(authLog) });
    proxy = await startProxyRole({
      dataDir: t.dataDir,
      nodename: 'proxy-test',
      proxy: { listenAddr: '127.0.0.1:0', publicAddrs: [] },
      auth: t.auth,
      join: { caPins: [] },
      clock: t.clock,
      logger: logger(proxyLog),
    });
    proxyUrl = `https://${proxy.addr}`;
    authUrl = `https://${t.auth.dialAddr}`;
    bigBody = path.join(t.dataDir, 'big.json');
    await writeFile(bigBody, `"${'x'.repeat(MAX_BODY_BYTES)}"`);
  });
  afterAll(async () => {
    await proxy?.close();
    await t?.close();
  });

  it('answers a malformed % escape with a JSON 400 and logs no stack trace, on both ports', async () => {
    for (const url of [`${proxyUrl}/webapi/users/password/token/%ZZ`, `${proxyUrl}/v1/webapi/users/password/token/%E0%A4%A`, `${authUrl}/v1/users/%ZZ`]) {
      const res = await curl(url);
      expect(res.status, url).toBe(400);
      expect(res.headers['content-type']).toBe('application/json');
      expect(JSON.parse(res.body)).toEqual({ error: { kind: 'bad-parameter', code: 'ERR_TP_MALFORMED_PATH', message: 'malformed percent-encoding in the request path' } });
    }
    expect(proxyLog.filter((l) => STACK_FRAME.test(l))).toEqual([]);
    expect(authLog.filter((l) => STACK_FRAME.test(l))).toEqual([]);
    // The auth server logs each request at debug level: the 400 is there, and nothing else about it.
    expect(authLog.some((l) => l.includes('"status":400'))).toBe(true);
  });

  it('answers a known path with another method 405 and lists the allowed ones', async () => {
    const cases: [string, string, string][] = [
      ['DELETE', `${proxyUrl}/webapi/ping`, 'GET'],
      ['GET', `${proxyUrl}/v1/webapi/users/password/token`, 'PUT'],
      ['PATCH', `${authUrl}/v1/users/alice`, 'GET, PUT, DELETE'],
      ['PUT', `${authUrl}/v1/ping`, 'GET'],
    ];
    for (const [method, url, allow] of cases) {
      const res = await curl(url, ['-X', method]);
      expect(res.status, `${method} ${url}`).toBe(405);
      expect(res.headers['allow']).toBe(allow);
      expect(JSON.parse(res.body).error).toMatchObject({ kind: 'bad-parameter', code: 'ERR_TP_METHOD_NOT_ALLOWED' });
    }
    // An unknown path is still 404.
    expect((await curl(`${proxyUrl}/webapi/nothing`)).status).toBe(404);
  });

  it('answers a body over the cap 413, whether its length is declared or chunked', async () => {
    const json = ['-H', 'content-type: application/json', '--data-binary', `@${bigBody}`];
    for (const [url, method] of [
      [`${proxyUrl}/v1/webapi/users/password/token`, 'PUT'],
      [`${proxyUrl}/v1/webapi/ssh/certs`, 'POST'],
      [`${authUrl}/v1/join`, 'POST'],
    ] as const) {
      for (const extra of [[], ['-H', 'transfer-encoding: chunked']]) {
        const res = await curl(url, ['-X', method, ...json, ...extra]);
        expect(res.status, `${method} ${url} ${extra.join(' ')}`).toBe(413);
        expect(JSON.parse(res.body).error).toMatchObject({ kind: 'limit-exceeded', code: 'ERR_TP_REQUEST_TOO_LARGE' });
      }
    }
    expect(proxyLog.filter((l) => STACK_FRAME.test(l))).toEqual([]);
    expect(authLog.filter((l) => STACK_FRAME.test(l))).toEqual([]);
  });

  it('still serves well-formed requests on the same servers', async () => {
    const ping = await curl(`${proxyUrl}/webapi/ping`);
    expect(ping.status).toBe(200);
    expect(JSON.parse(ping.body)).toMatchObject({ cluster_name: 'test.example.com' });
    const token = await curl(`${proxyUrl}/webapi/users/password/token/${encodeURIComponent('no such token')}`);
    expect(token.status).toBe(404);
  });
});
