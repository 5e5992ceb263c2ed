import { key } from '../backend/keys.js';
import type { Backend } from '../backend/types.js';
import { BadParameterError, isAlreadyExists } from '../errors/index.js';
import { authPreferenceToWire, parseAuthPreference, type AuthPreference } from '../types/index.js';
import { decodeJson, encodeJson, getOptional, storedForm } from './items.js';

/** Backend key of the cluster name (Teleport's `/cluster_configuration/name`). */
export const CLUSTER_NAME_KEY = key('cluster_configuration', 'name');
/** Backend key of the cluster auth preference. */
export const AUTH_PREFERENCE_KEY = key('cluster_configuration', 'authentication_preference');

/** The cluster name resource: set once, at the first start of the first auth server. */
export interface ClusterNameResource {
  kind: 'cluster_name';
  version: 'v2';
  metadata: { name: 'cluster-name' };
  spec: { cluster_name: string; cluster_id: string };
}

/** Cluster-wide settings (Teleport's `ClusterConfiguration` service). */
export interface ClusterConfigService {
  /** The stored cluster name, or `undefined` before the first start. */
  getClusterName(): Promise<ClusterNameResource | undefined>;
  /**
   * Stores the cluster name unless one is stored already, and returns the stored one: with several auth
   * servers starting together, exactly one name wins and every server reads it.
   */
  createClusterNameIfMissing(name: ClusterNameResource): Promise<ClusterNameResource>;
  /** The stored auth preference, or `undefined` when none is stored. */
  getAuthPreference(): Promise<AuthPreference | undefined>;
  setAuthPreference(pref: AuthPreference): Promise<AuthPreference>;
  /** Stores `pref` unless one is stored; returns the stored one. */
  createAuthPreferenceIfMissing(pref: AuthPreference): Promise<AuthPreference>;
}

function parseClusterName(raw: unknown): ClusterNameResource {
  const spec = (raw as { spec?: { cluster_name?: unknown; cluster_id?: unknown } } | null)?.spec;
  if (typeof spec?.cluster_name !== 'string' || spec.cluster_name === '') throw new BadParameterError('stored cluster name is malformed');
  return {
    kind: 'cluster_name',
    version: 'v2',
    metadata: { name: 'cluster-name' },
    spec: { cluster_name: spec.cluster_name, cluster_id: typeof spec.cluster_id === 'string' ? spec.cluster_id : '' },
  };
}

/**
 * @example
 * ```ts
 * const config = newClusterConfigService(backend);
 * const { spec } = await config.createClusterNameIfMissing(clusterNameResource('example.com'));
 * ```
 */
export function newClusterConfigService(backend: Backend): ClusterConfigService {
  const service: ClusterConfigService = {
    async getClusterName() {
      const item = await getOptional(backend, CLUSTER_NAME_KEY);
      return item === undefined ? undefined : parseClusterName(decodeJson(item));
    },
    async createClusterNameIfMissing(name) {
      try {
        await backend.create({ key: CLUSTER_NAME_KEY, value: encodeJson(name) });
        return name;
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
      }
      return parseClusterName(decodeJson(await backend.get(CLUSTER_NAME_KEY)));
    },
    async getAuthPreference() {
      const item = await getOptional(backend, AUTH_PREFERENCE_KEY);
      return item === undefined ? undefined : parseAuthPreference(decodeJson(item));
    },
    async setAuthPreference(pref) {
      await backend.put({ key: AUTH_PREFERENCE_KEY, value: encodeJson(storedForm(authPreferenceToWire(pref))) });
      return pref;
    },
    async createAuthPreferenceIfMissing(pref) {
      try {
        await backend.create({ key: AUTH_PREFERENCE_KEY, value: encodeJson(storedForm(authPreferenceToWire(pref))) });
        return pref;
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
      }
      return parseAuthPreference(decodeJson(await backend.get(AUTH_PREFERENCE_KEY)));
    },
  };
  return service;
}
