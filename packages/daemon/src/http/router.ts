import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  BadParameterError,
  ConnectionProblemError,
  LimitExceededError,
  NotFoundError,
  TeleportError,
  httpStatusOf,
  isTeleportError,
  toWireError,
} from '@teleport-ts/core/errors';

/** Largest JSON request body accepted (1 MiB). */
export const MAX_BODY_BYTES = 1 << 20;

export interface RequestContext<I> {
  identity: I;
  params: Record<string, string>;
  query: URLSearchParams;
  body: unknown;
  remoteAddr: string;
}

export type Handler<I> = (ctx: RequestContext<I>) => Promise<unknown>;

const STREAM = Symbol('stream');

/** What a streaming handler returns: the router hands it the raw response once the caller is authorized. */
export interface StreamResult {
  readonly [STREAM]: true;
  /** Writes the response; `signal` aborts when the client goes away or the router closes its streams. */
  run(res: ServerResponse, signal: AbortSignal): Promise<void>;
}

/** Marks a handler's answer as a stream (e.g. NDJSON) that writes its own response. */
export function streamResult(run: StreamResult['run']): StreamResult {
  return { [STREAM]: true, run };
}

const isStream = (value: unknown): value is StreamResult => typeof value === 'object' && value !== null && STREAM in value;

const JSON_TEXT = Symbol('json-text');

/** An answer already serialised to JSON (a listing built from per-item JSON): written as it is. */
export interface JsonText {
  readonly [JSON_TEXT]: true;
  readonly text: string;
}

/**
 * Marks `text` as the JSON answer. The handler vouches that it is valid JSON (built with `JSON.stringify` pieces):
 * `GET /nodes` at 5,000 nodes serialised the same unchanged items on every call (`pnpm bench listing`).
 */
export function jsonText(text: string): JsonText {
  return { [JSON_TEXT]: true, text };
}

const isJsonText = (value: unknown): value is JsonText => typeof value === 'object' && value !== null && JSON_TEXT in value;

interface Route<I> {
  method: string;
  parts: string[];
  handler: Handler<I>;
}

/** Receives failures that are not `TeleportError`s (bugs), so the server can log them; clients see "internal error". */
export type InternalErrorSink = (err: unknown, req: { method: string; path: string }) => void;

export interface Router<I> {
  add(method: 'GET' | 'POST' | 'PUT' | 'DELETE', pattern: string, handler: Handler<I>): void;
  /** Serves one request; `identify` authenticates the caller (throwing access-denied) before routing. */
  serve(req: IncomingMessage, res: ServerResponse, identify: (req: IncomingMessage) => I | Promise<I>): Promise<void>;
  /** Ends every open stream (at shutdown, so that closing the server does not wait for them). */
  closeStreams(): void;
}

type Match<I> = { route: Route<I>; params: Record<string, string> } | { allow: string[] } | undefined;

/**
 * A small JSON router: `/v1/users/:name` patterns, bounded bodies, and errors written as
 * `{ error: { kind, code, message, hint? } }` with the status of their code or kind (see `httpStatusOf`):
 * 400 for a malformed path, 404 for no route, 405 with `Allow` for a known path and another method,
 * 413 for an oversized body, 500 only for bugs (reported to `onInternalError`).
 *
 * Kept hand-written rather than find-my-way: two servers with a few dozen routes, a linear match is microseconds,
 * and errors must come out in our vocabulary; a radix tree would buy nothing measurable here.
 */
export function newRouter<I>(onInternalError: InternalErrorSink = () => {}): Router<I> {
  const routes: Route<I>[] = [];
  const streams = new Set<AbortController>();
  return {
    closeStreams() {
      for (const c of streams) c.abort();
    },
    add(method, pattern, handler) {
      routes.push({ method, parts: pattern.split('/').filter(Boolean), handler });
    },
    async serve(req, res, identify) {
      const method = req.method ?? 'GET';
      let path = '';
      try {
        const url = parseRequestUrl(req.url);
        path = url.pathname;
        const identity = await identify(req);
        const found = matchRoute(routes, method, url.pathname);
        if (found === undefined) throw new NotFoundError(`no API endpoint ${method} ${url.pathname}`);
        if ('allow' in found) {
          res.setHeader('allow', found.allow.join(', '));
          throw new BadParameterError(`method ${method} is not allowed on ${url.pathname}`, { code: 'ERR_TP_METHOD_NOT_ALLOWED' });
        }
        const body = await readJsonBody(req);
        const result = await found.route.handler({ identity, params: found.params, query: url.searchParams, body, remoteAddr: req.socket.remoteAddress ?? '' });
        if (isStream(result)) await runStream(result, res, streams);
        else writeJson(res, 200, result ?? {});
      } catch (err) {
        writeError(res, err, () => onInternalError(err, { method, path }));
      }
    },
  };
}

