/**
 * `tctl lock`: creates a lock with a fresh UUID name, with Teleport's flags and output
 * (`tool/tctl/common/lock_command.go`). Listing and removal go through `tctl get locks` and `tctl rm locks/<name>`.
 */

import { randomUUID } from 'node:crypto';
import { BadParameterError } from '@teleport-ts/core/errors';
import { KIND_LOCK, parseLock, parseTtl, type Lock, type LockTarget } from '@teleport-ts/core/types';
import type { OptionSpec } from '@teleport-ts/core/cli';
import type { TctlApi } from '../api.js';
import type { TctlCommand } from '../command.js';

const help = 'Create a new lock.';

export type LockApi = Pick<TctlApi, 'upsertLock'>;

/** The flags of `tctl lock`, as commander names them. */
export interface LockOptions {
  user?: string;
  role?: string;
  login?: string;
  serverId?: string;
  message?: string;
  expires?: string;
  ttl?: string;
  mfaDevice?: string;
  windowsDesktop?: string;
  accessRequest?: string;
  device?: string;
  botInstanceId?: string;
  joinToken?: string;
}

/** Target flags that map onto a {@link LockTarget} field, in Teleport's order. */
const TARGET_FLAGS = [
  { flag: '--user', value: 'name', option: 'user', field: 'user', description: 'Name of a Teleport user to disable.' },
  { flag: '--role', value: 'name', option: 'role', field: 'role', description: 'Name of a Teleport role to disable.' },
  { flag: '--login', value: 'name', option: 'login', field: 'login', description: 'Name of a local UNIX user to disable.' },
  { flag: '--server-id', value: 'uuid', option: 'serverId', field: 'server_id', description: 'UUID of a Teleport server to disable.' },
] as const satisfies readonly { flag: string; value: string; option: keyof LockOptions; field: keyof LockTarget; description: string }[];

/**
 * Teleport's other target flags. They are parsed (hidden from help) so that a command copied from Teleport's docs
 * fails with a message saying why, instead of commander's bare "unknown option".
 */
const UNSUPPORTED_TARGET_FLAGS = [
  { flag: '--mfa-device', option: 'mfaDevice' },
  { flag: '--windows-desktop', option: 'windowsDesktop' },
  { flag: '--access-request', option: 'accessRequest' },
  { flag: '--device', option: 'device' },
  { flag: '--bot-instance-id', option: 'botInstanceId' },
  { flag: '--join-token', option: 'joinToken' },
] as const satisfies readonly { flag: string; option: keyof LockOptions }[];

/** `--user, --role, --login or --server-id`, for error messages. */
const SUPPORTED_FLAG_LIST = TARGET_FLAGS.map((t) => t.flag)
  .join(', ')
  .replace(/, ([^,]+)$/, ' or $1');

/** What `tctl lock` will ask the server for, once the flags are checked. */
export interface LockRequest {
  target: LockTarget;
  message?: string;
  /** ISO 8601 UTC; absent for a lock that stays until removed. */
  expires?: string;
}

/** Go's `time.RFC3339` layout, fractional seconds allowed, as `time.Parse` reads it. */
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * Parses `--expires` strictly: `Date.parse` alone would read `2026-02-30` as March 2nd and accept forms Teleport
 * refuses, so the calendar fields are checked against the date they produced.
 */
export function parseRfc3339(text: string, flag: string): Date {
  const m = RFC3339.exec(text.trim());
  const ms = m ? Date.parse(text.trim()) : Number.NaN;
  if (m && Number.isFinite(ms)) {
    const [, year, month, day, hour, minute, second] = m.map(Number) as number[];
    const probe = new Date(Date.UTC(year!, month! - 1, day!, hour!, minute!, second!));
    const calendarOk = probe.getUTCFullYear() === year && probe.getUTCMonth() === month! - 1 && probe.getUTCDate() === day;
    if (calendarOk && hour! < 24 && minute! < 60 && second! < 60) return new Date(ms);
  }
  throw new BadParameterError(`invalid ${flag} ${JSON.stringify(text.slice(0, 64))}, use an RFC 3339 time such as 2026-01-02T15:04:05Z`);
}

