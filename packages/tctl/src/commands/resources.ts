/**
 * `tctl get`, `tctl create` and `tctl rm`: resources by reference (`role/dev`, `users`, `cap`), YAML in and out
 * (`tool/tctl/common/resource_command.go`).
 */

import { BadParameterError, isNotFound, AlreadyExistsError, NotFoundError } from '@teleport-ts/core/errors';
import {
  AUTH_PREFERENCE_NAME,
  resourceFromYaml,
  resourceToWire,
  resourceToYaml,
  type AuthPreference,
  type Lock,
  type NodeServer,
  type ProvisionToken,
  type Resource,
  type ResourceKind,
  type Role,
  type User,
} from '@teleport-ts/core/types';
import { readFile } from 'node:fs/promises';
import type { TctlApi } from '../api.js';
import type { TctlCommand } from '../command.js';
import { OUTPUT_FORMATS, parseFormat } from './format.js';
import { toJson } from '../render/serialize.js';
import { asciiTable } from '@teleport-ts/core/cli';
import { humanTime } from '../render/time.js';
import { tokensTable } from './tokens.js';
import { nodesTable } from './nodes.js';

const help = {
  get: 'Print a YAML declaration of various Teleport resources.',
  create: 'Create or update a Teleport resource from a YAML file.',
  rm: 'Delete a resource.',
} as const;

export type ResourcesApi = Pick<
  TctlApi,
  | 'getRoles'
  | 'getRole'
  | 'createRole'
  | 'upsertRole'
  | 'deleteRole'
  | 'getUsers'
  | 'getUser'
  | 'createUser'
  | 'updateUser'
  | 'deleteUser'
  | 'getTokens'
  | 'createToken'
  | 'deleteToken'
  | 'getAuthPreference'
  | 'setAuthPreference'
  | 'getLocks'
  | 'getLock'
  | 'upsertLock'
  | 'deleteLock'
  | 'getNodes'
  | 'upsertNode'
  | 'deleteNode'
>;

/** A parsed `kind[/name]` reference. */
export interface ResourceRef {
  kind: ResourceKind;
  name?: string;
}

const SHORTCUTS: Readonly<Record<string, ResourceKind>> = {
  role: 'role',
  roles: 'role',
  user: 'user',
  users: 'user',
  token: 'token',
  tokens: 'token',
  cluster_auth_preference: 'cluster_auth_preference',
  cluster_authentication_preferences: 'cluster_auth_preference',
  cap: 'cluster_auth_preference',
  lock: 'lock',
  locks: 'lock',
  node: 'node',
  nodes: 'node',
};

/** Teleport's `ParseShortcut`. */
function parseKind(text: string): ResourceKind {
  if (text === '') throw new BadParameterError('missing resource name');
  const kind = SHORTCUTS[text.toLowerCase()];
  if (kind === undefined) {
    throw new BadParameterError(
      `unsupported resource: ${JSON.stringify(text.slice(0, 64))} - resources should be expressed as 'type/name', for example 'role/editor'`,
    );
  }
  return kind;
}

/** Teleport's `ParseRef`: `kind`, or `kind/name`. */
export function parseRef(text: string): ResourceRef {
  const parts = text.split('/').filter((p) => p !== '');
  if (parts.length === 1) return { kind: parseKind(parts[0]!) };
  if (parts.length === 2) return { kind: parseKind(parts[0]!), name: parts[1]! };
  throw new BadParameterError(`failed to parse ${JSON.stringify(text.slice(0, 128))}, use kind or kind/name`);
}

/** Several references separated by commas (`role/a,user/b`). */
export function parseRefs(text: string): ResourceRef[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(parseRef);
}

/** Every node, or the one named (by UUID, as Teleport's `tctl get node/<uuid>`). */
async function getNodes(api: ResourcesApi, name: string | undefined): Promise<NodeServer[]> {
  const nodes = await api.getNodes();
  if (name === undefined) return nodes;
  const found = nodes.find((n) => n.metadata.name === name);
  if (found === undefined) throw new NotFoundError(`node ${JSON.stringify(name)} is not found`);
  return [found];
}

// ---- tctl get --------------------------------------------------------------------------------------------

