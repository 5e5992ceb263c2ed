/**
 * `tctl users add|ls|rm|reset|update`, with Teleport's flags and texts (`tool/tctl/common/user_command.go`).
 */

import { BadParameterError, isAlreadyExists, TeleportError } from '@teleport-ts/core/errors';
import { checkNewName, formatDurationShort, parseTtl, parseUser, userToWire, TRAIT_DB_NAMES, TRAIT_DB_USERS, TRAIT_LOGINS, type User } from '@teleport-ts/core/types';
import type { TctlApi, UserTokenInfo } from '../api.js';
import type { CommandGroup, TctlCommand } from '../command.js';
import { toJson } from '../render/serialize.js';
import { asciiTable } from '@teleport-ts/core/cli';
import { flattenList } from './lists.js';

/** Teleport's `defaults.SignupTokenTTL` and `MaxSignupTokenTTL`. */
const SIGNUP_TOKEN_TTL = '1h';
const MAX_SIGNUP_TOKEN_TTL_MS = 48 * 3_600_000;
/** Teleport's `defaults.ChangePasswordTokenTTL` and `MaxChangePasswordTokenTTL`. */
const RESET_TOKEN_TTL = '8h';
const MAX_RESET_TOKEN_TTL_MS = 24 * 3_600_000;

const help = {
  users: 'Manage user accounts.',
  add: 'Generate a user invitation token [Teleport local users only].',
  ls: 'Lists all user accounts.',
  rm: 'Deletes user accounts.',
  reset: 'Reset user password and generate a new token [Teleport local users only].',
  update: 'Update user account.',
} as const;

export type UsersApi = Pick<TctlApi, 'getUsers' | 'getUser' | 'getRole' | 'createUser' | 'updateUser' | 'deleteUser' | 'createResetPasswordToken'>;

function tokenTtl(text: string | undefined, fallback: string, maxMs: number): number {
  return parseTtl(text ?? fallback, { maxMs });
}

async function checkRolesExist(api: Pick<TctlApi, 'getRole'>, roles: readonly string[]): Promise<void> {
  // The server checks too; checking first means nothing is created when a role is misspelled.
  for (const role of roles) await api.getRole(role);
}

// ---- users add -------------------------------------------------------------------------------------------

export interface AddOptions {
  roles?: string[];
  logins?: string[];
  dbUsers?: string[];
  dbNames?: string[];
  ttl?: string;
  format?: string;
}

export interface InviteResult {
  token: UserTokenInfo;
  /** When tctl asked for the token, to print how long the link is valid. */
  requested: Date;
  /** The lifetime asked for, ms. */
  ttlMs: number;
}

/** Checks the flags of `users add`; the CLI runs it before connecting. */
function checkAdd(name: string, options: AddOptions): { roles: string[]; ttlMs: number } {
  checkNewName('user', name);
  const roles = flattenList(options.roles);
  if (roles.length === 0) throw new BadParameterError('required flag --roles not provided');
  return { roles, ttlMs: tokenTtl(options.ttl, SIGNUP_TOKEN_TTL, MAX_SIGNUP_TOKEN_TTL_MS) };
}

export async function add(api: UsersApi, name: string, options: AddOptions, now: () => Date = () => new Date()): Promise<InviteResult> {
  const { roles, ttlMs } = checkAdd(name, options);
  const traits: Record<string, string[]> = {};
  const logins = flattenList(options.logins);
  const dbUsers = flattenList(options.dbUsers);
  const dbNames = flattenList(options.dbNames);
  if (logins.length > 0) traits[TRAIT_LOGINS] = logins;
  if (dbUsers.length > 0) traits[TRAIT_DB_USERS] = dbUsers;
  if (dbNames.length > 0) traits[TRAIT_DB_NAMES] = dbNames;
  // Validates the name and traits here, before anything reaches the server.
  parseUser({ kind: 'user', version: 'v2', metadata: { name }, spec: { roles, traits } });
  await checkRolesExist(api, roles);
  try {
    const requested = now();
    const { token } = await api.createUser({ name, roles, traits, ttl: ttlMs });
    return { token, requested, ttlMs };
  } catch (err) {
    if (isAlreadyExists(err)) {
      throw new TeleportError('already-exists', (err as Error).message, {
        code: (err as TeleportError<'already-exists'>).code,
        hint: `To update an existing local user:\n> tctl users update ${name} --set-roles ${roles.join(',')} # replace roles`,
      });
    }
    throw err;
  }
}

