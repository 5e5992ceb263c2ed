/**
 * The profile store under `$TELEPORT_HOME` (default `~/.tsh`), in Teleport's layout:
 *
 * ```
 * current-profile                         name of the active profile (the proxy host)
 * <proxy>.yaml                            profile: proxy address, user, cluster
 * keys/<proxy>/<user>                     SSH private key, OpenSSH format (0600)
 * keys/<proxy>/<user>.pub                 SSH public key
 * keys/<proxy>/<user>.key                 TLS private key, PKCS#8 PEM (0600)
 * keys/<proxy>/<user>-x509.pem            TLS certificate (also as <user>.crt)
 * keys/<proxy>/<user>-ssh/<cluster>-cert.pub   SSH certificate
 * keys/<proxy>/<user>-db/<cluster>/<db>-x509.pem   database certificates (for the TLS key `<user>.key`)
 * keys/<proxy>/cas/<cluster>.pem          the cluster's host CA certificates
 * known_hosts                             `@cert-authority` lines of every cluster's SSH host CA (for tsh and OpenSSH)
 * ```
 */

import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readOptional, writeAtomic } from '../api/files.js';
import { bareKey } from '../ca/export.js';
import { BadParameterError } from '../errors/index.js';
import { checkNewName, quoteName } from '../types/names.js';
import { parseFlatYaml, toYaml } from './yaml.js';

/** `$TELEPORT_HOME`, else `~/.tsh`. */
export function teleportHome(env: NodeJS.ProcessEnv = process.env): string {
  const home = env['TELEPORT_HOME'];
  return home !== undefined && home !== '' ? path.resolve(home) : path.join(os.homedir(), '.tsh');
}

/** A profile as stored in `<proxy>.yaml` (Teleport's field names). */
export interface Profile {
  /** `host:port` of the proxy's web listener. */
  web_proxy_addr: string;
  /** With TLS routing, the same port. */
  ssh_proxy_addr: string;
  postgres_proxy_addr?: string;
  user: string;
  /** The cluster name. */
  site_name: string;
  tls_routing_enabled: boolean;
}

/** What a login writes. Private keys are secrets. */
export interface LoginKeys {
  sshPrivateKey: string;
  sshPublicKey: string;
  tlsPrivateKey: string;
  tlsCert: string;
  sshCert: string;
  /** Host CA certificates of the cluster. */
  tlsCaCerts: string[];
  /** The cluster's SSH host CA public keys (`ssh-ed25519 AAAA...`), for `known_hosts`. */
  sshHostCaKeys?: string[];
}

/** The profile name of a proxy address: its host, as Teleport names profiles. */
export function profileName(webProxyAddr: string): string {
  const bracket = /^\[([^\]]+)\]/.exec(webProxyAddr);
  if (bracket) return bracket[1]!;
  const i = webProxyAddr.lastIndexOf(':');
  return i < 0 ? webProxyAddr : webProxyAddr.slice(0, i);
}

const SAFE_NAME = /^[A-Za-z0-9._@:-]+$/;

function checkName(what: string, value: string): string {
  // Names become path components: nothing that could climb out of the store. A user name follows the server's rule.
  if (what === 'user') return checkNewName('user', value);
  if (!SAFE_NAME.test(value) || value === '.' || value === '..') throw new BadParameterError(`invalid ${what} ${quoteName(value)}`);
  return value;
}

/** Paths of one user's keys under a proxy. */
export function keyPaths(home: string, proxy: string, user: string, cluster: string) {
  const dir = path.join(home, 'keys', checkName('proxy', proxy));
  const u = checkName('user', user);
  const c = checkName('cluster', cluster);
  return {
    dir,
    sshKey: path.join(dir, u),
    sshPub: path.join(dir, `${u}.pub`),
    tlsKey: path.join(dir, `${u}.key`),
    tlsCert: path.join(dir, `${u}-x509.pem`),
    tlsCertCrt: path.join(dir, `${u}.crt`),
    sshCertDir: path.join(dir, `${u}-ssh`),
    dbCertDir: path.join(dir, `${u}-db`, c),
    sshCert: path.join(dir, `${u}-ssh`, `${c}-cert.pub`),
    casDir: path.join(dir, 'cas'),
    cas: path.join(dir, 'cas', `${c}.pem`),
  };
}

