/**
 * `tctl tokens add|ls|rm`: join tokens, with Teleport's output (`tool/tctl/common/token_command.go`): the token,
 * its lifetime, and the exact command that starts an agent with it.
 */

import { randomBytes } from 'node:crypto';
import { maskSecret } from '@teleport-ts/core/authn';
import { AlreadyExistsError, BadParameterError, isAlreadyExists } from '@teleport-ts/core/errors';
import {
  JOIN_TOKEN_ROLES,
  checkNewName,
  formatDurationShort,
  parseTtl,
  parseProvisionToken,
  parseSystemRoles,
  provisionTokenToWire,
  resourceToYaml,
  type JoinTokenRole,
  type ProvisionToken,
} from '@teleport-ts/core/types';
import type { TctlApi } from '../api.js';
import type { CommandGroup, TctlCommand } from '../command.js';
import { parseFormat } from './format.js';
import { toJson } from '../render/serialize.js';
import { asciiTable } from '@teleport-ts/core/cli';
import { rfc822, roundedDuration } from '../render/time.js';
import { caPinsOf } from './ca-info.js';

/** Teleport's `defaults.ProvisioningTokenTTL`. */
const DEFAULT_TOKEN_TTL = '30m';
/** Teleport's `defaults.TokenLenBytes`: tokens are 32 hex characters. */
const TOKEN_BYTES = 16;

const help = {
  tokens: 'List or revoke invitation tokens.',
  add: 'Create an invitation token.',
  ls: 'List node and user invitation tokens.',
  rm: 'Delete/revoke an invitation token.',
} as const;

const TOKEN_FORMATS = ['text', 'json', 'yaml'] as const;

export type TokensApi = Pick<TctlApi, 'ping' | 'getCertAuthorities' | 'getTokens' | 'createToken' | 'deleteToken'>;

export interface AddOptions {
  type?: string;
  value?: string;
  labels?: string;
  ttl?: string;
  format?: string;
  dbName?: string;
  dbProtocol?: string;
  dbUri?: string;
}

export interface TokenAddResult {
  token: string;
  roles: JoinTokenRole[];
  expires: Date;
  ttlMs: number;
  caPins: string[];
  /** `host:port` an agent joins through. */
  authServer: string;
  db: { name: string; protocol: string; uri: string };
}

/** `--type` as Teleport reads it (`node,db`), refused in one line when a name is unknown. */
export function parseTokenType(type: string | undefined): JoinTokenRole[] {
  if (type === undefined || type.trim() === '') throw new BadParameterError('required flag --type not provided');
  const allowed = JOIN_TOKEN_ROLES.map((r) => r.toLowerCase());
  for (const part of type.split(',')) {
    const t = part.trim().toLowerCase();
    if (t !== '' && !allowed.includes(t)) {
      throw new BadParameterError(`unknown token type ${JSON.stringify(part.trim().slice(0, 64))}, use one of: ${allowed.join(', ')}`);
    }
  }
  return parseSystemRoles(type) as JoinTokenRole[];
}

/** Teleport's `types.IsValidLabelKey`. */
const LABEL_KEY = /^[a-zA-Z/.0-9_:*-]+$/;

/** Teleport's label spec: `env=prod,region=us-west`. */
function parseLabels(spec: string | undefined): Record<string, string> {
  const labels: Record<string, string> = {};
  if (spec === undefined || spec.trim() === '') return labels;
  for (const pair of spec.split(',')) {
    const i = pair.indexOf('=');
    const key = i < 0 ? '' : pair.slice(0, i).trim();
    if (key === '') throw new BadParameterError(`invalid label spec ${JSON.stringify(spec.slice(0, 128))}, use key=value pairs such as env=prod`);
    if (!LABEL_KEY.test(key)) throw new BadParameterError(`invalid label key ${JSON.stringify(key.slice(0, 64))}: use letters, digits and / . _ : * -`);
    labels[key] = pair.slice(i + 1).trim();
  }
  return labels;
}

/** Checks the flags of `tokens add`; the CLI runs it before connecting. */
function checkAdd(options: AddOptions): { roles: JoinTokenRole[]; ttlMs: number; labels: Record<string, string> } {
  const roles = parseTokenType(options.type);
  const ttlMs = parseTtl(options.ttl ?? DEFAULT_TOKEN_TTL);
  const labels = parseLabels(options.labels);
  if (options.value !== undefined) {
    checkNewName('token', options.value, { secret: true });
    parseProvisionToken({ kind: 'token', version: 'v2', metadata: { name: options.value }, spec: { roles, join_method: 'token' } });
  }
  return { roles, ttlMs, labels };
}

