/**
 * The client side of the proxy's SSH routing (ALPN `teleport-proxy-ssh`): TLS to the proxy's single port with the
 * user's TLS certificate, one JSON line naming the target, one JSON line back. After an ok answer the socket
 * carries the raw SSH protocol to the node, which authenticates the user again from the SSH certificate.
 */

import net from 'node:net';
import tls from 'node:tls';
import { ConnectionProblemError, ERROR_CODES, isErrorCode, TeleportError, type ErrorKind } from '@teleport-ts/core/errors';
import { parseWith, v } from '@teleport-ts/core/schema';
import { proxyNetworkError, type ProxyTarget } from '../webclient.js';

/** ALPN protocol of SSH access at the proxy. */
const ALPN_TELEPORT_PROXY_SSH = 'teleport-proxy-ssh';

/** The request line's cap, as the proxy reads it. */
const MAX_REQUEST_LINE = 4096;
/** The answer line's cap: a node's name, hostname and address, or one error line. */
const MAX_ANSWER_LINE = 16 * 1024;
/** How long the proxy may take to answer (it may dial an agentless node first). */
const ANSWER_TIMEOUT_MS = 30_000;

/** Where to go: a node hostname, a node UUID or `host:port`; port 0 means any. */
interface NodeTarget {
  host: string;
  port: number;
  cluster: string;
}

/** The node the proxy picked. */
export interface RoutedNode {
  /** The node's UUID. */
  name: string;
  hostname: string;
  addr: string;
}

export interface DialNodeOptions {
  proxy: ProxyTarget;
  /** The user's TLS key and certificate (PEM), and the cluster's CA certificates for the proxy's certificate. */
  tls: { key: string; cert: string; ca: readonly string[] };
  insecure: boolean;
  target: NodeTarget;
}

const Answer = v.union([
  v.looseObject({ ok: v.literal(true), node: v.looseObject({ name: v.string(), hostname: v.string(), addr: v.string() }) }),
  v.looseObject({ ok: v.literal(false), code: v.optional(v.string()), error: v.string() }),
]);

/** TLS to the proxy with ALPN `teleport-proxy-ssh`; resolves once the handshake is done. */
function dialProxy(options: DialNodeOptions): Promise<tls.TLSSocket> {
  const { host, port } = options.proxy;
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host,
      port,
      ...(net.isIP(host) === 0 ? { servername: host } : {}),
      ALPNProtocols: [ALPN_TELEPORT_PROXY_SSH],
      key: options.tls.key,
      cert: options.tls.cert,
      ca: [...tls.rootCertificates, ...options.tls.ca],
      rejectUnauthorized: !options.insecure,
    });
    socket.setNoDelay(true);
    const fail = (err: Error): void => {
      socket.destroy();
      reject(proxyNetworkError(options.proxy, err));
    };
    socket.once('error', fail);
    socket.once('secureConnect', () => {
      socket.off('error', fail);
      if (socket.alpnProtocol !== ALPN_TELEPORT_PROXY_SSH) {
        socket.destroy();
        reject(new ConnectionProblemError(`the proxy at ${options.proxy.addr} does not serve SSH access (ALPN ${ALPN_TELEPORT_PROXY_SSH})`));
        return;
      }
      resolve(socket);
    });
  });
}

/**
 * Reads one `\n`-terminated line of at most `max` bytes; what came after it is put back for the next reader.
 * Rejects when the peer closes first, when the line is too long, or after `timeoutMs`.
 */
function readLine(socket: net.Socket, max: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    const done = (err: Error | undefined, line?: string, rest?: Buffer): void => {
      clearTimeout(timer);
      socket.off('readable', onReadable);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.off('error', onError);
      if (err) return reject(err);
      if (rest !== undefined && rest.length > 0) socket.unshift(rest);
      resolve(line!);
    };
    const onReadable = (): void => {
      let chunk: Buffer | null;
      while ((chunk = socket.read() as Buffer | null) !== null) {
        buffered = Buffer.concat([buffered, chunk]);
        const nl = buffered.indexOf(0x0a);
        if (nl >= 0 && nl <= max) return done(undefined, buffered.subarray(0, nl).toString('utf8'), buffered.subarray(nl + 1));
        if (buffered.length > max) return done(new ConnectionProblemError(`the proxy's answer is longer than ${max} bytes`));
      }
    };
    const onEnd = (): void => done(new ConnectionProblemError('the proxy closed the connection before answering'));
    const onError = (err: Error): void => done(new ConnectionProblemError(`the connection to the proxy failed: ${err.message}`));
    const timer = setTimeout(() => done(new ConnectionProblemError(`the proxy did not answer within ${timeoutMs / 1000}s`)), timeoutMs);
    socket.on('readable', onReadable);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    socket.once('error', onError);
    onReadable();
  });
}

/** The proxy's refusal as a TeleportError of the code's kind, with the proxy's text. */
function refusal(code: string | undefined, text: string): TeleportError {
  const kind: ErrorKind = isErrorCode(code) ? ERROR_CODES[code] : 'connection-problem';
  return new TeleportError(kind, text.replace(/[\r\n]+/g, ' '), isErrorCode(code) ? { code: code as never } : {});
}

/**
 * Opens an SSH byte stream to a node through the proxy. The socket is returned paused after the answer line, with
 * any SSH bytes that came with it put back.
 *
 * @example
 * ```ts
 * const { socket, node } = await dialNode({ proxy, tls: { key, cert, ca }, insecure: false, target: { host: 'web1', port: 0, cluster } });
 * ```
 */
export async function dialNode(options: DialNodeOptions): Promise<{ socket: tls.TLSSocket; node: RoutedNode }> {
  const request = `${JSON.stringify({ host: options.target.host, port: options.target.port, cluster: options.target.cluster })}\n`;
  if (Buffer.byteLength(request) > MAX_REQUEST_LINE) throw new TeleportError('bad-parameter', `the target host name is too long`);
  const socket = await dialProxy(options);
  try {
    socket.write(request);
    const line = await readLine(socket, MAX_ANSWER_LINE, ANSWER_TIMEOUT_MS);
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      throw new ConnectionProblemError(`the proxy at ${options.proxy.addr} sent an answer that is not JSON`);
    }
    const answer = parseWith(Answer, json, `answer of proxy ${options.proxy.addr}`);
    if (!answer.ok) throw refusal(answer.code, answer.error);
    return { socket, node: { name: answer.node.name, hostname: answer.node.hostname, addr: answer.node.addr } };
  } catch (err) {
    socket.destroy();
    throw err;
  }
}