/** Writes the keys, certificates and profile of a login and makes it the current profile. */
export async function saveLogin(home: string, profile: Profile, keys: LoginKeys): Promise<void> {
  const name = checkName('proxy', profileName(profile.web_proxy_addr));
  const p = keyPaths(home, name, profile.user, profile.site_name);
  await mkdir(home, { recursive: true, mode: 0o700 });
  for (const d of [p.dir, p.sshCertDir, p.casDir]) await mkdir(d, { recursive: true, mode: 0o700 });
  await writeAtomic(p.sshKey, keys.sshPrivateKey, 0o600);
  await writeAtomic(p.sshPub, `${keys.sshPublicKey.trim()}\n`, 0o644);
  await writeAtomic(p.tlsKey, keys.tlsPrivateKey, 0o600);
  await writeAtomic(p.tlsCert, keys.tlsCert, 0o644);
  await writeAtomic(p.tlsCertCrt, keys.tlsCert, 0o644);
  await writeAtomic(p.sshCert, `${keys.sshCert.trim()}\n`, 0o644);
  await writeAtomic(p.cas, keys.tlsCaCerts.map((c) => `${c.trim()}\n`).join(''), 0o644);
  // Database certificates were issued for the previous TLS key: they go with it, as in Teleport.
  await rm(path.join(p.dir, `${profile.user}-db`), { recursive: true, force: true });
  if (keys.sshHostCaKeys !== undefined) await saveKnownHosts(home, name, profile.site_name, keys.sshHostCaKeys);
  await writeAtomic(path.join(home, `${name}.yaml`), toYaml({ ...profile }), 0o600);
  await writeAtomic(path.join(home, 'current-profile'), name, 0o600);
}

/** `<home>/known_hosts`, shared by every profile, as in Teleport. */
export function knownHostsPath(home: string): string {
  return path.join(home, 'known_hosts');
}

/**
 * Teleport's `known_hosts` line for a cluster's SSH host CA: any host of the cluster (`*.<cluster>`), the cluster
 * name and the proxy host are trusted when they present a host certificate signed by `publicKeyLine`.
 */
function knownHostsLine(proxyHost: string, cluster: string, publicKeyLine: string): string {
  return `@cert-authority ${proxyHost},${cluster},*.${cluster} ${bareKey(publicKeyLine)} type=host`;
}

/** Replaces this proxy's and cluster's `@cert-authority` lines in `known_hosts`; other lines, and the file's mode, stay. */
async function saveKnownHosts(home: string, proxyHost: string, cluster: string, caKeys: readonly string[]): Promise<void> {
  const file = knownHostsPath(home);
  const hosts = `${proxyHost},${cluster},*.${cluster}`;
  const kept = ((await readOptional(file)) ?? '').split('\n').filter((line) => line.trim() !== '' && line.split(/\s+/)[1] !== hosts);
  const lines = [...kept, ...caKeys.map((k) => knownHostsLine(proxyHost, cluster, k))];
  const mode = await stat(file).then((st) => st.mode & 0o777, () => 0o644);
  await writeAtomic(file, lines.map((l) => `${l}\n`).join(''), mode);
}

/**
 * Replaces the profile's cluster's SSH host CA keys in `known_hosts` with `caKeys` (`type base64` lines), as a login
 * does: tsh calls it with the keys the proxy exports after a host CA rotation, instead of a new login.
 */
export async function saveHostCaKeys(home: string, profile: Profile, caKeys: readonly string[]): Promise<void> {
  await saveKnownHosts(home, checkName('proxy', profileName(profile.web_proxy_addr)), profile.site_name, caKeys);
}

/**
 * Replaces the profile's user certificates with re-issued ones for the same keys (`tsh request new|drop`, `tsh login
 * --request-id`). Database certificates carry the roles of the certificate they came from, so they are removed.
 */
export async function saveReissuedCerts(home: string, profile: Profile, certs: { tlsCert: string; sshCert: string }): Promise<void> {
  const p = keyPaths(home, checkName('proxy', profileName(profile.web_proxy_addr)), profile.user, profile.site_name);
  await writeAtomic(p.tlsCert, certs.tlsCert, 0o644);
  await writeAtomic(p.tlsCertCrt, certs.tlsCert, 0o644);
  await writeAtomic(p.sshCert, `${certs.sshCert.trim()}\n`, 0o644);
  await rm(path.join(p.dir, `${profile.user}-db`), { recursive: true, force: true });
}

/** The name in `current-profile`, if any. */
export async function currentProfileName(home: string): Promise<string | undefined> {
  const text = (await readOptional(path.join(home, 'current-profile')))?.trim();
  return text === undefined || text === '' ? undefined : text;
}

