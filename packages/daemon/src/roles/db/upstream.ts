/**
 * The agent's side of the connection to a database: TLS (requested with an SSLRequest, as libpq does) with a client
 * certificate from the cluster's `db_client` CA whose CN is the database user, verifying the server against the
 * `db` CA (or the configured `ca_cert_file`) as `tls.mode` says.
 */

import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from 'node:dns';
import { once } from 'node:events';
import { connect as connectTcp, type Socket } from 'node:net';
import { checkServerIdentity, connect as connectTls, createSecureContext, TLSSocket, type PeerCertificate, type SecureContext } from 'node:tls';
import type { AuthClient } from '@teleport-ts/core/api';
import { generateKeyPair, parseX509Certificate } from '@teleport-ts/core/ca';
import type { Clock } from '@teleport-ts/core/clock';
import { ConnectionProblemError } from '@teleport-ts/core/errors';
import { ENCRYPTION_RESPONSE, serializeSslRequest } from '@teleport-ts/core/protocol/postgres';
import type { CertAuthorityCache } from './cas.js';
import { isIpAddress, type DatabaseSpec } from './config.js';

/** Lifetime asked for db client certificates. */
const DB_CLIENT_CERT_TTL_MS = 60 * 60_000;
/** A cached certificate is renewed once less than this is left. */
const DB_CLIENT_CERT_RENEW_BEFORE_MS = 15 * 60_000;
/** Limit on reaching the database (TCP, SSLRequest, TLS handshake). */
const DB_CONNECT_TIMEOUT_MS = 15_000;

/** A key and certificate to present to a database. */
export interface DatabaseClientCredentials {
  key: string;
  cert: string;
  notAfter: Date;
}

/** Client certificates per (database, database user), issued by the auth server and reused until near expiry. */
export interface ClientCertCache {
  get(database: string, dbUser: string): Promise<DatabaseClientCredentials>;
}

/**
 * The agent keeps one ECDSA P-256 key (generated once, on first use) and asks the auth server to sign a certificate
 * for it per (database, database user); a session reuses a certificate with more than
 * {@link DB_CLIENT_CERT_RENEW_BEFORE_MS} left, so it pays neither a key generation nor a signing round trip.
 * Concurrent sessions for the same pair share one request.
 */
export function newClientCertCache(options: { auth: Pick<AuthClient, 'generateDatabaseClientCert'>; clock: Clock; ttlMs?: number }): ClientCertCache {
  const ttl = options.ttlMs ?? DB_CLIENT_CERT_TTL_MS;
  const renewBefore = Math.min(DB_CLIENT_CERT_RENEW_BEFORE_MS, ttl / 4);
  let keys: ReturnType<typeof generateKeyPair> | undefined;
  const cache = new Map<string, Promise<DatabaseClientCredentials>>();

  const issue = async (dbUser: string): Promise<DatabaseClientCredentials> => {
    // Teleport keeps RSA-2048 here for databases that accept nothing else; PostgreSQL (OpenSSL) and CockroachDB (Go
    // crypto/tls) both accept ECDSA client certificates, and signing the TLS handshake with P-256 instead of RSA-2048
    // was a tenth of the agent's CPU per new session (`pnpm bench db`, -C). The db_client CA itself stays RSA.
    keys ??= generateKeyPair('ecdsa-p256');
    const pair = await keys.catch((err: unknown) => {
      keys = undefined;
      throw err;
    });
    const { cert } = await options.auth.generateDatabaseClientCert({ publicKey: pair.publicKeyPem, dbUser, ttl });
    return { key: pair.privateKeyPem, cert, notAfter: parseX509Certificate(cert).notAfter };
  };

  return {
    async get(database, dbUser) {
      const id = `${database}\u0000${dbUser}`;
      const cached = cache.get(id);
      if (cached !== undefined) {
        const creds = await cached.catch(() => undefined);
        if (creds !== undefined && creds.notAfter.getTime() - options.clock.now().getTime() > renewBefore) return creds;
        if (cache.get(id) !== cached) return this.get(database, dbUser);
      }
      const pending = issue(dbUser);
      cache.set(id, pending);
      pending.catch(() => {
        if (cache.get(id) === pending) cache.delete(id);
      });
      return pending;
    },
  };
}

/**
 * TLS contexts for upstream connections, per client credentials (so per database, database user and certificate:
 * a renewed certificate is a new object and the old context goes with the old one), per trusted CA list (the
 * same array until the CA cache sees another set or the database's `ca_cert_file` changes) and per key-exchange
 * group list. Building one parses the key, the certificate and every CA: about 1.3 ms, a sixth of a new session's
 * CPU in the agent before it was cached.
 */