export async function add(api: TokensApi, options: AddOptions, now: () => Date = () => new Date(), authAddr = ''): Promise<TokenAddResult> {
  const { roles, ttlMs, labels } = checkAdd(options);
  const value = options.value ?? randomBytes(TOKEN_BYTES).toString('hex');
  let created: ProvisionToken;
  try {
    created = await api.createToken({ name: value, roles, ttl: ttlMs, ...(Object.keys(labels).length > 0 ? { labels } : {}) });
  } catch (err) {
    if (isAlreadyExists(err)) throw new AlreadyExistsError('failed to create token (a token with this value already exists), please use another value');
    throw err;
  }
  const ping = await api.ping();
  const caPins = caPinsOf(await api.getCertAuthorities('host'), ping.clusterName);
  return {
    token: value,
    roles,
    expires: created.metadata.expires ? new Date(created.metadata.expires) : new Date(now().getTime() + ttlMs),
    ttlMs,
    caPins,
    authServer: authAddr,
    db: { name: options.dbName ?? '', protocol: options.dbProtocol ?? '', uri: options.dbUri ?? '' },
  };
}

/**
 * A token's lifetime as the join messages say it: Teleport's `30 minutes` for whole minutes, otherwise the duration
 * (`1m30s`, `1s`), never a fraction of minutes such as `0.016666666666666666 minutes`.
 */
function expiresIn(ms: number): string {
  const minutes = ms / 60_000;
  if (Number.isInteger(minutes)) return minutes === 1 ? '1 minute' : `${minutes} minutes`;
  return formatDurationShort(ms);
}

function caPinLines(pins: readonly string[]): string {
  return pins.map((pin) => `\n   --ca-pin=${pin} \\`).join('');
}

/** Teleport's `nodeMessageTemplate`, with this project's daemon. */
function nodeMessage(r: TokenAddResult): string {
  const minutes = expiresIn(r.ttlMs);
  return `The invite token: ${r.token}
This token will expire in ${minutes}.

Run this on the new node to join the cluster:

> teleport-ts start \\
   --roles=${r.roles.join(',').toLowerCase()} \\
   --token=${r.token} \\${caPinLines(r.caPins)}
   --auth-server=${r.authServer}

Please note:

  - This invitation token will expire in ${minutes}
  - ${r.authServer} must be reachable from the new node
`;
}

/** Teleport's database join message (`teleport db start` form), with this project's daemon. */
function dbMessage(r: TokenAddResult): string {
  const minutes = expiresIn(r.ttlMs);
  const uri = r.db.uri || '<uri>';
  return `The invite token: ${r.token}
This token will expire in ${minutes}.

Fill out and run this command on a node to make the database accessible:

> teleport-ts start \\
   --roles=${r.roles.join(',').toLowerCase()} \\
   --token=${r.token} \\${caPinLines(r.caPins)}
   --auth-server=${r.authServer} \\
   --db-name=${r.db.name || '<name>'} \\
   --db-protocol=${r.db.protocol || '<protocol>'} \\
   --db-uri=${uri}

Please note:

  - This invitation token will expire in ${minutes}.
  - Database address ${uri} must be reachable from the new database
    service.
  - ${r.authServer} must be reachable from the new database service.
  - When proxying an on-prem database, it must be configured with Teleport CA
    and key pair issued by "tctl auth sign --format=db" command.
`;
}

export function renderAdd(r: TokenAddResult, format?: string): string {
  switch (format) {
    case 'json':
      // Teleport marshals a map here: keys sorted, one-space indent.
      return `${JSON.stringify({ expires: r.expires.toISOString(), roles: r.roles, token: r.token }, null, ' ')}`;
    case 'yaml':
      return `expires: "${r.expires.toISOString()}"\nroles:\n${r.roles.map((x) => `- ${x}\n`).join('')}token: ${r.token}\n`;
    case 'text':
      return `${r.token}\n`;
    default:
      return r.roles.includes('Db') ? dbMessage(r) : nodeMessage(r);
  }
}

// ---- tokens ls -------------------------------------------------------------------------------------------

/**
 * Teleport's `GetSafeName`, the rule audit events and logs use too (`maskSecret`): short tokens are fully masked,
 * longer ones show only their last quarter.
 *
 * @example
 * ```ts
 * maskToken('0123456789abcdef0123456789abcdef'); // '************************89abcdef'
 * ```
 */
export const maskToken = maskSecret;

export interface ListOptions {
  format?: string;
  withSecrets?: boolean;
  labels?: string;
}

export async function list(api: TokensApi, options: ListOptions): Promise<ProvisionToken[]> {
  const wanted = parseLabels(options.labels);
  const tokens = (await api.getTokens()).filter((t) => Object.entries(wanted).every(([k, v]) => t.metadata.labels?.[k] === v));
  const expiry = (t: ProvisionToken): number => (t.metadata.expires ? Date.parse(t.metadata.expires) : 0);
  return [...tokens].sort((a, b) => expiry(a) - expiry(b));
}

