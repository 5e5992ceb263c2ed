/**
 * First start of an auth server (and every start after it): the cluster name, the CAs, the preset roles
 * and the auth preference, created when missing. Safe with several auth servers starting together on one
 * backend: each item is created with `create`, so exactly one writer wins and the others read its value.
 */

import { randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Clock } from '@teleport-ts/core/clock';
import { BadParameterError, isAlreadyExists, isNotFound } from '@teleport-ts/core/errors';
import { CERT_AUTHORITY_TYPES, newCertAuthority } from '@teleport-ts/core/ca';
import { presetRoles } from '@teleport-ts/core/rbac';
import { parseAuthPreference, type AuthPreference } from '@teleport-ts/core/types';
import type { AuthenticationConfig } from '@teleport-ts/core/config';
import type { Backend } from '@teleport-ts/core/backend';
import { newAccessService, newClusterConfigService, newTrustService } from '@teleport-ts/core/services';
import type { Logger } from '../../logger.js';

/** The file holding this host's UUID, as Teleport's `<data_dir>/host_uuid`. */
const HOST_UUID_FILE = 'host_uuid';

/** Reads `<dataDir>/host_uuid`, creating it with a random UUID on the first start. */
export async function loadOrCreateHostUuid(dataDir: string): Promise<string> {
  const file = path.join(dataDir, HOST_UUID_FILE);
  try {
    const text = (await readFile(file, 'utf8')).trim();
    if (/^[0-9a-f-]{36}$/i.test(text)) return text;
    throw new BadParameterError(`${file} does not hold a UUID`, { hint: 'delete it to get a new host UUID' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const uuid = randomUUID();
  try {
    await writeFile(file, `${uuid}\n`, { mode: 0o600, flag: 'wx' });
    return uuid;
  } catch (err) {
    // Another process started at the same time and wrote one: use it.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return (await readFile(file, 'utf8')).trim();
    throw err;
  }
}

export interface InitClusterOptions {
  backend: Backend;
  clock: Clock;
  logger: Logger;
  /** The name to give a new cluster. */
  clusterName: string;
  /** True when the name came from `auth_service.cluster_name`: then a different stored name is an error. */
  clusterNameFromConfig: boolean;
  authentication?: AuthenticationConfig;
}

/**
 * Creates what a cluster needs and returns its (stored) name.
 *
 * @example
 * ```ts
 * const clusterName = await initCluster({ backend, clock, logger, clusterName: 'example.com', clusterNameFromConfig: true });
 * ```
 */
export async function initCluster(options: InitClusterOptions): Promise<string> {
  const { clock, logger } = options;
  const config = newClusterConfigService(options.backend);
  const trust = newTrustService(options.backend);
  const access = newAccessService(options.backend);
  const stored = await config.createClusterNameIfMissing({
    kind: 'cluster_name',
    version: 'v2',
    metadata: { name: 'cluster-name' },
    spec: { cluster_name: options.clusterName, cluster_id: randomUUID() },
  });
  const clusterName = stored.spec.cluster_name;
  if (clusterName !== options.clusterName) {
    if (options.clusterNameFromConfig) {
      throw new BadParameterError(
        `auth_service.cluster_name is ${JSON.stringify(options.clusterName)} but the backend holds cluster ${JSON.stringify(clusterName)}`,
        { hint: 'a cluster name cannot change once set: use the stored name or a new backend' },
      );
    }
    logger.debug('using the cluster name stored in the backend', { cluster: clusterName });
  }

  for (const type of CERT_AUTHORITY_TYPES) {
    try {
      await trust.getCertAuthority(type, clusterName);
      continue;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    const ca = await newCertAuthority({ clusterName, type, clock });
    try {
      await trust.createCertAuthority(ca);
      logger.info('created certificate authority', { type, cluster: clusterName });
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
  }

  for (const role of presetRoles()) {
    try {
      await access.createRole(role);
      logger.info('created preset role', { role: role.metadata.name });
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
  }

  const a = options.authentication;
  if (a && (a.type !== undefined || a.second_factor !== undefined)) {
    // Set in teleport.yaml: the file wins over what is stored, as in Teleport.
    const pref: AuthPreference = parseAuthPreference({
      kind: 'cluster_auth_preference',
      spec: { ...(a.type !== undefined ? { type: a.type } : {}), ...(a.second_factor !== undefined ? { second_factor: a.second_factor } : {}) },
    });
    await config.setAuthPreference(pref);
  } else {
    await config.createAuthPreferenceIfMissing(parseAuthPreference({ kind: 'cluster_auth_preference' }));
  }
  return clusterName;
}
