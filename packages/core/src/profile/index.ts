/**
 * Client profiles on disk (Teleport's `api/profile`): the `~/.tsh` layout tsh writes at login and any client (a web
 * UI, a plugin) can read. Light: node:fs and the error kinds only, no crypto, no YAML library.
 */
export {
  currentProfileName,
  databaseCertPath,
  keyPaths,
  knownHostsPath,
  listProfileNames,
  profileName,
  readDatabaseCerts,
  readProfile,
  readSshCert,
  readTlsCredentials,
  removeAllKeys,
  removeDatabaseCert,
  saveDatabaseCert,
  saveHostCaKeys,
  saveLogin,
  saveReissuedCerts,
  teleportHome,
  type LoginKeys,
  type Profile,
  type TlsCredentials,
} from './store.js';
export { parseFlatYaml, toYaml, type Plain } from './yaml.js';
/** The name rule of core/types, without the schemas: tsh checks a user name before it logs in. */
export { checkNewName } from '../types/names.js';