const secureContexts = new WeakMap<DatabaseClientCredentials, { ca: string | readonly string[]; groups: string; context: SecureContext }>();

function secureContextFor(credentials: DatabaseClientCredentials, ca: string | readonly string[], groups: string): SecureContext {
  const cached = secureContexts.get(credentials);
  if (cached !== undefined && cached.ca === ca && cached.groups === groups) return cached.context;
  const context = createSecureContext({ key: credentials.key, cert: credentials.cert, ca: typeof ca === 'string' ? ca : [...ca], ecdhCurve: groups });
  secureContexts.set(credentials, { ca, groups, context });
  return context;
}

/** OpenSSL's default key-exchange groups, in its order (what `ecdhCurve: 'auto'` offers). */
const DEFAULT_GROUPS = ['X25519', 'prime256v1', 'X448', 'secp521r1', 'secp384r1'];

/**
 * The key-exchange group each database chose, by address. A TLS 1.3 client sends a key share for its first group
 * only; PostgreSQL accepts one group (`ssl_ecdh_curve`, P-256 by default), so with X25519 first every connection
 * took a HelloRetryRequest: one more round trip, ClientHello and key generation per session. The group the server
 * chose goes first next time (the others stay offered, so a changed server costs one retry, not a failure).
 */
const chosenGroups = new Map<string, string>();

function groupsFor(address: string): string {
  const first = chosenGroups.get(address);
  return first === undefined ? DEFAULT_GROUPS.join(':') : [first, ...DEFAULT_GROUPS.filter((g) => g !== first)].join(':');
}

function rememberGroup(address: string, socket: TLSSocket): void {
  const info = socket.getEphemeralKeyInfo() as { name?: unknown } | null;
  const name = info?.name;
  if (typeof name !== 'string' || !DEFAULT_GROUPS.includes(name)) return;
  if (chosenGroups.size >= 256 && !chosenGroups.has(address)) chosenGroups.clear();
  chosenGroups.set(address, name);
}

/**
 * Node's handshake check decodes the whole peer chain (`getPeerCertificate(true)`: every certificate up to the root
 * into an object with three fingerprints each; 0.3 ms measured, a tenth of the agent's CPU for a new session) only
 * to pass it to `checkServerIdentity`, which reads the leaf's subject and names. During the handshake this socket
 * answers that call with the leaf alone; afterwards the method is Node's again.
 */
function leafOnlyDuringHandshake(socket: TLSSocket): () => void {
  const leaf = (): PeerCertificate => TLSSocket.prototype.getPeerCertificate.call(socket, false);
  Object.defineProperty(socket, 'getPeerCertificate', { value: leaf, configurable: true, writable: true });
  return () => void delete (socket as { getPeerCertificate?: unknown }).getPeerCertificate;
}

/** How long a resolved database address is reused. */
const DNS_CACHE_MS = 10_000;
const resolved = new Map<string, { at: number; addresses: LookupAddress[] }>();

/**
 * `net.connect`'s `lookup` with a short cache: a session to a database by name otherwise waits for a getaddrinfo
 * on the libuv thread pool every time (a few percent of a new session's time in the agent). Failures are not cached.
 */
function cachedLookup(
  hostname: string,
  options: LookupAllOptions | { all?: boolean },
  callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
): void {
  const answer = (addresses: LookupAddress[]): void => {
    if (options.all === true) callback(null, addresses);
    else callback(null, addresses[0]!.address, addresses[0]!.family);
  };
  const hit = resolved.get(hostname);
  if (hit !== undefined && performance.now() - hit.at < DNS_CACHE_MS) {
    process.nextTick(answer, hit.addresses);
    return;
  }
  dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err !== null) {
      callback(err, options.all === true ? [] : '');
      return;
    }
    if (resolved.size >= 256) resolved.clear();
    resolved.set(hostname, { at: performance.now(), addresses });
    answer(addresses);
  });
}