/** Reads `<name>.yaml`; `undefined` when absent or incomplete. */
export async function readProfile(home: string, name: string): Promise<Profile | undefined> {
  if (!SAFE_NAME.test(name)) return undefined;
  const text = await readOptional(path.join(home, `${name}.yaml`));
  if (text === undefined) return undefined;
  const doc = parseFlatYaml(text);
  const str = (k: string): string | undefined => (typeof doc[k] === 'string' && doc[k] !== '' ? (doc[k] as string) : undefined);
  const web = str('web_proxy_addr');
  const user = str('user');
  const site = str('site_name');
  if (web === undefined || user === undefined || site === undefined) return undefined;
  return {
    web_proxy_addr: web,
    ssh_proxy_addr: str('ssh_proxy_addr') ?? web,
    ...(str('postgres_proxy_addr') ? { postgres_proxy_addr: str('postgres_proxy_addr')! } : {}),
    user,
    site_name: site,
    tls_routing_enabled: doc['tls_routing_enabled'] !== false,
  };
}

/** Names of every profile in the store (`*.yaml`). */
export async function listProfileNames(home: string): Promise<string[]> {
  let entries: string[];
  try {
    entries = await readdir(home);
  } catch {
    return [];
  }
  return entries.filter((e) => e.endsWith('.yaml')).map((e) => e.slice(0, -'.yaml'.length)).sort();
}

/** The SSH certificate line of a profile's user, if the keys are there. */
export async function readSshCert(home: string, profile: Profile): Promise<string | undefined> {
  const p = keyPaths(home, profileName(profile.web_proxy_addr), profile.user, profile.site_name);
  return readOptional(p.sshCert);
}

/**
 * Removes every key and certificate of every proxy. Profiles (`<proxy>.yaml`, `current-profile`) stay, as in
 * Teleport, so a later `tsh login` remembers the proxy. Returns how many proxies had keys.
 */
export async function removeAllKeys(home: string): Promise<number> {
  const keysDir = path.join(home, 'keys');
  let proxies: string[];
  try {
    proxies = await readdir(keysDir);
  } catch {
    return 0;
  }
  await rm(keysDir, { recursive: true, force: true });
  return proxies.length;
}

/** The path of a database certificate: `keys/<proxy>/<user>-db/<cluster>/<db>-x509.pem`. */
export function databaseCertPath(home: string, profile: Profile, database: string): string {
  const p = keyPaths(home, profileName(profile.web_proxy_addr), profile.user, profile.site_name);
  return path.join(p.dbCertDir, `${checkName('database', database)}-x509.pem`);
}

/** Stores a database certificate of the profile's user. */
export async function saveDatabaseCert(home: string, profile: Profile, database: string, certPem: string): Promise<string> {
  const file = databaseCertPath(home, profile, database);
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await writeAtomic(file, certPem, 0o644);
  return file;
}

const DB_CERT_SUFFIX = '-x509.pem';

/** Every database certificate of the profile's user in its cluster: `[database, PEM]`, by name. */
export async function readDatabaseCerts(home: string, profile: Profile): Promise<[string, string][]> {
  const dir = path.dirname(databaseCertPath(home, profile, 'x'));
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    return [];
  }
  const out: [string, string][] = [];
  for (const entry of entries.filter((e) => e.endsWith(DB_CERT_SUFFIX)).sort()) {
    const pem = await readOptional(path.join(dir, entry));
    if (pem !== undefined) out.push([entry.slice(0, -DB_CERT_SUFFIX.length), pem]);
  }
  return out;
}

/** Removes one database certificate; false when there was none. */
export async function removeDatabaseCert(home: string, profile: Profile, database: string): Promise<boolean> {
  const file = databaseCertPath(home, profile, database);
  const existed = (await readOptional(file)) !== undefined;
  await rm(file, { force: true });
  return existed;
}

/** The user's TLS credentials and the cluster's host CAs, as a login stored them. */
export interface TlsCredentials {
  /** PKCS#8 PEM. A secret. */
  key: string;
  cert: string;
  caCerts: string[];
  /** `ssh-ed25519 AAAA...` */
  sshPublicKey: string;
  paths: ReturnType<typeof keyPaths>;
}

/** Reads the profile user's TLS key, certificate and CAs; `undefined` when any is missing (not logged in). */
export async function readTlsCredentials(home: string, profile: Profile): Promise<TlsCredentials | undefined> {
  const paths = keyPaths(home, profileName(profile.web_proxy_addr), profile.user, profile.site_name);
  const [key, cert, cas, sshPublicKey] = await Promise.all([readOptional(paths.tlsKey), readOptional(paths.tlsCert), readOptional(paths.cas), readOptional(paths.sshPub)]);
  if (key === undefined || cert === undefined || cas === undefined || sshPublicKey === undefined) return undefined;
  const caCerts = cas.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return { key, cert, caCerts: caCerts.map((c) => `${c}\n`), sshPublicKey: sshPublicKey.trim(), paths };
}
