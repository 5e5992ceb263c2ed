/**
 * Validation of request bodies and queries: every field is checked once, at the edge, with one-line
 * bad-parameter messages that name the field. Values that may be secrets are never quoted.
 */

import { isIP } from 'node:net';
import { BadParameterError } from '@teleport-ts/core/errors';

/** A request body as a mapping (an absent body reads as `{}`). */
export function bodyOf(body: unknown): Record<string, unknown> {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw new BadParameterError('request body must be a JSON object');
  return body as Record<string, unknown>;
}

/** Longest string field accepted (certificates and keys are a few KiB). */
const MAX_FIELD_LENGTH = 64 * 1024;

export function reqString(body: Record<string, unknown>, field: string): string {
  const v = body[field];
  if (typeof v !== 'string' || v === '') throw new BadParameterError(`missing parameter ${field}`);
  if (v.length > MAX_FIELD_LENGTH) throw new BadParameterError(`${field} is too long`);
  return v;
}

export function optString(body: Record<string, unknown>, field: string): string | undefined {
  const v = body[field];
  if (v === undefined || v === null || v === '') return undefined;
  return reqString(body, field);
}

export function optStringList(body: Record<string, unknown>, field: string): string[] | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string' && s.length <= 1024) || v.length > 1024) {
    throw new BadParameterError(`${field} must be a list of strings`);
  }
  return v as string[];
}

export function optBool(body: Record<string, unknown>, field: string): boolean | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new BadParameterError(`${field} must be true or false`);
  return v;
}

/** A duration in milliseconds: a positive finite number, at most `max` when given. */
export function optDurationMs(body: Record<string, unknown>, field: string, max?: { ms: number; text: string }): number | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new BadParameterError(`${field} must be a positive duration in milliseconds`);
  if (max && v > max.ms) throw new BadParameterError(`${field} must be at most ${max.text}`);
  return v;
}

/** An identifier that becomes part of a certificate or key: letters, digits, `.`, `_`, `-`. */
export function reqName(body: Record<string, unknown>, field: string): string {
  const v = reqString(body, field);
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(v)) {
    throw new BadParameterError(`${field} ${JSON.stringify(v.slice(0, 128))} must be letters, digits, ".", "_" or "-"`);
  }
  return v;
}

/** An `IP:port` (`[IPv6]:port`) address, such as a proxy reports for its client. */
export function optIpPort(body: Record<string, unknown>, field: string): string | undefined {
  const v = optString(body, field);
  if (v === undefined) return undefined;
  const m = /^(?:\[([^\]]+)\]|([0-9.]+)):(\d{1,5})$/.exec(v);
  const host = m?.[1] ?? m?.[2] ?? '';
  const port = Number(m?.[3] ?? 0);
  const family = isIP(host);
  if (!m || family === 0 || (m[1] !== undefined) !== (family === 6) || port < 1 || port > 65535) {
    throw new BadParameterError(`${field} must be an IP address and a port, such as 203.0.113.7:51234 or [2001:db8::7]:51234`);
  }
  return v;
}

/** Teleport's `types.IsValidLabelKey`. */
export const LABEL_KEY = /^[a-zA-Z/.0-9_:*-]{1,256}$/;
const MAX_LABELS = 64;

/** Resource labels: a mapping of label key (Teleport's characters) to a string value. */
export function optLabels(body: Record<string, unknown>, field: string): Record<string, string> | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw new BadParameterError(`${field} must be a mapping of label names to values`);
  const entries = Object.entries(v as Record<string, unknown>);
  if (entries.length > MAX_LABELS) throw new BadParameterError(`${field}: at most ${MAX_LABELS} labels are allowed`);
  const labels: Record<string, string> = {};
  for (const [key, value] of entries) {
    if (!LABEL_KEY.test(key)) throw new BadParameterError(`${field}: invalid label key ${JSON.stringify(key.slice(0, 64))}`);
    if (typeof value !== 'string' || value.length > 1024) throw new BadParameterError(`${field}[${JSON.stringify(key)}] must be a string`);
    labels[key] = value;
  }
  return labels;
}
