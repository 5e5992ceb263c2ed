/**
 * One JSON (or text) request over node:https, shared by the auth API client and tsh's proxy web client: the body parsed for
 * 2xx, the server's `{ error: { kind, code, message } }` rethrown as the same error kind, anything else one
 * connection-problem line naming the peer. node:https (not undici) keeps a client's start-up light.
 */

import type { IncomingMessage } from 'node:http';
import https from 'node:https';
import { ConnectionProblemError, fromWireError, isTeleportError, LimitExceededError, type WireError } from '../errors/index.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** Default per-request timeout: no progress for this long (connecting, waiting for headers, reading the body) fails. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/** Connecting (TCP and the TLS handshake) fails after at most this long, as undici's default did. */
const CONNECT_TIMEOUT_MS = 10_000;

/** Input of {@link requestJson}. */
export interface JsonRequest {
  host: string;
  port: number;
  method: HttpMethod;
  /** Path and query. */
  path: string;
  /** Sent as JSON when present. */
  body?: unknown;
  /** A keep-alive agent holding the TLS settings, or `false` for one connection with `tls`. */
  agent: https.Agent | false;
  /** TLS settings of a request without an agent (`rejectUnauthorized`, `servername`...). */
  tls?: Pick<https.RequestOptions, 'rejectUnauthorized' | 'servername' | 'ca' | 'cert' | 'key'>;
  timeoutMs?: number;
  /** How the server is named in errors, e.g. `proxy host:3080`. */
  peer: string;
  /** Maps a network or TLS failure to the error the caller reports. */
  networkError: (err: NodeJS.ErrnoException) => Error;
}

/**
 * Sends one request and reads its JSON answer (`undefined` for an empty body).
 *
 * @example
 * ```ts
 * const ping = await requestJson({ host, port, method: 'GET', path: '/webapi/ping', agent: false, peer: `proxy ${addr}`, networkError });
 * ```
 */
export function requestJson(request: JsonRequest): Promise<unknown> {
  return sendRequest(request, 'application/json', (res) => readResponse(res, request.peer, MAX_RESPONSE_BYTES, 'json'));
}

/** Input of {@link requestText}: a GET of a text answer, at most `maxBytes` long. */
export interface TextRequest extends Omit<JsonRequest, 'method' | 'body'> {
  maxBytes: number;
}

/**
 * Sends one GET and reads its text answer (the proxy's `/webapi/auth/export`); failures as {@link requestJson}'s,
 * an answer over `maxBytes` refused without being read to its end.
 *
 * @example
 * ```ts
 * const lines = await requestText({ host, port, path: '/webapi/auth/export?type=host', agent: false, maxBytes: 65_536, peer, networkError });
 * ```
 */
export function requestText(request: TextRequest): Promise<string> {
  return sendRequest({ ...request, method: 'GET' }, 'text/plain', (res) => readResponse(res, request.peer, request.maxBytes, 'text') as Promise<string>);
}