export async function get(api: ResourcesApi, refs: readonly ResourceRef[]): Promise<Resource[]> {
  if (refs.length === 0) throw new BadParameterError('specify a resource to get, for example: tctl get roles');
  const out: Resource[] = [];
  for (const ref of refs) {
    switch (ref.kind) {
      case 'role':
        out.push(...(ref.name ? [await api.getRole(ref.name)] : await api.getRoles()));
        break;
      case 'user':
        out.push(...(ref.name ? [await api.getUser(ref.name)] : await api.getUsers()));
        break;
      case 'token': {
        const tokens = await api.getTokens();
        if (ref.name) {
          const found = tokens.find((t) => t.metadata.name === ref.name);
          if (!found) throw new NotFoundError('token is not found');
          out.push(found);
        } else {
          out.push(...tokens);
        }
        break;
      }
      case 'cluster_auth_preference':
        out.push(await api.getAuthPreference());
        break;
      case 'lock':
        out.push(...(ref.name ? [await api.getLock(ref.name)] : await api.getLocks()));
        break;
      case 'node':
        out.push(...(await getNodes(api, ref.name)));
        break;
    }
  }
  return out;
}

function textTable(resources: readonly Resource[], now: Date): string {
  const kinds = new Set(resources.map((r) => r.kind));
  const parts: string[] = [];
  const of = <R extends Resource>(kind: R['kind']): R[] => resources.filter((r): r is R => r.kind === kind);
  if (kinds.has('role')) {
    parts.push(
      asciiTable(
        ['Role', 'Allowed to login as', 'Node Labels', 'Access to resources'],
        of<Role>('role').map((r) => [
          r.metadata.name,
          r.spec.allow.logins.join(','),
          Object.entries(r.spec.allow.node_labels)
            .map(([k, v]) => (k === '*' ? '<all nodes>' : `${k}=${[v].flat().join(',')}`))
            .sort()
            .join(','),
          r.spec.allow.rules.map((rule) => `${rule.resources.join(',')}:${rule.verbs.join(',')}`).join(','),
        ]),
      ),
    );
  }
  if (kinds.has('user')) parts.push(asciiTable(['User'], of<User>('user').map((u) => [u.metadata.name])));
  if (kinds.has('token')) parts.push(tokensTable(of<ProvisionToken>('token'), { now }));
  if (kinds.has('cluster_auth_preference')) {
    parts.push(asciiTable(['Type', 'Second Factor'], of<AuthPreference>('cluster_auth_preference').map((p) => [p.spec.type, p.spec.second_factor])));
  }
  if (kinds.has('lock')) parts.push(locksTable(of<Lock>('lock')));
  if (kinds.has('node')) parts.push(nodesTable(of<NodeServer>('node')));
  return parts.join('\n');
}

/**
 * Teleport's `LockTarget.String()` (protobuf compact text): `User:"alice" Role:"dev"`, in the proto's field order,
 * so a lock reads the same here as in the server's `lock targeting ... is in force` refusals.
 */
function lockTargetText(lock: Lock): string {
  const t = lock.spec.target;
  const fields: [string, string | undefined][] = [['User', t.user], ['Role', t.role], ['Login', t.login], ['ServerID', t.server_id]];
  return fields
    .filter((f): f is [string, string] => f[1] !== undefined)
    .map(([label, value]) => `${label}:${JSON.stringify(value)}`)
    .join(' ');
}

/** Teleport's lock collection table: `ID`, `Target`, `Message`, `Expires` (`never` when the lock has no end). */
function locksTable(locks: readonly Lock[]): string {
  return asciiTable(
    ['ID', 'Target', 'Message', 'Expires'],
    locks.map((l) => {
      const until = l.spec.expires ?? l.metadata.expires;
      return [l.metadata.name, lockTargetText(l), l.spec.message ?? '', until === undefined ? 'never' : humanTime(new Date(until))];
    }),
  );
}

export function renderGet(resources: readonly Resource[], options: { format?: string; now?: Date }): string {
  switch (options.format) {
    case 'json':
      return toJson(resources.map(resourceToWire));
    case 'text':
      return textTable(resources, options.now ?? new Date());
    default:
      return resources.length === 0 ? '' : resourceToYaml(resources);
  }
}

// ---- tctl create -----------------------------------------------------------------------------------------

/** Roles before the users that need them; locks last, so a failure earlier in the file leaves no lock behind. */
const CREATE_ORDER: Readonly<Record<ResourceKind, number>> = { role: 0, user: 1, token: 2, cluster_auth_preference: 3, lock: 4, node: 5 };

export interface CreateOptions {
  force?: boolean;
}

export interface Created {
  kind: ResourceKind;
  name: string;
  verb: 'created' | 'updated';
}