/** Teleport's `computeLockExpiry`, except that an expiry that is not in the future is refused (the server would). */
function lockExpiry(options: LockOptions, now: Date): string | undefined {
  if (options.expires !== undefined && options.ttl !== undefined) throw new BadParameterError('use only one of --expires and --ttl');
  let at: Date | undefined;
  if (options.expires !== undefined) {
    at = parseRfc3339(options.expires, '--expires');
    if (at.getTime() <= now.getTime()) throw new BadParameterError(`--expires ${JSON.stringify(options.expires.slice(0, 64))} is not in the future`);
  } else if (options.ttl !== undefined) {
    // Teleport reads --ttl=0 as "no expiry"; a lock meant to be temporary should not silently become permanent.
    at = new Date(now.getTime() + parseTtl(options.ttl));
  }
  return at?.toISOString();
}

/**
 * Checks the flags of `tctl lock`; the CLI runs it before connecting, so bad input never reaches the server.
 *
 * @throws BadParameterError for a target teleport-ts cannot enforce, no target at all, both `--expires` and
 * `--ttl`, or a malformed or past expiry.
 */
export function checkLock(options: LockOptions, now: Date): LockRequest {
  for (const { flag, option } of UNSUPPORTED_TARGET_FLAGS) {
    if (options[option] !== undefined) throw new BadParameterError(`${flag} is not supported by teleport-ts yet, lock with ${SUPPORTED_FLAG_LIST}`);
  }
  const target: Record<string, string> = {};
  for (const { option, field } of TARGET_FLAGS) {
    const value = options[option]?.trim();
    if (value) target[field] = value;
  }
  const expires = lockExpiry(options, now);
  if (Object.keys(target).length === 0) throw new BadParameterError(`at least one target field must be set: use ${SUPPORTED_FLAG_LIST}`);
  return { target, ...(options.message ? { message: options.message } : {}), ...(expires !== undefined ? { expires } : {}) };
}

/** Builds the lock document for a checked request; `parseLock` applies the same validation the server will. */
function newLock(request: LockRequest, name: string): Lock {
  return parseLock({ kind: KIND_LOCK, version: 'v2', metadata: { name }, spec: request });
}

/**
 * Creates the lock under a new random UUID name, as Teleport does: `tctl lock` never replaces an existing lock,
 * so running it twice makes two locks.
 */
export async function lock(api: LockApi, options: LockOptions, now: () => Date = () => new Date(), newName: () => string = randomUUID): Promise<Lock> {
  const request = checkLock(options, now());
  return api.upsertLock(newLock(request, newName()));
}

export function render(created: Lock): string {
  return `Created a lock with name ${JSON.stringify(created.metadata.name)}.\n`;
}

/** `tctl lock --user|--role|--login|--server-id <target> [--message] [--expires | --ttl]`. */
export const lockCommand: TctlCommand<LockOptions, Lock> = {
  name: 'lock',
  help,
  options: [
    ...TARGET_FLAGS.map(({ flag, value, description }): OptionSpec => ({ flags: `${flag} <${value}>`, description })),
    { flags: '--message <message>', description: 'Message to display to locked-out users.' },
    { flags: '--expires <time>', description: 'Time point (RFC3339) when the lock expires.' },
    { flags: '--ttl <duration>', description: 'Time duration after which the lock expires.' },
    ...UNSUPPORTED_TARGET_FLAGS.map(({ flag }): OptionSpec => ({ flags: `${flag} <value>`, hidden: true })),
  ],
  handler: async ({ opts }, ctx) => {
    checkLock(opts, ctx.now());
    return lock(await ctx.api(), opts, ctx.now);
  },
  render: (created) => render(created),
};
