import { key } from '../backend/keys.js';
import type { Backend } from '../backend/types.js';
import { AlreadyExistsError, NotFoundError, isAlreadyExists, isNotFound } from '../errors/index.js';
import { parseRole, roleToWire, type Role } from '../types/index.js';
import { decodeJson, encodeJson, getAllWithPrefix, getOptional, storedForm, withRevision } from './items.js';

const ROLES_PREFIX = '/roles/';

/** Backend key of a role (`/roles/<name>/params`). */
export function roleKey(name: string): string {
  return key('roles', name, 'params');
}

/** Roles storage (Teleport's `Access` service). Reads fill `metadata.revision`. */
export interface AccessService {
  getRole(name: string): Promise<Role>;
  getRoles(): Promise<Role[]>;
  /** Throws already-exists when the role exists. */
  createRole(role: Role): Promise<Role>;
  /** Creates or replaces; resolves to whether the role existed before. */
  upsertRole(role: Role): Promise<{ role: Role; existed: boolean }>;
  deleteRole(name: string): Promise<void>;
}

function parseStoredRole(item: { key: string; value: Uint8Array; revision: string }): Role {
  return parseRole(withRevision(decodeJson(item), item));
}

/** Parsed roles remembered per service (a role is checked on every database session and API request). */
const PARSED_ROLES_MAX = 1024;

/**
 * Parses a stored role once per stored form: the same revision with the same bytes is the same (deep-frozen) role.
 * Parsing one is about a millisecond (schema and freeze), paid otherwise by every session that reads it.
 */
function newParsedRoles(): (item: { key: string; value: Uint8Array; revision: string }) => Role {
  const parsed = new Map<string, { revision: string; value: Uint8Array; role: Role }>();
  return (item) => {
    const hit = parsed.get(item.key);
    if (hit !== undefined && hit.revision === item.revision && Buffer.from(hit.value.buffer, hit.value.byteOffset, hit.value.byteLength).equals(item.value)) return hit.role;
    const role = parseStoredRole(item);
    if (hit === undefined && parsed.size >= PARSED_ROLES_MAX) parsed.delete(parsed.keys().next().value!);
    parsed.set(item.key, { revision: item.revision, value: Uint8Array.from(item.value), role });
    return role;
  };
}

/**
 * @example
 * ```ts
 * const access = newAccessService(backend);
 * const checker = await accessCheckerForUser(user, access);
 * ```
 */
export function newAccessService(backend: Backend): AccessService {
  const value = (role: Role): Uint8Array => encodeJson(storedForm(roleToWire(role)));
  const parseRoleItem = newParsedRoles();
  return {
    async getRole(name) {
      try {
        return parseRoleItem(await backend.get(roleKey(name)));
      } catch (err) {
        if (isNotFound(err)) throw new NotFoundError(`role ${JSON.stringify(name)} is not found`);
        throw err;
      }
    },
    async getRoles() {
      const items = await getAllWithPrefix(backend, ROLES_PREFIX);
      return items.filter((i) => i.key.endsWith('/params')).map(parseRoleItem);
    },
    async createRole(role) {
      try {
        const lease = await backend.create({ key: roleKey(role.metadata.name), value: value(role) });
        return parseRole(withRevision(roleToWire(role), lease));
      } catch (err) {
        if (isAlreadyExists(err)) throw new AlreadyExistsError(`role ${JSON.stringify(role.metadata.name)} already exists`);
        throw err;
      }
    },
    async upsertRole(role) {
      const k = roleKey(role.metadata.name);
      const existed = (await getOptional(backend, k)) !== undefined;
      const lease = await backend.put({ key: k, value: value(role) });
      return { role: parseRole(withRevision(roleToWire(role), lease)), existed };
    },
    async deleteRole(name) {
      try {
        await backend.delete(roleKey(name));
      } catch (err) {
        if (isNotFound(err)) throw new NotFoundError(`role ${JSON.stringify(name)} is not found`);
        throw err;
      }
    },
  };
}