async function exists(fetch: () => Promise<unknown>): Promise<boolean> {
  try {
    await fetch();
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

/**
 * Refuses a lock that would already be expired, as the auth server does, but before anything in the file is
 * written: otherwise the roles and users ahead of it would be created and the command would still fail.
 */
function checkLockExpiry(lock: Lock, now: Date): void {
  const until = lock.spec.expires;
  if (until !== undefined && Date.parse(until) <= now.getTime()) {
    throw new BadParameterError(`lock ${JSON.stringify(lock.metadata.name)} would expire at ${until}, which is not in the future`);
  }
}

type PlannedWrite = { resource: Resource; existed: boolean };

/** Whether the resource is already on the server (tokens come from one listing, fetched by the caller). */
async function existsOnServer(api: ResourcesApi, resource: Resource, tokens: readonly ProvisionToken[]): Promise<boolean> {
  switch (resource.kind) {
    case 'role':
      return exists(() => api.getRole(resource.metadata.name));
    case 'user':
      return exists(() => api.getUser(resource.metadata.name));
    case 'token':
      return tokens.some((t) => t.metadata.name === resource.metadata.name);
    case 'lock':
      return exists(() => api.getLock(resource.metadata.name));
    case 'node':
      return exists(() => getNodes(api, resource.metadata.name));
    default:
      return true;
  }
}

/** Checks every resource against the server before anything is written: duplicates, existing ones without `-f`, expired locks. */
async function planCreate(api: ResourcesApi, resources: readonly Resource[], options: CreateOptions, now: () => Date): Promise<PlannedWrite[]> {
  const tokens = resources.some((r) => r.kind === 'token') ? await api.getTokens() : [];
  const plan: PlannedWrite[] = [];
  const seen = new Set<string>();
  for (const resource of resources) {
    const id = `${resource.kind}/${resource.metadata.name}`;
    if (seen.has(id)) throw new BadParameterError(`${resource.kind === 'token' ? 'a token' : id} appears twice in the input`);
    seen.add(id);
    const existed = await existsOnServer(api, resource, tokens);
    if (existed && !options.force && resource.kind !== 'cluster_auth_preference') {
      throw new AlreadyExistsError(
        resource.kind === 'token' ? 'token already exists' : `${resource.kind} ${JSON.stringify(resource.metadata.name)} already exists`,
        { hint: 'use -f or --force flag to overwrite' },
      );
    }
    if (resource.kind === 'lock') checkLockExpiry(resource, now());
    plan.push({ resource, existed });
  }
  return plan;
}

/** Every role a user of the file names must exist on the server or come from the same file. */
async function checkUserRoles(api: ResourcesApi, resources: readonly Resource[]): Promise<void> {
  const newRoles = new Set(resources.filter((r) => r.kind === 'role').map((r) => r.metadata.name));
  for (const resource of resources) {
    if (resource.kind !== 'user') continue;
    for (const role of resource.spec.roles) {
      if (!newRoles.has(role)) await api.getRole(role);
    }
  }
}

async function createUser(api: ResourcesApi, user: User): Promise<void> {
  const { labels, description } = user.metadata;
  // Teleport reads the user's expiry from metadata.expires, else spec.expires.
  const expires = user.metadata.expires ?? user.spec.expires;
  await api.createUser({
    name: user.metadata.name,
    roles: user.spec.roles,
    traits: user.spec.traits,
    invite: false,
    ...(labels ? { labels } : {}),
    ...(description !== undefined ? { description } : {}),
    ...(expires !== undefined ? { expires } : {}),
  });
}

async function writeToken(api: ResourcesApi, token: ProvisionToken, existed: boolean, now: () => Date): Promise<void> {
  if (existed) await api.deleteToken(token.metadata.name);
  const expires = token.metadata.expires ? Date.parse(token.metadata.expires) - now().getTime() : undefined;
  if (expires !== undefined && expires <= 0) throw new BadParameterError('token: metadata.expires is in the past');
  await api.createToken({
    name: token.metadata.name,
    roles: token.spec.roles,
    ...(expires !== undefined ? { ttl: expires } : {}),
    ...(token.metadata.labels ? { labels: token.metadata.labels } : {}),
  });
}

async function writeResource(api: ResourcesApi, { resource, existed }: PlannedWrite, now: () => Date): Promise<void> {
  switch (resource.kind) {
    case 'role':
      await (existed ? api.upsertRole(resource) : api.createRole(resource));
      break;
    case 'user':
      await (existed ? api.updateUser(resource) : createUser(api, resource));
      break;
    case 'token':
      await writeToken(api, resource, existed, now);
      break;
    case 'cluster_auth_preference':
      await api.setAuthPreference(resource);
      break;
    case 'lock':
      // Upsert either way: existence was checked above, and -f means replace.
      await api.upsertLock(resource);
      break;
    case 'node':
      await api.upsertNode(resource);
      break;
  }
}

/**
 * Creates (or with `force`, updates) every resource of a YAML document stream. Everything is parsed and
 * checked first: malformed YAML, an existing resource without `-f`, or a user whose role exists neither on the
 * server nor in the same file stop it before anything is written. Roles are written before users. A user is
 * created without an invite, as Teleport's `tctl create` does (`tctl users reset` makes the link).
 */
export async function create(api: ResourcesApi, yamlText: string, options: CreateOptions, now: () => Date = () => new Date()): Promise<Created[]> {
  const resources = resourceFromYaml(yamlText);
  if (resources.length === 0) throw new BadParameterError('no resources found in the input');
  const plan = await planCreate(api, resources, options, now);
  await checkUserRoles(api, resources);
  plan.sort((a, b) => CREATE_ORDER[a.resource.kind] - CREATE_ORDER[b.resource.kind]);
  const done: Created[] = [];
  for (const write of plan) {
    await writeResource(api, write, now);
    done.push({ kind: write.resource.kind, name: write.resource.metadata.name, verb: write.existed ? 'updated' : 'created' });
  }
  return done;
}

export function renderCreate(created: readonly Created[]): string {
  return created
    .map((c) => {
      switch (c.kind) {
        case 'token':
          return `token has been ${c.verb}\n`;
        case 'cluster_auth_preference':
          return 'cluster auth preference has been updated\n';
        default:
          return `${c.kind} ${JSON.stringify(c.name)} has been ${c.verb}\n`;
      }
    })
    .join('');
}

// ---- tctl rm ---------------------------------------------------------------------------------------------

/** Checks that a reference names one resource that can be deleted. */
function checkRemove(ref: ResourceRef): void {
  if (ref.kind === 'cluster_auth_preference') throw new BadParameterError(`${AUTH_PREFERENCE_NAME} cannot be deleted; update it with tctl create -f`);
  if (!ref.name) {
    throw new BadParameterError(`provide a full resource name to delete, for example: tctl rm ${ref.kind}/${ref.kind === 'user' ? 'alice' : 'example'}`);
  }
}

export async function remove(api: ResourcesApi, ref: ResourceRef): Promise<ResourceRef> {
  checkRemove(ref);
  const name = ref.name!;
  switch (ref.kind) {
    case 'role':
      await api.deleteRole(name);
      break;
    case 'user':
      await api.deleteUser(name);
      break;
    case 'token':
      await api.deleteToken(name);
      break;
    case 'lock':
      await api.deleteLock(name);
      break;
    case 'node':
      await api.deleteNode(name);
      break;
    default:
      throw new BadParameterError(`${AUTH_PREFERENCE_NAME} cannot be deleted; update it with tctl create -f`);
  }
  return ref;
}

export function renderRemove(ref: ResourceRef): string {
  return `${ref.kind} ${JSON.stringify(ref.name)} has been deleted\n`;
}

// ---- descriptors -----------------------------------------------------------------------------------------

/** `tctl get <kind[/name]>[,...] [--format yaml|json|text]`. */
export const getCommand: TctlCommand<{ format: string }, Resource[]> = {
  name: 'get',
  help: help.get,
  args: [{ name: '<resources>', description: 'Resource spec: type/[name][,...]' }],
  options: [{ flags: '--format <format>', description: `Output format: ${OUTPUT_FORMATS.join(', ')}.`, default: 'yaml' }],
  handler: async ({ args, opts }, ctx) => {
    const refs = parseRefs(args[0]!);
    parseFormat(opts.format, OUTPUT_FORMATS, 'yaml');
    return get(await ctx.api(), refs);
  },
  render: (resources, { opts }, ctx) => renderGet(resources, { format: parseFormat(opts.format, OUTPUT_FORMATS, 'yaml'), now: ctx.now() }),
};

async function readResourceFile(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`file ${file} does not exist`);
    throw err;
  }
}

/** `tctl create [-f] [filename]`: the file (or stdin) is read and parsed before connecting. */
export const createCommand: TctlCommand<CreateOptions, Created[]> = {
  name: 'create',
  help: help.create,
  args: [{ name: '[filename]', description: 'Resource definition file, empty for stdin.' }],
  options: [{ flags: '-f, --force', description: 'Overwrite the resource if already exists.', default: false }],
  handler: async ({ args, opts }, ctx) => {
    const filename = args[0];
    const text = filename && filename !== '-' ? await readResourceFile(filename) : await ctx.readStdin();
    resourceFromYaml(text);
    return create(await ctx.api(), text, opts, ctx.now);
  },
  render: (created) => renderCreate(created),
};

/** `tctl rm <kind/name>`. */
export const rmCommand: TctlCommand<object, ResourceRef> = {
  name: 'rm',
  aliases: ['del'],
  help: help.rm,
  args: [{ name: '<resource>', description: 'Resource to delete: type/name.' }],
  handler: async ({ args }, ctx) => {
    const ref = parseRef(args[0]!);
    checkRemove(ref);
    return remove(await ctx.api(), ref);
  },
  render: (ref) => renderRemove(ref),
};
