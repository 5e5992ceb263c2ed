/**
 * The built-in access request notifier (`auth_service.access_requests.webhook`): POSTs a JSON document to a URL when a
 * request is created and when it is decided, retrying with backoff when the receiver is down or answers 5xx/429. The
 * body names the request, its user, roles, resources, reasons, reviews and state; nothing secret (no certificate, no
 * token) is in it. Deliveries never hold up the API: they run in the background and failures are logged.
 */

import http from 'node:http';
import https from 'node:https';
import type { AccessRequest } from '@teleport-ts/core/types';
import { redact } from '@teleport-ts/core/errors';
import type { Logger } from '../../logger.js';
import type { AccessRequestEvent } from './context.js';

export interface WebhookNotifierOptions {
  url: string;
  /** PEM CA certificate(s) for an https receiver; the system's CAs otherwise. */
  ca?: string;
  clusterName: string;
  logger: Logger;
  /** Attempts per event (default 5), the first retry after `backoffMs` (default 500), doubling. */
  attempts?: number;
  backoffMs?: number;
}

export interface WebhookNotifier {
  notify(event: AccessRequestEvent, request: AccessRequest): void;
  /** Waits (at most `timeoutMs`) for deliveries in flight. */
  close(timeoutMs?: number): Promise<void>;
}

const REQUEST_TIMEOUT_MS = 10_000;

/** The JSON body: Teleport's access request fields, without anything secret. */
function webhookBody(event: AccessRequestEvent, request: AccessRequest, clusterName: string): Record<string, unknown> {
  const s = request.spec;
  return {
    event: event === 'created' ? 'access_request.create' : 'access_request.update',
    cluster: clusterName,
    id: request.metadata.name,
    user: s.user,
    roles: [...s.roles],
    resources: [...s.resources],
    state: s.state,
    request_reason: s.request_reason ?? '',
    resolve_reason: s.resolve_reason ?? '',
    suggested_reviewers: [...s.suggested_reviewers],
    reviews: s.reviews.map((r) => ({ author: r.author, state: r.state, reason: r.reason ?? '', created: r.created })),
    created: s.created,
    expires: s.expires,
  };
}

/** One POST; resolves with the status code. */
function post(url: URL, body: string, ca: string | undefined): Promise<number> {
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(
      url,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'user-agent': 'teleport-ts-access-requests' },
        timeout: REQUEST_TIMEOUT_MS,
        ...(ca !== undefined && url.protocol === 'https:' ? { ca } : {}),
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

const retryable = (status: number): boolean => status === 429 || status >= 500;

/**
 * @example
 * ```ts
 * const notifier = newWebhookNotifier({ url: 'https://hooks.example.com/teleport', clusterName, logger });
 * newAuthContext({ ..., onAccessRequest: notifier.notify });
 * ```
 */
export function newWebhookNotifier(options: WebhookNotifierOptions): WebhookNotifier {
  const url = new URL(options.url);
  const attempts = options.attempts ?? 5;
  const backoffMs = options.backoffMs ?? 500;
  const inFlight = new Set<Promise<void>>();
  const deliver = async (event: AccessRequestEvent, request: AccessRequest): Promise<void> => {
    const body = JSON.stringify(webhookBody(event, request, options.clusterName));
    let last = '';
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, backoffMs * 2 ** (attempt - 1)));
      try {
        const status = await post(url, body, options.ca);
        if (status >= 200 && status < 300) return;
        last = `status ${status}`;
        if (!retryable(status)) break;
      } catch (err) {
        last = redact((err as Error).message);
      }
    }
    options.logger.warn('access request webhook failed', { id: request.metadata.name, host: url.host, error: last });
  };
  return {
    notify(event, request) {
      const p = deliver(event, request).finally(() => inFlight.delete(p));
      inFlight.add(p);
    },
    async close(timeoutMs = 5_000) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled([...inFlight]), new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
      clearTimeout(timer);
    },
  };
}
