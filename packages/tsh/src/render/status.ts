/** Renders profile statuses in Teleport's layouts: the text block of `tsh status`, or `--format json|yaml`. */

import type { ProfileStatus } from '../profile/status.js';
import { toYaml, type Plain } from '@teleport-ts/core/profile';

/** Go's `time.Duration.String()` of a duration rounded to the minute, as Teleport prints it: `12h0m0s`. */
export function formatGoDuration(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  if (minutes === 0) return '0s';
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return h > 0 ? `${h}h${m}m0s` : `${m}m0s`;
}

/** Go's `time.Time.String()` in UTC: `2026-11-21 18:00:00 +0000 UTC`. */
function formatGoTime(date: Date): string {
  return `${date.toISOString().slice(0, 19).replace('T', ' ')} +0000 UTC`;
}

/** `[valid for 12h0m0s]` or `[EXPIRED]`. */
function validity(status: ProfileStatus, now: Date): string {
  if (status.validUntil === undefined) return 'valid forever';
  const left = status.validUntil.getTime() - now.getTime();
  return left > 0 ? `valid for ${formatGoDuration(left)}` : 'EXPIRED';
}

const pad = (label: string): string => `${label}:`.padEnd(20);

/**
 * One profile block, as Teleport's `printStatus`:
 *
 * ```
 * > Profile URL:        https://proxy.example.com:3080
 *   Logged in as:       alice
 *   ...
 * ```
 */
export function renderStatusText(status: ProfileStatus, now: Date): string {
  const lines = [`${status.active ? '> ' : '  '}${pad('Profile URL')}${status.proxyUrl}`, `  ${pad('Logged in as')}${status.username}`];
  if (status.activeRequests.length > 0) lines.push(`  ${pad('Active requests')}${status.activeRequests.join(', ')}`);
  if (status.cluster) lines.push(`  ${pad('Cluster')}${status.cluster}`);
  lines.push(`  ${pad('Roles')}${status.roles.join(', ')}`);
  if (status.logins.length > 0) lines.push(`  ${pad('Logins')}${status.logins.join(', ')}`);
  lines.push(`  ${pad('Kubernetes')}${status.kubernetesEnabled ? 'enabled' : 'disabled'}`);
  if (status.databaseUsers.length > 0) lines.push(`  ${pad('Database users')}${status.databaseUsers.join(', ')}`);
  if (status.databaseNames.length > 0) lines.push(`  ${pad('Database names')}${status.databaseNames.join(', ')}`);
  const until = status.validUntil === undefined ? 'forever' : formatGoTime(status.validUntil);
  lines.push(`  ${pad('Valid until')}${until} [${validity(status, now)}]`);
  lines.push(`  ${pad('Extensions')}${status.extensions.join(', ')}`);
  return `${lines.join('\n')}\n\n`;
}

/** Teleport's `profileInfo` JSON shape. */
function statusToPlain(status: ProfileStatus): Plain {
  return {
    profile_url: status.proxyUrl,
    username: status.username,
    cluster: status.cluster,
    roles: status.roles,
    traits: status.traits,
    logins: status.logins,
    kubernetes_enabled: status.kubernetesEnabled,
    valid_until: status.validUntil === undefined ? null : status.validUntil.toISOString().replace(/\.000Z$/, 'Z'),
    extensions: status.extensions,
    ...(status.activeRequests.length > 0 ? { active_requests: status.activeRequests } : {}),
  };
}

export type OutputFormat = 'text' | 'json' | 'yaml';

/** All profiles: `{ active, profiles }` as Teleport's `tsh status --format json`. */
export function renderStatuses(statuses: ProfileStatus[], format: OutputFormat, now: Date): string {
  const active = statuses.find((s) => s.active);
  const others = statuses.filter((s) => !s.active);
  if (format === 'text') return statuses.map((s) => renderStatusText(s, now)).join('');
  const doc: Plain = { active: active ? statusToPlain(active) : null, profiles: others.map(statusToPlain) };
  return format === 'json' ? `${JSON.stringify(doc, null, 2)}\n` : toYaml(doc);
}
