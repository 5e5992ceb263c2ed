/**
 * The light X.509 entry point (`@teleport-ts/core/ca/tlsca`): reading the Teleport identity of a certificate with
 * node:crypto and a bounded DER walk, without the X.509 issuance library. Issuing and verifying stay in
 * `@teleport-ts/core/ca`.
 */
export {
  NAME_OIDS,
  parseIdentity,
  readSubjectAttributes,
  TELEPORT_OIDS,
  type CertificateInput,
  type Identity,
  type RouteToDatabase,
  type SubjectAttribute,
} from './identity.js';
