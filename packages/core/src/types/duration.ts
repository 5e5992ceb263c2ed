import { BadParameterError } from '../errors/index.js';

/** Nanoseconds per unit, as Go's `time.ParseDuration` knows them. */
const UNIT_NS: Readonly<Record<string, bigint>> = {
  ns: 1n,
  us: 1_000n,
  'µs': 1_000n, // U+00B5 micro sign
  'μs': 1_000n, // U+03BC Greek mu
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

const NS_PER_MS = 1_000_000n;

/** Longest input accepted; real durations are a handful of characters. */
const MAX_DURATION_TEXT = 64;

const COMPONENT = /^(\d*)(?:\.(\d*))?([a-zµμ]+)/;

/**
 * Parses a Teleport (Go `time.ParseDuration`) duration string into milliseconds: a sequence of decimal
 * numbers with units `ns`, `us`, `ms`, `s`, `m`, `h` (`8h`, `1h30m`, `1.5h`, `-30s`, `0`). Sub-millisecond
 * parts survive as a fraction. Throws {@link BadParameterError} for anything else.
 *
 * @example
 * ```ts
 * parseDuration('1h30m'); // 5_400_000
 * ```
 */
export function parseDuration(text: string): number {
  return Number(parseDurationNs(text)) / Number(NS_PER_MS);
}

function parseDurationNs(text: string): bigint {
  const invalid = (): never => {
    throw new BadParameterError(`invalid duration ${JSON.stringify(text.slice(0, MAX_DURATION_TEXT))}, use a value such as 8h, 30m or 1h30m`);
  };
  if (typeof text !== 'string') throw new TypeError('parseDuration expects a string');
  if (text.length === 0 || text.length > MAX_DURATION_TEXT) invalid();
  let rest = text;
  let negative = false;
  if (rest[0] === '-' || rest[0] === '+') {
    negative = rest[0] === '-';
    rest = rest.slice(1);
  }
  if (rest === '0') return 0n;
  if (rest === '') invalid();
  let total = 0n;
  while (rest !== '') {
    const m = COMPONENT.exec(rest);
    if (!m) return invalid();
    const [whole = '', intPart = '', fracPart, unit = ''] = m;
    if (intPart === '' && (fracPart === undefined || fracPart === '')) invalid();
    const perUnit = UNIT_NS[unit];
    if (perUnit === undefined) return invalid();
    total += BigInt(intPart === '' ? '0' : intPart) * perUnit;
    if (fracPart !== undefined && fracPart !== '') {
      const scale = 10n ** BigInt(fracPart.length);
      total += (BigInt(fracPart) * perUnit) / scale;
    }
    rest = rest.slice(whole.length);
  }
  return negative ? -total : total;
}

/**
 * Formats milliseconds as Go's `time.Duration.String()` does, which is how `tctl get` prints
 * durations: `30h0m0s`, `1h30m0s`, `1m30s`, `1.5s`, `500ms`, `0s`.
 *
 * @example
 * ```ts
 * formatDuration(30 * 3_600_000); // '30h0m0s'
 * ```
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) throw new TypeError('formatDuration expects a finite number of milliseconds');
  let ns = BigInt(Math.round(ms * 1_000_000));
  if (ns === 0n) return '0s';
  const negative = ns < 0n;
  if (negative) ns = -ns;
  let out: string;
  if (ns < 1_000_000_000n) {
    if (ns < 1_000n) out = `${ns}ns`;
    else if (ns < 1_000_000n) out = `${fraction(ns, 3)}µs`;
    else out = `${fraction(ns, 6)}ms`;
  } else {
    const seconds = ns / 1_000_000_000n;
    out = `${fraction(ns % 1_000_000_000n + (seconds % 60n) * 1_000_000_000n, 9)}s`;
    const minutes = seconds / 60n;
    if (minutes > 0n) {
      out = `${minutes % 60n}m${out}`;
      const hours = minutes / 60n;
      if (hours > 0n) out = `${hours}h${out}`;
    }
  }
  return negative ? `-${out}` : out;
}

/** `value / 10^digits` in decimal, trailing zeros (and a bare point) dropped. */
function fraction(value: bigint, digits: number): string {
  const scale = 10n ** BigInt(digits);
  const whole = value / scale;
  const frac = (value % scale).toString().padStart(digits, '0').replace(/0+$/, '');
  return frac === '' ? whole.toString() : `${whole}.${frac}`;
}

/**
 * The longest lifetime the API and the CLIs accept for anything without a tighter limit of its own (join tokens,
 * certificates, locks): 8760h, one year, as the host certificates agents get. Teleport's own tighter limits stay where
 * they apply: 48h for invites, 24h for password resets, and the roles' `max_session_ttl` (30h by default, Teleport's
 * `MaxCertDuration`) capping user certificates.
 */
export const MAX_TTL_MS = 8760 * 3_600_000;

/**
 * Parses a `--ttl` flag: a positive duration no longer than `maxMs` (default {@link MAX_TTL_MS}), refused in one
 * line otherwise (`--ttl must not be longer than 8760h`).
 *
 * @example
 * ```ts
 * parseTtl('30m'); // 1_800_000
 * parseTtl('999999h'); // throws BadParameterError
 * ```
 */
export function parseTtl(text: string, options: { flag?: string; maxMs?: number } = {}): number {
  const flag = options.flag ?? '--ttl';
  const maxMs = options.maxMs ?? MAX_TTL_MS;
  const ms = parseDuration(text);
  if (ms <= 0) throw new BadParameterError(`${flag} must be positive`);
  if (ms > maxMs) throw new BadParameterError(`${flag} must not be longer than ${formatDurationShort(maxMs)}`);
  return ms;
}

/**
 * A duration as Teleport writes limits and lifetimes to people: Go's form without zero trailing units (`8760h`,
 * `1h30m`, `30m`, `1s`), rounded to seconds.
 *
 * @example
 * ```ts
 * formatDurationShort(90 * 60_000); // '1h30m'
 * ```
 */
export function formatDurationShort(ms: number): string {
  const s = formatDuration(Math.round(ms / 1000) * 1000);
  if (s.endsWith('h0m0s')) return s.slice(0, -'0m0s'.length);
  if (s.endsWith('m0s')) return s.slice(0, -'0s'.length);
  return s;
}