function printLabels(labels: Readonly<Record<string, string>> | undefined): string {
  return Object.entries(labels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .sort()
    .join(',');
}

/** The `Token Type Labels Expiry Time (UTC)` table, also used by `tctl get tokens --format=text`. */
export function tokensTable(tokens: readonly ProvisionToken[], options: { withSecrets?: boolean; now: Date }): string {
  return asciiTable(
    ['Token', 'Type', 'Labels', 'Expiry Time (UTC)'],
    tokens.map((t) => {
      const expires = t.metadata.expires ? new Date(t.metadata.expires) : undefined;
      const expiry = expires ? `${rfc822(expires)} (${roundedDuration(expires.getTime() - options.now.getTime())})` : 'never';
      return [options.withSecrets ? t.metadata.name : maskToken(t.metadata.name), t.spec.roles.join(','), printLabels(t.metadata.labels), expiry];
    }),
  );
}

export function renderList(tokens: readonly ProvisionToken[], options: ListOptions & { now: Date }): string {
  const visible = options.withSecrets
    ? tokens
    : tokens.map((t) => ({ ...t, metadata: { ...t.metadata, name: maskToken(t.metadata.name) } }) as ProvisionToken);
  switch (options.format) {
    case 'json':
      return toJson(visible.map(provisionTokenToWire));
    case 'yaml':
      return visible.length === 0 ? '' : resourceToYaml(visible);
    case 'text':
      return visible.map((t) => `${t.metadata.name}\n`).join('');
    default:
      if (tokens.length === 0) return 'No active tokens found.\n';
      return tokensTable(tokens, options);
  }
}

// ---- tokens rm -------------------------------------------------------------------------------------------

export async function remove(api: TokensApi, token: string | undefined): Promise<string> {
  if (!token) throw new BadParameterError('Need an argument: token');
  await api.deleteToken(token);
  return token;
}

export function renderRemove(token: string): string {
  return `Token ${token} has been deleted\n`;
}

// ---- descriptors -----------------------------------------------------------------------------------------

export const tokensGroup: CommandGroup = { name: 'tokens', help: help.tokens };

/** `--format` when given; absent means each command's own default layout. */
function tokenFormat(format: string | undefined): (typeof TOKEN_FORMATS)[number] | undefined {
  return format === undefined ? undefined : parseFormat(format, TOKEN_FORMATS, 'text');
}

/** `tctl tokens add --type <types> [--value] [--labels] [--ttl] [--db-*] [--format]`. */
export const tokensAddCommand: TctlCommand<AddOptions, TokenAddResult> = {
  name: 'tokens add',
  help: help.add,
  options: [
    { flags: '--type <types>', description: 'Type(s) of token to add, e.g. --type=node,db.' },
    { flags: '--value <token>', description: 'Override the default random generated token with a specified value.' },
    { flags: '--labels <labels>', description: 'Set token labels, e.g. env=prod,region=us-west.' },
    { flags: '--ttl <duration>', description: 'Set expiration time for token, default is 30 minutes.', default: DEFAULT_TOKEN_TTL },
    { flags: '--db-name <name>', description: 'Name of the database to add.' },
    { flags: '--db-protocol <protocol>', description: 'Database protocol to use: postgres, cockroachdb.' },
    { flags: '--db-uri <uri>', description: 'Address the database is reachable at.' },
    { flags: '--format <format>', description: "Output format, 'text', 'json', or 'yaml'." },
  ],
  handler: async ({ opts }, ctx) => {
    checkAdd(opts);
    tokenFormat(opts.format);
    const api = await ctx.api();
    return add(api, opts, ctx.now, api.joinAddr);
  },
  render: (result, { opts }) => renderAdd(result, tokenFormat(opts.format)),
};

/** `tctl tokens ls [--format] [--with-secrets] [--labels]`. */
export const tokensLsCommand: TctlCommand<ListOptions, ProvisionToken[]> = {
  name: 'tokens ls',
  help: help.ls,
  options: [
    { flags: '--format <format>', description: "Output format, 'text', 'json' or 'yaml'." },
    { flags: '--with-secrets', description: 'Do not redact join tokens.', default: false },
    { flags: '--labels <labels>', description: 'List of comma separated labels to filter by labels (e.g. key1=value1,key2=value2).' },
  ],
  handler: async ({ opts }, ctx) => {
    parseLabels(opts.labels);
    tokenFormat(opts.format);
    return list(await ctx.api(), opts);
  },
  render: (tokens, { opts }, ctx) => {
    const format = tokenFormat(opts.format);
    return renderList(tokens, { ...opts, ...(format ? { format } : {}), now: ctx.now() });
  },
};

/** `tctl tokens rm <token>`. */
export const tokensRmCommand: TctlCommand<object, string> = {
  name: 'tokens rm',
  aliases: ['del'],
  help: help.rm,
  args: [{ name: '[token]', description: 'Token to delete.' }],
  handler: async ({ args }, ctx) => remove(await ctx.api(), args[0]),
  render: (token) => renderRemove(token),
};
