/**
 * Joining a cluster with a token, Teleport style: the agent does not trust the auth server on first use.
 * It reads the CA certificate the server sends in its TLS chain, checks it against the CA pins it was
 * given (`sha256:` of the host CA's public key, from `tctl status`), and only then talks to the server,
 * over a connection that trusts exactly that CA.
 */

import { connect, type PeerCertificate } from 'node:tls';
import { BALANCED_V1, generateKeyPair } from '../ca/keys.js';
import { caPinMatches, caPinMismatch } from '../ca/pin.js';
import { derToPem } from '../ca/pem.js';
import { toOpenSshPrivateKey } from '../ca/sshca/privatekey.js';
import { parseIdentity } from '../ca/tlsca/identity.js';
import { BadParameterError, ConnectionProblemError } from '../errors/index.js';
import type { SystemRole } from '../types/index.js';
import { AUTH_SERVER_NAME, authBaseUrl, newAuthClient } from './auth.js';
import type { Identity } from './identity.js';

/** Options of {@link joinCluster}. `token` is a secret. */
export interface JoinClusterOptions {
  /** `host:port` of the auth server. */
  authAddr: string;
  token: string;
  /** Accepted CA pins; at least one. */
  caPins: readonly string[];
  /** The system role to join as (`Node`, `Db`, `Proxy`...). */
  role: SystemRole;
  hostUuid: string;
  nodename: string;
  /** More DNS names / IPs for the host certificates. */
  additionalPrincipals?: readonly string[];
  timeoutMs?: number;
  /**
   * ALPN protocols to offer; default `['http/1.1']`. With `AUTH_VIA_PROXY_ALPN` (`teleport-auth` first) `authAddr`
   * may also be a proxy's address: the proxy passes the connection through, so the pinned chain is still the auth
   * server's.
   */
  alpnProtocols?: readonly string[];
  /** Local address to connect from (see `ApiClientOptions.localAddress`). */
  localAddress?: string;
}

/**
 * The CA certificates (PEM) in the chain the server at `addr` presents, leaf excluded. Nothing is trusted
 * here: the caller checks them against pins.
 */
export async function fetchServerCaChain(addr: string, timeoutMs = 15_000, alpnProtocols: readonly string[] = ['http/1.1'], localAddress?: string): Promise<string[]> {
  const url = new URL(authBaseUrl(addr));
  // Loaded here, not at the top: the config module brings a YAML parser the light client surface does without.
  const { parseHostPort, DEFAULT_AUTH_PORT } = await import('../config/index.js');
  const { host, port } = parseHostPort(url.host, DEFAULT_AUTH_PORT);
  const chain = await new Promise<PeerCertificate>((resolve, reject) => {
    const socket = connect({
      host,
      port,
      servername: AUTH_SERVER_NAME,
      // Deliberately unverified: the chain is only read, then checked against the pins.
      rejectUnauthorized: false,
      ALPNProtocols: [...alpnProtocols],
      timeout: timeoutMs,
      ...(localAddress !== undefined ? { localAddress } : {}),
    });
    const fail = (err: Error): void => {
      socket.destroy();
      reject(new ConnectionProblemError(`failed to connect to ${url.host}: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
    };
    socket.once('error', fail);
    socket.once('timeout', () => fail(new Error('timed out')));
    socket.once('secureConnect', () => {
      const peer = socket.getPeerCertificate(true);
      socket.destroy();
      resolve(peer);
    });
  });
  const out: string[] = [];
  const seen = new Set<string>();
  let cert = (chain as { issuerCertificate?: PeerCertificate }).issuerCertificate;
  let prev: PeerCertificate = chain;
  // The chain is linked through issuerCertificate; a self-signed root points to itself.
  while (cert && cert !== prev && cert.raw && !seen.has(cert.fingerprint256)) {
    seen.add(cert.fingerprint256);
    out.push(derToPem(cert.raw, 'CERTIFICATE'));
    prev = cert;
    cert = (cert as { issuerCertificate?: PeerCertificate }).issuerCertificate;
  }
  return out;
}

/**
 * Joins the cluster: checks the auth server's CA against `caPins` (constant time; a mismatch is an
 * access-denied error with code `ERR_TP_CA_PIN_MISMATCH`), generates the host keys (ECDSA P-256 for
 * TLS, Ed25519 for SSH), registers with the token, and returns the identity to save with
 * `writeIdentity`.
 *
 * @example
 * ```ts
 * const identity = await joinCluster({
 *   authAddr: 'auth.example.com:3025', token, caPins: ['sha256:7e12...'], role: 'Db', hostUuid, nodename: 'db-1',
 * });
 * await writeIdentity(path.join(dataDir, 'db'), identity);
 * ```
 */
export async function joinCluster(options: JoinClusterOptions): Promise<Identity> {
  if (!options.token) throw new BadParameterError('a join token is required', { hint: 'pass --token' });
  if (options.caPins.length === 0) {
    throw new BadParameterError('a CA pin is required to join the cluster', {
      hint: 'pass --ca-pin with a pin from `tctl status` on the auth server',
    });
  }
  const chain = await fetchServerCaChain(options.authAddr, options.timeoutMs, options.alpnProtocols, options.localAddress);
  const ca = chain.find((pem) => caPinMatches(pem, options.caPins));
  if (ca === undefined) throw caPinMismatch();

  const [tlsKeys, sshKeys] = await Promise.all([
    generateKeyPair(BALANCED_V1['tls-host']),
    generateKeyPair(BALANCED_V1['ssh-host'], { comment: options.nodename }),
  ]);
  const client = newAuthClient({
    addr: options.authAddr,
    tls: { ca: [ca] },
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.alpnProtocols !== undefined ? { alpnProtocols: options.alpnProtocols } : {}),
    ...(options.localAddress !== undefined ? { localAddress: options.localAddress } : {}),
  });
  try {
    const certs = await client.registerUsingToken({
      token: options.token,
      hostId: options.hostUuid,
      nodeName: options.nodename,
      role: options.role,
      tlsPublicKey: tlsKeys.publicKeyPem,
      sshPublicKey: sshKeys.sshPublicKey,
      ...(options.additionalPrincipals ? { additionalPrincipals: options.additionalPrincipals } : {}),
    });
    const clusterName = parseIdentity(certs.tlsCert).teleportCluster;
    return {
      key: tlsKeys.privateKeyPem,
      cert: certs.tlsCert,
      caCerts: certs.tlsCaCerts,
      sshKey: toOpenSshPrivateKey(sshKeys.privateKeyPem, options.nodename),
      sshCert: certs.sshCert,
      sshCaKeys: certs.sshCaKeys,
      ...(clusterName !== undefined ? { clusterName } : {}),
      authServers: [options.authAddr],
    };
  } finally {
    await client.close();
  }
}
