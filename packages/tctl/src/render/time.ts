/** Go time and duration formats that tctl prints, in UTC. */

import { formatDuration } from '@teleport-ts/core/types';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;

const two = (n: number): string => String(n).padStart(2, '0');

/**
 * Teleport's `constants.HumanDateFormatSeconds` (`Jan _2 15:04:05 UTC`): the day is space-padded.
 *
 * @example
 * ```ts
 * humanDateSeconds(new Date('2026-03-01T09:05:07Z')); // 'Mar  1 09:05:07 UTC'
 * ```
 */
export function humanDateSeconds(date: Date): string {
  const day = String(date.getUTCDate()).padStart(2, ' ');
  return `${MONTHS[date.getUTCMonth()]} ${day} ${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())} UTC`;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;

/**
 * Teleport's `apiutils.HumanTimeFormat` (`Mon Jan _2 15:04 UTC`), as `tctl get locks --format=text` prints expiry
 * times: the day of the month is space-padded.
 *
 * @example
 * ```ts
 * humanTime(new Date('2026-03-01T09:05:07Z')); // 'Sun Mar  1 09:05 UTC'
 * ```
 */
export function humanTime(date: Date): string {
  const day = String(date.getUTCDate()).padStart(2, ' ');
  return `${DAYS[date.getUTCDay()]} ${MONTHS[date.getUTCMonth()]} ${day} ${two(date.getUTCHours())}:${two(date.getUTCMinutes())} UTC`;
}

/**
 * Go's `time.RFC822` (`02 Jan 06 15:04 MST`) in UTC, as `tctl tokens ls` prints expiry times.
 *
 * @example
 * ```ts
 * rfc822(new Date('2026-03-01T09:05:07Z')); // '01 Mar 26 09:05 UTC'
 * ```
 */
export function rfc822(date: Date): string {
  const year = two(date.getUTCFullYear() % 100);
  return `${two(date.getUTCDate())} ${MONTHS[date.getUTCMonth()]} ${year} ${two(date.getUTCHours())}:${two(date.getUTCMinutes())} UTC`;
}

/** `d.Round(time.Second).String()`: `29m59s`, `1h0m0s`, `-5s`. */
export function roundedDuration(ms: number): string {
  return formatDuration(Math.round(ms / 1000) * 1000);
}
