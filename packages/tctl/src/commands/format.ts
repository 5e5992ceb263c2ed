import { BadParameterError } from '@teleport-ts/core/errors';

/** `--format` values of most commands. */
export const OUTPUT_FORMATS = ['text', 'json', 'yaml'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** Validates a `--format` value against the formats a command supports (case-insensitive). */
export function parseFormat<F extends string>(value: string | undefined, allowed: readonly F[], fallback: F): F {
  if (value === undefined) return fallback;
  const v = value.toLowerCase();
  if (!(allowed as readonly string[]).includes(v)) {
    throw new BadParameterError(`unsupported format ${JSON.stringify(value)}, use one of: ${allowed.join(', ')}`);
  }
  return v as F;
}