/** Reads exactly one byte (the answer to an SSLRequest); more is refused, as libpq does (CVE-2021-23222). */
function readEncryptionResponse(socket: Socket, signal: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const done = (err: Error | undefined, value?: string) => {
      socket.removeListener('data', onData);
      socket.removeListener('error', onError);
      socket.removeListener('close', onClose);
      signal.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve(value!);
    };
    const onData = (chunk: Buffer) => {
      socket.pause();
      if (chunk.length !== 1) {
        done(new ConnectionProblemError('the database sent unexpected data before the TLS handshake'));
        return;
      }
      done(undefined, chunk.toString('latin1'));
    };
    const onError = (err: Error) => done(err);
    const onClose = () => done(new ConnectionProblemError('the database closed the connection before answering the SSLRequest'));
    const onAbort = () => done(signal.reason as Error);
    socket.on('data', onData);
    socket.once('error', onError);
    socket.once('close', onClose);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function describeTlsError(database: DatabaseSpec, err: unknown): ConnectionProblemError {
  const e = err as NodeJS.ErrnoException & { reason?: string };
  const code = e.code ?? '';
  if (/CERT|SELF_SIGNED|UNABLE_TO|ERR_TLS_CERT_ALTNAME/.test(code)) {
    const what = code === 'ERR_TLS_CERT_ALTNAME_INVALID' ? `it is not valid for ${database.tls.serverName}` : `${e.message}`;
    return new ConnectionProblemError(`failed to verify the server certificate of database "${database.name}": ${what}`, {
      hint: database.tls.caCertFile
        ? `the database's certificate must be issued by a CA in ${database.tls.caCertFile}`
        : 'the database must present a certificate from `tctl auth sign --format=db` (or set tls.ca_cert_file)',
    });
  }
  return new ConnectionProblemError(`failed to connect to database "${database.name}" at ${database.uri}: ${code || e.message}`);
}

/**
 * Opens a TLS connection to the database: TCP, SSLRequest, `S`, TLS handshake with `credentials`, server verified
 * per `database.tls.mode` (verify-full: chain and name; verify-ca: chain; insecure: nothing) against
 * `database.tls.caCerts` or the cluster's `db` CA. The socket is ready for the StartupMessage (or CancelRequest).
 *
 * @throws ConnectionProblemError naming the database: unreachable, no TLS, or a server certificate that fails.
 */
export async function connectToDatabase(options: {
  database: DatabaseSpec;
  credentials: DatabaseClientCredentials;
  cas: CertAuthorityCache;
  signal?: AbortSignal;
}): Promise<TLSSocket> {
  const { database, credentials } = options;
  const timeout = AbortSignal.timeout(DB_CONNECT_TIMEOUT_MS);
  const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
  const ca = database.tls.caCerts ?? (await options.cas.trusted('db'));
  const tcp = connectTcp({ host: database.host, port: database.port, lookup: cachedLookup as never });
  tcp.setNoDelay(true);
  const fail = (err: unknown): never => {
    tcp.destroy();
    throw err;
  };
  try {
    await once(tcp, 'connect', { signal });
  } catch (err) {
    fail(signal.aborted ? new ConnectionProblemError(`timed out connecting to database "${database.name}" at ${database.uri}`) : describeTlsError(database, err));
  }
  tcp.write(serializeSslRequest());
  let answer = '';
  try {
    answer = await readEncryptionResponse(tcp, signal);
  } catch (err) {
    fail(err instanceof ConnectionProblemError ? err : new ConnectionProblemError(`database "${database.name}" did not answer the SSLRequest`));
  }
  if (answer !== ENCRYPTION_RESPONSE.accept) {
    fail(new ConnectionProblemError(`database "${database.name}" does not accept TLS connections`, { hint: 'enable ssl in postgresql.conf with a certificate from `tctl auth sign --format=db`' }));
  }
  const verifyName = database.tls.mode === 'verify-full';
  const address = `${database.host}:${database.port}`;
  const socket = connectTls({
    socket: tcp,
    secureContext: secureContextFor(credentials, ca, groupsFor(address)),
    rejectUnauthorized: database.tls.mode !== 'insecure',
    ...(isIpAddress(database.tls.serverName) ? {} : { servername: database.tls.serverName }),
    checkServerIdentity: (_host: string, cert: PeerCertificate) => (verifyName ? checkServerIdentity(database.tls.serverName, cert) : undefined),
  });
  const restore = leafOnlyDuringHandshake(socket);
  try {
    await once(socket, 'secureConnect', { signal });
  } catch (err) {
    socket.destroy();
    fail(signal.aborted ? new ConnectionProblemError(`timed out in the TLS handshake with database "${database.name}"`) : describeTlsError(database, err));
  } finally {
    restore();
  }
  rememberGroup(address, socket);
  socket.setNoDelay(true);
  return socket;
}
