import { key } from '../backend/keys.js';
import type { Backend } from '../backend/types.js';
import { CERT_AUTHORITY_TYPES, type CertAuthority, type CertAuthorityType } from '../ca/authority.js';
import { AlreadyExistsError, BadParameterError, CompareFailedError, NotFoundError, isAlreadyExists, isCompareFailed, isNotFound } from '../errors/index.js';
import { decodeJson, encodeJson, getAllWithPrefix } from './items.js';

/** Backend key of a CA (`/authorities/<type>/<cluster>`). */
export function certAuthorityKey(type: CertAuthorityType, clusterName: string): string {
  return key('authorities', type, clusterName);
}

/** A stored CA and the revision to update it by. */
export interface StoredCertAuthority {
  ca: CertAuthority;
  revision: string;
}

/**
 * Certificate authorities, with their private keys (Teleport's `Trust` service). Callers strip secrets
 * (`withoutSecrets`) before anything leaves the auth server.
 */
export interface TrustService {
  getCertAuthority(type: CertAuthorityType, clusterName: string): Promise<StoredCertAuthority>;
  /** Every CA of a type (one per cluster). */
  getCertAuthorities(type: CertAuthorityType): Promise<StoredCertAuthority[]>;
  /** Stores a new CA; throws already-exists when one is stored for that type and cluster. */
  createCertAuthority(ca: CertAuthority): Promise<StoredCertAuthority>;
  /** Replaces a CA if its revision is still `revision`, else throws compare-failed. */
  updateCertAuthority(ca: CertAuthority, revision: string): Promise<StoredCertAuthority>;
}

function checkType(type: string): asserts type is CertAuthorityType {
  if (!(CERT_AUTHORITY_TYPES as readonly string[]).includes(type)) {
    throw new BadParameterError(`unknown certificate authority type ${JSON.stringify(type.slice(0, 64))}`, {
      hint: `use one of ${CERT_AUTHORITY_TYPES.join(', ')}`,
    });
  }
}

function parseStored(item: { key: string; value: Uint8Array; revision: string }): StoredCertAuthority {
  const ca = decodeJson(item) as CertAuthority;
  if (ca?.kind !== 'cert_authority' || typeof ca.spec?.type !== 'string' || !ca.spec.active_keys) {
    throw new BadParameterError(`stored item ${item.key} is not a certificate authority`);
  }
  return { ca, revision: item.revision };
}

/**
 * @example
 * ```ts
 * const trust = newTrustService(backend);
 * const { ca: hostCa } = await trust.getCertAuthority('host', clusterName);
 * ```
 */
export function newTrustService(backend: Backend): TrustService {
  const describe = (type: string, cluster: string): string => `the ${type} certificate authority of ${JSON.stringify(cluster)}`;
  return {
    async getCertAuthority(type, clusterName) {
      checkType(type);
      try {
        return parseStored(await backend.get(certAuthorityKey(type, clusterName)));
      } catch (err) {
        if (isNotFound(err)) throw new NotFoundError(`${describe(type, clusterName)} is not found`);
        throw err;
      }
    },
    async getCertAuthorities(type) {
      checkType(type);
      return (await getAllWithPrefix(backend, `/authorities/${type}/`)).map(parseStored);
    },
    async createCertAuthority(ca) {
      checkType(ca.spec.type);
      try {
        const lease = await backend.create({ key: certAuthorityKey(ca.spec.type, ca.spec.cluster_name), value: encodeJson(ca) });
        return { ca, revision: lease.revision };
      } catch (err) {
        if (isAlreadyExists(err)) throw new AlreadyExistsError(`${describe(ca.spec.type, ca.spec.cluster_name)} already exists`);
        throw err;
      }
    },
    async updateCertAuthority(ca, revision) {
      checkType(ca.spec.type);
      try {
        const lease = await backend.conditionalUpdate({
          key: certAuthorityKey(ca.spec.type, ca.spec.cluster_name),
          value: encodeJson(ca),
          revision,
        });
        return { ca, revision: lease.revision };
      } catch (err) {
        if (isCompareFailed(err) || isNotFound(err)) {
          throw new CompareFailedError(`${describe(ca.spec.type, ca.spec.cluster_name)} was changed concurrently, try again`);
        }
        throw err;
      }
    },
  };
}
