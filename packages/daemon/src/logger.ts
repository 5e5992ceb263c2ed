import { createWriteStream, openSync, type WriteStream } from 'node:fs';
import { BadParameterError, redact } from '@teleport-ts/core/errors';
import { systemClock, type Clock } from '@teleport-ts/core/clock';
import { LOG_SEVERITIES, type LogConfig, type LogSeverity } from '@teleport-ts/core/config';

/** Structured log fields. Never put a secret here: the logger masks obvious ones, as a last line only. */
type LogFields = Record<string, string | number | boolean | null | undefined | readonly string[]>;

/** The daemon's structured logger (text or JSON lines). Core never logs; the daemon does. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger that adds `component` (shown as `[AUTH]` in text) and `fields` to every line. */
  with(component: string, fields?: LogFields): Logger;
  /** Flushes and closes a file output. */
  close(): Promise<void>;
}

export interface LoggerOptions extends LogConfig {
  clock?: Clock;
  /** Where lines go instead of `output` (tests). */
  write?: (line: string) => void;
}

/** Field names whose values are never written, whatever a caller passes. */
const SECRET_FIELD = /^(password|passwd|secret|token|otp|otp_code|key|private_key|authorization)$/i;

function clean(fields: LogFields): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    if (SECRET_FIELD.test(k)) out[k] = '[redacted]';
    else if (typeof v === 'string') out[k] = redact(v);
    else if (Array.isArray(v)) out[k] = v.map((s) => redact(String(s)));
    else out[k] = v;
  }
  return out;
}

function textValue(v: unknown): string {
  const s = Array.isArray(v) ? v.join(',') : String(v);
  return /[\s"]/.test(s) || s === '' ? JSON.stringify(s) : s;
}

/** Opens the log file now, so that a missing directory is one line at start-up, not an unhandled 'error' event later. */
function openLogFile(file: string): number {
  try {
    return openSync(file, 'a', 0o600);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'its directory does not exist' : code === 'EACCES' ? 'permission denied' : (code ?? 'error');
    throw new BadParameterError(`cannot open the log file ${file}: ${reason}; create the directory or change teleport.log.output`);
  }
}

/**
 * Creates the logger `teleport.log` asks for: `output` stderr, stdout or a file; `severity` the lowest
 * level written; `format` text (`2026-01-01T00:00:00.000Z INFO [AUTH] message key:value`) or JSON lines
 * (`{"timestamp","level","component","message",...fields}`). Messages and string fields go through
 * `redact`.
 *
 * @example
 * ```ts
 * const log = newLogger({ output: 'stderr', severity: 'info', format: 'json' }).with('auth');
 * log.info('auth service is up', { addr: '0.0.0.0:3025' });
 * ```
 */
export function newLogger(options: LoggerOptions): Logger {
  const clock = options.clock ?? systemClock;
  const threshold = LOG_SEVERITIES.indexOf(options.severity);
  let stream: WriteStream | undefined;
  let write = options.write;
  if (!write) {
    if (options.output === 'stderr' || options.output === '') write = (line) => process.stderr.write(line);
    else if (options.output === 'stdout') write = (line) => process.stdout.write(line);
    else {
      stream = createWriteStream(options.output, { fd: openLogFile(options.output) });
      const file = options.output;
      stream.once('error', (err: NodeJS.ErrnoException) => process.stderr.write(`ERROR: cannot write the log file ${file}: ${err.code ?? err.message}\n`));
      const s = stream;
      write = (line) => s.write(line);
    }
  }
  const emit = write;

  function make(component: string | undefined, base: LogFields): Logger {
    const log = (level: LogSeverity, message: string, fields: LogFields = {}): void => {
      if (LOG_SEVERITIES.indexOf(level) < threshold) return;
      const all = clean({ ...base, ...fields });
      const time = clock.now().toISOString();
      const msg = redact(message);
      if (options.format === 'json') {
        emit(`${JSON.stringify({ timestamp: time, level, ...(component ? { component } : {}), message: msg, ...all })}\n`);
      } else {
        const extra = Object.entries(all).map(([k, v]) => ` ${k}:${textValue(v)}`).join('');
        emit(`${time} ${level.toUpperCase().padEnd(5)} ${component ? `[${component.toUpperCase()}] ` : ''}${msg}${extra}\n`);
      }
    };
    return {
      debug: (m, f) => log('debug', m, f),
      info: (m, f) => log('info', m, f),
      warn: (m, f) => log('warn', m, f),
      error: (m, f) => log('error', m, f),
      with: (c, f = {}) => make(c, { ...base, ...f }),
      close: () =>
        new Promise<void>((resolve) => {
          if (!stream) return resolve();
          stream.end(() => resolve());
        }),
    };
  }
  return make(undefined, {});
}

/** A logger that writes nothing (tests, embedding). */
export const nopLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  with: () => nopLogger,
  close: async () => {},
};