/** Runs a stream until it ends, the client goes away, or the router closes its streams. */
async function runStream(result: StreamResult, res: ServerResponse, streams: Set<AbortController>): Promise<void> {
  const controller = new AbortController();
  const onClose = (): void => controller.abort();
  streams.add(controller);
  res.once('close', onClose);
  if (res.destroyed || res.closed) controller.abort();
  try {
    await result.run(res, controller.signal);
  } finally {
    res.off('close', onClose);
    streams.delete(controller);
  }
  if (!res.writableEnded) res.end();
}

function parseRequestUrl(raw: string | undefined): URL {
  try {
    return new URL(raw ?? '/', 'https://localhost');
  } catch {
    throw new BadParameterError('malformed request path', { code: 'ERR_TP_MALFORMED_PATH' });
  }
}

/** The route for `method` and `path`; `{ allow }` when the path is known for other methods only. */
function matchRoute<I>(routes: readonly Route<I>[], method: string, path: string): Match<I> {
  const parts = path.split('/').filter(Boolean);
  const allow: string[] = [];
  for (const route of routes) {
    const params = matchParts(route.parts, parts);
    if (params === undefined) continue;
    if (route.method === method) return { route, params };
    if (!allow.includes(route.method)) allow.push(route.method);
  }
  return allow.length > 0 ? { allow } : undefined;
}

function matchParts(want: readonly string[], got: readonly string[]): Record<string, string> | undefined {
  if (want.length !== got.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < got.length; i++) {
    const w = want[i]!;
    if (w.startsWith(':')) params[w.slice(1)] = decodeSegment(got[i]!);
    else if (w !== got[i]) return undefined;
  }
  return params;
}

/** `decodeURIComponent` that answers a malformed `%` escape (`/token/%ZZ`) with a 400 instead of a URIError. */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new BadParameterError('malformed percent-encoding in the request path', { code: 'ERR_TP_MALFORMED_PATH' });
  }
}

/**
 * How long the rest of an oversized body is still read (and dropped) before the 413 goes out and the connection
 * closes. Closing while the client is still sending resets the connection, and the client may then never read the
 * answer; Go's net/http lingers the same way. A client that keeps sending past this is cut off.
 */
const OVERSIZED_BODY_DRAIN_MS = 2_000;

async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  if (req.method === 'GET' || req.method === 'DELETE') {
    req.resume();
    return undefined;
  }
  const body = await readBody(req);
  if (body === 'too-large') throw new LimitExceededError(`request body is larger than ${MAX_BODY_BYTES} bytes`, { code: 'ERR_TP_REQUEST_TOO_LARGE' });
  if (body.length === 0) return undefined;
  const type = req.headers['content-type'] ?? '';
  if (!type.startsWith('application/json')) throw new BadParameterError('request body must be application/json');
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new BadParameterError('request body is not valid JSON');
  }
}

/** The body, or `'too-large'` once it passed {@link MAX_BODY_BYTES} (declared or counted) and was drained. */
function readBody(req: IncomingMessage): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let timer: NodeJS.Timeout | undefined;
    const overflow = (): void => {
      chunks.length = 0;
      timer ??= setTimeout(() => finish('too-large'), OVERSIZED_BODY_DRAIN_MS);
    };
    const finish = (result: Buffer | 'too-large' | Error): void => {
      clearTimeout(timer);
      req.off('data', onData).off('end', onEnd).off('close', onClose);
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) overflow();
      else chunks.push(chunk);
    };
    const onEnd = (): void => finish(size > MAX_BODY_BYTES || timer !== undefined ? 'too-large' : Buffer.concat(chunks));
    const onClose = (): void => finish(new ConnectionProblemError('the client closed the connection before sending the whole request body'));
    // A declared oversized body is refused as well, after the same drain.
    if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) overflow();
    req.on('data', onData).on('end', onEnd).on('close', onClose);
  });
}

/** Writes a TeleportError with its status; anything else is a bug: reported, and answered 500 without detail. */
function writeError(res: ServerResponse, err: unknown, reportInternal: () => void): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (isTeleportError(err)) {
    // What is left of an oversized body is not worth reading: close the connection after the answer.
    if (err.code === 'ERR_TP_REQUEST_TOO_LARGE') res.setHeader('connection', 'close');
    writeJson(res, httpStatusOf(err), { error: toWireError(err) });
    return;
  }
  reportInternal();
  const internal = new TeleportError('connection-problem', 'internal server error', { code: 'ERR_TP_INTERNAL' });
  writeJson(res, httpStatusOf(internal), { error: toWireError(internal) });
}

function writeJson(res: ServerResponse, status: number, value: unknown): void {
  const text = isJsonText(value) ? value.text : JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
