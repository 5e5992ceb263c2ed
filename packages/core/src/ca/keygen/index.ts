/**
 * The key generation entry point (`@teleport-ts/core/ca/keygen`): key pairs in Teleport's suites and the OpenSSH
 * private key format, on node:crypto alone, for clients that make their own keys (`tsh login`) without loading the
 * certificate issuance behind `@teleport-ts/core/ca`.
 */
export { BALANCED_V1, generateKeyPair, sshPublicKeyLine, type KeyAlgorithm, type KeyPairPem, type KeyPurpose } from '../keys.js';
export { toOpenSshPrivateKey } from '../sshca/privatekey.js';