function sendRequest<T>(request: JsonRequest, accept: string, read: (res: IncomingMessage) => Promise<T>): Promise<T> {
  const payload = request.body === undefined ? undefined : JSON.stringify(request.body);
  const timeoutMs = request.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  return new Promise<T>((resolve, reject) => {
    const req = https.request(
      {
        host: request.host,
        port: request.port,
        method: request.method,
        path: request.path,
        agent: request.agent,
        ...request.tls,
        timeout: timeoutMs,
        headers: {
          accept,
          ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
        },
      },
      (res) => {
        // A stream failure while reading is a network failure; what the server said keeps its kind.
        read(res).then(resolve, (err: unknown) => reject(isTeleportError(err) ? err : request.networkError(err as NodeJS.ErrnoException)));
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    req.on('socket', (socket) => {
      if (!socket.connecting) return; // a kept-alive connection, already up
      const timer = setTimeout(
        () => req.destroy(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' })),
        Math.min(timeoutMs, CONNECT_TIMEOUT_MS),
      );
      socket.once('secureConnect', () => clearTimeout(timer));
      socket.once('close', () => clearTimeout(timer));
    });
    req.on('error', (err) => reject(request.networkError(err)));
    req.end(payload);
  });
}

/**
 * The largest JSON answer read: a listing of 10,000 nodes is about 2.5 MB, so this leaves room for clusters a hundred
 * times larger while a broken or hostile server cannot make a client hold an unbounded body.
 */
export const MAX_RESPONSE_BYTES = 64 << 20;

const sizeText = (bytes: number): string => (bytes % (1 << 20) === 0 ? `${bytes >> 20} MiB` : `${bytes} bytes`);

/** Reads an answer whole: a 2xx body as JSON or text; any other status as the server's error, or one line naming it. */
function readResponse(res: IncomingMessage, peer: string, maxBytes: number, as: 'json' | 'text'): Promise<unknown> {
  return new Promise<unknown>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= maxBytes) {
        chunks.push(c);
        return;
      }
      chunks.length = 0;
      res.destroy();
      reject(new LimitExceededError(`the answer from ${peer} is larger than ${sizeText(maxBytes)}`, { code: 'ERR_TP_RESPONSE_TOO_LARGE' }));
    });
    res.on('error', reject);
    res.on('end', () => {
      const status = res.statusCode ?? 0;
      const ok = status >= 200 && status < 300;
      const unexpected = (): Error => new ConnectionProblemError(`unexpected response from ${peer}: HTTP ${status}`);
      const text = Buffer.concat(chunks).toString('utf8');
      if (ok && as === 'text') {
        resolve(text);
        return;
      }
      let parsed: unknown;
      try {
        parsed = text === '' ? undefined : JSON.parse(text);
      } catch {
        reject(unexpected());
        return;
      }
      if (ok) {
        resolve(parsed);
        return;
      }
      const wire = (parsed as { error?: WireError } | undefined)?.error;
      reject(wire && typeof wire.kind === 'string' && typeof wire.message === 'string' ? fromWireError(wire) : unexpected());
    });
  });
}

/** Longest line a JSON-lines stream may send (an access request is a few KiB). */
const MAX_STREAM_LINE_BYTES = 1 << 20;

/** Input of {@link requestJsonLines}: a GET whose answer is NDJSON, until `signal` aborts or the server ends it. */
export interface JsonLinesRequest extends Omit<JsonRequest, 'method' | 'body'> {
  signal: AbortSignal;
}

/** Sends the GET; resolves with the response once a 2xx head arrived, else rejects with the server's error. */
function openStream(request: JsonLinesRequest): Promise<IncomingMessage> {
  return new Promise<IncomingMessage>((resolve, reject) => {
    const req = https.request(
      {
        host: request.host,
        port: request.port,
        method: 'GET',
        path: request.path,
        agent: request.agent,
        ...request.tls,
        timeout: request.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
        signal: request.signal,
        headers: { accept: 'application/x-ndjson' },
      },
      (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) resolve(res);
        else readResponse(res, request.peer, MAX_RESPONSE_BYTES, 'json').then(() => reject(new ConnectionProblemError(`unexpected response from ${request.peer}: HTTP ${status}`)), reject);
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    req.on('error', (err) => reject(request.networkError(err)));
    req.end();
  });
}

/**
 * Streams a JSON-lines answer: each line parsed, in order. Ends when the server ends the response or `signal` aborts;
 * a broken connection, a silent server (no line within the timeout) or a malformed line is an error.
 *
 * @example
 * ```ts
 * for await (const line of requestJsonLines({ host, port, path: '/v1/accessrequests/watch', agent, signal, peer, networkError })) use(line);
 * ```
 */
export async function* requestJsonLines(request: JsonLinesRequest): AsyncGenerator<unknown> {
  if (request.signal.aborted) return;
  let res: IncomingMessage;
  try {
    res = await openStream(request);
  } catch (err) {
    if (request.signal.aborted) return;
    throw err;
  }
  res.setEncoding('utf8');
  let buffered = '';
  try {
    for await (const chunk of res as AsyncIterable<string>) {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (line !== '') yield parseLine(line, request.peer);
      }
      if (buffered.length > MAX_STREAM_LINE_BYTES) throw new ConnectionProblemError(`${request.peer} sent a line longer than ${MAX_STREAM_LINE_BYTES} bytes`);
    }
  } catch (err) {
    if (request.signal.aborted) return;
    throw isTeleportError(err) ? err : request.networkError(err as NodeJS.ErrnoException);
  } finally {
    res.destroy();
  }
}

function parseLine(line: string, peer: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    throw new ConnectionProblemError(`malformed line in the stream from ${peer}`);
  }
}