/** The host of a URL as Go's `url.Host` keeps it (with an explicit `:443`). */
function urlHost(url: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\/([^/?#]+)/i.exec(url)?.[1] ?? url;
}

/**
 * How long the link stays valid, from when tctl asked for it: the server set the expiry at or after that
 * moment, so a slow round trip does not turn "1h" into "59m59s" (Teleport measures at print time).
 */
function validFor(result: InviteResult): string {
  const remaining = Date.parse(result.token.expires) - result.requested.getTime();
  return formatDurationShort(Math.min(remaining, result.ttlMs));
}

function renderUserToken(result: InviteResult, message: string, format: string | undefined): string {
  if (format === 'json') return toJson({ token: result.token.id, user: result.token.user, url: result.token.url, expires: result.token.expires });
  return `${message.replace('%q', JSON.stringify(result.token.user)).replace('%v', validFor(result))}\n${result.token.url}\n\nNOTE: Make sure ${urlHost(result.token.url)} points at a Teleport proxy which users can access.\n`;
}

export function renderAdd(result: InviteResult, format?: string): string {
  return renderUserToken(
    result,
    'User %q has been created but requires a password. Share this URL with the user to complete user setup, link is valid for %v:',
    format,
  );
}

// ---- users reset -----------------------------------------------------------------------------------------

/** Checks `--ttl` of `users reset`. */
function checkReset(options: { ttl?: string }): number {
  return tokenTtl(options.ttl, RESET_TOKEN_TTL, MAX_RESET_TOKEN_TTL_MS);
}

export async function reset(api: UsersApi, name: string, options: { ttl?: string }, now: () => Date = () => new Date()): Promise<InviteResult> {
  const ttlMs = checkReset(options);
  const requested = now();
  const token = await api.createResetPasswordToken({ name, ttl: ttlMs });
  return { token, requested, ttlMs };
}

export function renderReset(result: InviteResult, format?: string): string {
  return renderUserToken(result, 'User %q has been reset. Share this URL with the user to complete password reset, link is valid for %v:', format);
}

// ---- users ls --------------------------------------------------------------------------------------------

export async function list(api: UsersApi): Promise<User[]> {
  return api.getUsers();
}

export function renderList(users: readonly User[], format?: string): string {
  if (format === 'json') return toJson(users.map(userToWire));
  if (users.length === 0) return 'No users found\n';
  return `${asciiTable(['User', 'Roles'], users.map((u) => [u.metadata.name, u.spec.roles.join(',')]))}\n`;
}

// ---- users rm --------------------------------------------------------------------------------------------

export async function remove(api: UsersApi, names: string): Promise<string[]> {
  const list = names.split(',').map((n) => n.trim()).filter((n) => n !== '');
  if (list.length === 0) throw new BadParameterError('no user name given');
  const deleted: string[] = [];
  for (const n of list) {
    await api.deleteUser(n);
    deleted.push(n);
  }
  return deleted;
}

export function renderRemove(deleted: readonly string[]): string {
  return deleted.map((n) => `User ${JSON.stringify(n)} has been deleted\n`).join('');
}

// ---- users update ----------------------------------------------------------------------------------------

export interface UpdateOptions {
  setRoles?: string[];
  setLogins?: string[];
  setDbUsers?: string[];
  setDbNames?: string[];
}

export interface UpdateResult {
  name: string;
  /** What changed, in the order given: `roles`, `logins`, `database users`, `database names`. */
  changes: [field: string, values: string[]][];
}

/** Checks that `users update` was given something to change. */
function checkUpdate(options: UpdateOptions): void {
  const given = [options.setRoles, options.setLogins, options.setDbUsers, options.setDbNames].some((v) => flattenList(v).length > 0);
  if (!given) throw new BadParameterError('Nothing to update. Please provide at least one --set flag.');
}

export async function update(api: UsersApi, name: string, options: UpdateOptions): Promise<UpdateResult> {
  checkUpdate(options);
  const changes: [string, string[]][] = [];
  const roles = flattenList(options.setRoles);
  if (roles.length > 0) changes.push(['roles', roles]);
  const traitChanges: [string, string, string[]][] = [
    ['logins', TRAIT_LOGINS, flattenList(options.setLogins)],
    ['database users', TRAIT_DB_USERS, flattenList(options.setDbUsers)],
    ['database names', TRAIT_DB_NAMES, flattenList(options.setDbNames)],
  ];
  for (const [label, , values] of traitChanges) if (values.length > 0) changes.push([label, values]);
  if (changes.length === 0) throw new BadParameterError('Nothing to update. Please provide at least one --set flag.');
  const current = await api.getUser(name);
  await checkRolesExist(api, roles);
  const wire = userToWire(current) as { spec: { roles: string[]; traits?: Record<string, string[]> } };
  if (roles.length > 0) wire.spec.roles = roles;
  const traits = { ...(wire.spec.traits ?? {}) };
  for (const [, trait, values] of traitChanges) if (values.length > 0) traits[trait] = values;
  wire.spec.traits = traits;
  await api.updateUser(parseUser(wire));
  return { name, changes };
}

export function renderUpdate(result: UpdateResult): string {
  return `User ${result.name} has been updated:\n${result.changes.map(([field, values]) => `\tNew ${field}: ${values.join(',')}\n`).join('')}`;
}

// ---- descriptors -----------------------------------------------------------------------------------------

export const usersGroup: CommandGroup = { name: 'users', help: help.users };

const ACCOUNT = { name: '<account>', description: 'Teleport user account name.' };
/** Accepted for scripts, as Teleport's; not in help. */
const HIDDEN_FORMAT = { flags: '--format <format>', description: "Output format, 'text' or 'json'.", hidden: true };

/** `tctl users add <account> --roles <roles> [--logins] [--db-users] [--db-names] [--ttl]`. */
export const usersAddCommand: TctlCommand<AddOptions, InviteResult> = {
  name: 'users add',
  help: help.add,
  args: [ACCOUNT],
  options: [
    { flags: '--roles <roles>', description: 'List of roles for the new user to assume.', repeatable: true },
    { flags: '--logins <logins>', description: 'List of allowed SSH logins for the new user.', repeatable: true },
    { flags: '--db-users <users>', description: 'List of allowed database users for the new user.', repeatable: true },
    { flags: '--db-names <names>', description: 'List of allowed database names for the new user.', repeatable: true },
    { flags: '--ttl <duration>', description: 'Set expiration time for token, default is 1h0m0s, maximum is 48h0m0s.', default: SIGNUP_TOKEN_TTL },
    HIDDEN_FORMAT,
  ],
  handler: async ({ args, opts }, ctx) => {
    checkAdd(args[0]!, opts);
    return add(await ctx.api(), args[0]!, opts, ctx.now);
  },
  render: (result, { opts }) => renderAdd(result, opts.format),
};

/** `tctl users ls`. */
export const usersLsCommand: TctlCommand<{ format?: string }, User[]> = {
  name: 'users ls',
  help: help.ls,
  options: [HIDDEN_FORMAT],
  handler: async (_input, ctx) => list(await ctx.api()),
  render: (users, { opts }) => renderList(users, opts.format),
};

/** `tctl users rm <logins>`. */
export const usersRmCommand: TctlCommand<object, string[]> = {
  name: 'users rm',
  aliases: ['del'],
  help: help.rm,
  args: [{ name: '<logins>', description: 'Comma-separated list of user logins to delete.' }],
  handler: async ({ args }, ctx) => remove(await ctx.api(), args[0]!),
  render: (deleted) => renderRemove(deleted),
};

/** `tctl users reset <account> [--ttl]`. */
export const usersResetCommand: TctlCommand<{ ttl?: string; format?: string }, InviteResult> = {
  name: 'users reset',
  help: help.reset,
  args: [ACCOUNT],
  options: [
    { flags: '--ttl <duration>', description: 'Set expiration time for token, default is 8h0m0s, maximum is 24h0m0s.', default: RESET_TOKEN_TTL },
    HIDDEN_FORMAT,
  ],
  handler: async ({ args, opts }, ctx) => {
    checkReset(opts);
    return reset(await ctx.api(), args[0]!, opts, ctx.now);
  },
  render: (result, { opts }) => renderReset(result, opts.format),
};

/** `tctl users update <account> --set-roles|--set-logins|--set-db-users|--set-db-names ...`. */
export const usersUpdateCommand: TctlCommand<UpdateOptions, UpdateResult> = {
  name: 'users update',
  help: help.update,
  args: [ACCOUNT],
  options: [
    { flags: '--set-roles <roles>', description: 'List of roles for the user to assume, replaces current roles.', repeatable: true },
    { flags: '--set-logins <logins>', description: 'List of allowed SSH logins for the user, replaces current logins.', repeatable: true },
    { flags: '--set-db-users <users>', description: 'List of allowed database users for the user, replaces current database users.', repeatable: true },
    { flags: '--set-db-names <names>', description: 'List of allowed database names for the user, replaces current database names.', repeatable: true },
  ],
  handler: async ({ args, opts }, ctx) => {
    checkUpdate(opts);
    return update(await ctx.api(), args[0]!, opts);
  },
  render: (result) => renderUpdate(result),
};
