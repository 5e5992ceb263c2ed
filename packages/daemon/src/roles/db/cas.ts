/**
 * The CA certificates a service trusts, fetched from the auth server and kept fresh: the db agent checks user
 * certificates (user CA), the proxy's host certificate (host CA) and databases (db CA); the proxy checks agents
 * (host CA) and users (user CA). During a rotation the old and the new certificate are both trusted.
 */

import type { AuthClient } from '@teleport-ts/core/api';
import { trustedTlsCerts, verifyTlsCert, type CertAuthorityType, type VerifiedTlsCert } from '@teleport-ts/core/ca';
import type { Clock } from '@teleport-ts/core/clock';
import { isTeleportError } from '@teleport-ts/core/errors';

/** How long fetched CAs are used before they are fetched again. */
const DEFAULT_CA_MAX_AGE_MS = 30_000;
/** A certificate from an unknown CA triggers a refetch at most this often (a rotation just started). */
const FORCED_REFRESH_INTERVAL_MS = 5_000;
/** Verified certificates remembered (a client reuses one certificate for many connections). */
const VERIFIED_CACHE_SIZE = 1024;

export interface CertAuthorityCacheOptions {
  auth: Pick<AuthClient, 'getCertAuthorities'>;
  clusterName: string;
  clock: Clock;
  maxAgeMs?: number;
  /** Certificates to trust before the first fetch succeeds, by CA type (e.g. the host CA from the join). */
  initial?: Partial<Record<CertAuthorityType, readonly string[]>>;
}

export interface CertAuthorityCache {
  /** Trusted TLS certificates of this cluster's CA of `type` (fetched when older than the max age). */
  trusted(type: CertAuthorityType): Promise<readonly string[]>;
  /**
   * Verifies a certificate against the CA of `type`; a certificate from an unknown CA makes the cache refetch once
   * (rate-limited) before giving up, so a rotation is picked up at once. A PEM certificate verified before against
   * the same trusted CAs is not verified again (about 2 ms each), only its validity period is checked against the
   * clock.
   *
   * @throws AccessDeniedError (untrusted, expired, not yet valid, wrong usage), BadParameterError (malformed).
   */
  verify(type: CertAuthorityType, cert: string | Uint8Array, usage: 'clientAuth' | 'serverAuth'): Promise<VerifiedTlsCert>;
  /** A CA changed (a rotation moved): fetch every type again on its next use. */
  invalidate(): void;
}

/**
 * An unchanged set keeps its identity across fetches: verified certificates are remembered per trusted set (and
 * TLS contexts per CA list), and an agent with a cache refetches, a memory read, every 250 ms.
 */
function sameCerts(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((cert, i) => cert === b[i]);
}

interface Entry {
  certs: readonly string[];
  fetchedAt: number;
  lastForced: number;
  pending?: Promise<readonly string[]>;
}

/**
 * @example
 * ```ts
 * const cas = newCertAuthorityCache({ auth, clusterName, clock });
 * const { identity } = await cas.verify('user', peerCertDer, 'clientAuth');
 * ```
 */
export function newCertAuthorityCache(options: CertAuthorityCacheOptions): CertAuthorityCache {
  const maxAgeMs = options.maxAgeMs ?? DEFAULT_CA_MAX_AGE_MS;
  const entries = new Map<CertAuthorityType, Entry>();
  const verified = new Map<string, { certs: readonly string[]; result: VerifiedTlsCert }>();
  for (const [type, certs] of Object.entries(options.initial ?? {})) {
    entries.set(type as CertAuthorityType, { certs: [...certs], fetchedAt: Number.NEGATIVE_INFINITY, lastForced: Number.NEGATIVE_INFINITY });
  }
  // Freshness is real time: a frozen test clock must not freeze the CAs (the clock only decides validity).
  const now = (): number => performance.now();

  const fetch = (type: CertAuthorityType, entry: Entry): Promise<readonly string[]> => {
    entry.pending ??= options.auth
      .getCertAuthorities(type)
      .then((cas) => {
        const certs = cas.filter((ca) => ca.spec.cluster_name === options.clusterName).flatMap(trustedTlsCerts);
        if (!sameCerts(entry.certs, certs)) entry.certs = certs;
        entry.fetchedAt = now();
        return entry.certs;
      })
      .catch((err: unknown) => {
        // Keep serving what we had while the auth server is unreachable.
        if (entry.certs.length > 0) return entry.certs;
        throw err;
      })
      .finally(() => {
        entry.pending = undefined;
      });
    return entry.pending;
  };

  const entryOf = (type: CertAuthorityType): Entry => {
    let entry = entries.get(type);
    if (entry === undefined) {
      entry = { certs: [], fetchedAt: Number.NEGATIVE_INFINITY, lastForced: Number.NEGATIVE_INFINITY };
      entries.set(type, entry);
    }
    return entry;
  };

  const trusted = async (type: CertAuthorityType): Promise<readonly string[]> => {
    const entry = entryOf(type);
    if (entry.certs.length > 0 && now() - entry.fetchedAt < maxAgeMs) return entry.certs;
    return fetch(type, entry);
  };

  return {
    trusted,
    invalidate() {
      for (const entry of entries.values()) entry.fetchedAt = Number.NEGATIVE_INFINITY;
    },
    async verify(type, cert, usage) {
      const cacheKey = typeof cert === 'string' ? `${type}\u0000${usage}\u0000${cert}` : undefined;
      const verifyWith = (certs: readonly string[]): VerifiedTlsCert => {
        const result = verifyTlsCert(cert, { trustedCaCerts: certs, clock: options.clock, usage });
        if (cacheKey !== undefined) {
          if (verified.size >= VERIFIED_CACHE_SIZE) verified.delete(verified.keys().next().value!);
          verified.set(cacheKey, { certs, result });
        }
        return result;
      };
      const certs = await trusted(type);
      const hit = cacheKey === undefined ? undefined : verified.get(cacheKey);
      if (hit !== undefined) {
        const at = options.clock.now();
        // Same trusted set and still valid: the earlier verification holds. Otherwise verify again (and fail properly).
        if (hit.certs === certs && at >= hit.result.notBefore && at <= hit.result.notAfter) return hit.result;
        verified.delete(cacheKey!);
      }
      try {
        return verifyWith(certs);
      } catch (err) {
        if (!isTeleportError(err) || err.code !== 'ERR_TP_TLS_UNTRUSTED_CA') throw err;
        const entry = entryOf(type);
        if (now() - entry.lastForced < FORCED_REFRESH_INTERVAL_MS) throw err;
        entry.lastForced = now();
        return verifyWith(await fetch(type, entry));
      }
    },
  };
}
