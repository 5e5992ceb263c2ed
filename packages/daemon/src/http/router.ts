import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  AccessDeniedError,
  BadParameterError,
  LimitExceededError,
  NotFoundError,
  isTeleportError,
  kindToHttpStatus,
  toWireError,
  type TeleportError,
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
}

/**
 * A small JSON router: `/v1/users/:name` patterns, bounded bodies, and errors written as
 * `{ error: { kind, code, message, hint? } }` with the status of their kind.
 */
export function newRouter<I>(onInternalError: InternalErrorSink = () => {}): Router<I> {
  const routes: Route<I>[] = [];

  function match(method: string, path: string): { route: Route<I>; params: Record<string, string> } | undefined {
    const parts = path.split('/').filter(Boolean);
    let methodMismatch = false;
    for (const route of routes) {
      if (route.parts.length !== parts.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < parts.length; i++) {
        const want = route.parts[i]!;
        const got = parts[i]!;
        if (want.startsWith(':')) params[want.slice(1)] = decodeURIComponent(got);
        else if (want !== got) {
          ok = false;
          break;
        }
      }
      if (!ok) continue;
      if (route.method !== method) {
        methodMismatch = true;
        continue;
      }
      return { route, params };
    }
    if (methodMismatch) throw new BadParameterError(`method ${method} is not allowed on ${path}`);
    return undefined;
  }

  return {
    add(method, pattern, handler) {
      routes.push({ method, parts: pattern.split('/').filter(Boolean), handler });
    },
    async serve(req, res, identify) {
      const url = new URL(req.url ?? '/', 'https://localhost');
      const method = req.method ?? 'GET';
      try {
        const identity = await identify(req);
        const found = match(method, url.pathname);
        if (!found) throw new NotFoundError(`no API endpoint ${method} ${url.pathname}`);
        const body = await readJsonBody(req);
        const result = await found.route.handler({
          identity,
          params: found.params,
          query: url.searchParams,
          body,
          remoteAddr: req.socket.remoteAddress ?? '',
        });
        writeJson(res, 200, result ?? {});
      } catch (err) {
        if (isTeleportError(err)) {
          writeJson(res, kindToHttpStatus(err.kind), { error: toWireError(err as TeleportError) });
        } else {
          onInternalError(err, { method, path: url.pathname });
          writeJson(res, 500, { error: { kind: 'connection-problem', code: 'ERR_TP_INTERNAL', message: 'internal server error' } });
        }
      }
    },
  };
}

async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  if (req.method === 'GET' || req.method === 'DELETE') {
    req.resume();
    return undefined;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new LimitExceededError(`request body is larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  const type = req.headers['content-type'] ?? '';
  if (!type.startsWith('application/json')) throw new BadParameterError('request body must be application/json');
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new BadParameterError('request body is not valid JSON');
  }
}

function writeJson(res: ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Throws access-denied unless the TLS peer presented a certificate the server verified. */
export function requireVerifiedPeer(req: IncomingMessage): void {
  const socket = req.socket as { authorized?: boolean };
  if (socket.authorized !== true) throw new AccessDeniedError('access denied: a valid client certificate is required');
}
