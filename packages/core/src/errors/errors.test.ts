import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  AccessDeniedError,
  ERROR_CODES,
  ERROR_KINDS,
  LimitExceededError,
  TeleportError,
  fromWireError,
  httpStatusOf,
  httpStatusToKind,
  isErrorCode,
  isTeleportError,
  kindToHttpStatus,
  type ErrorKind,
  type TeleportErrorCode,
} from './index.js';

const PACKAGES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sourceFiles(full)));
    else if (/\.ts$/.test(entry.name)) out.push(full);
  }
  return out;
}

describe('error code catalogue', () => {
  it('lists every ERR_TP_ code written in packages/*/src', async () => {
    const used = new Map<string, string>();
    for (const pkg of await readdir(PACKAGES)) {
      const src = path.join(PACKAGES, pkg, 'src');
      const files = await sourceFiles(src).catch(() => []);
      // This file writes codes that are not in the catalogue on purpose.
      for (const file of files.filter((f) => f !== fileURLToPath(import.meta.url))) {
        // A code in quotes or backticks; a bare prefix such as /^ERR_TP_PG_/ in a regex is not a code.
        for (const m of (await readFile(file, 'utf8')).matchAll(/['"`](ERR_TP_[A-Z0-9_]*[A-Z0-9])['"`]/g)) {
          used.set(m[1]!, path.relative(PACKAGES, file));
        }
      }
    }
    expect(used.size).toBeGreaterThan(40);
    const missing = [...used].filter(([code]) => !isErrorCode(code)).map(([code, file]) => `${code} (${file})`);
    expect(missing).toEqual([]);
  });

  it('binds every code to a kind, and each kind default to its own kind', () => {
    for (const [code, kind] of Object.entries(ERROR_CODES)) {
      expect(code).toMatch(/^ERR_TP_[A-Z0-9_]+$/);
      expect(ERROR_KINDS).toContain(kind);
    }
    for (const kind of ERROR_KINDS) expect(new TeleportError(kind, 'x').code).toBe(`ERR_TP_${kind.toUpperCase().replace(/-/g, '_')}`);
  });

  it('maps kinds to HTTP statuses and back', () => {
    for (const kind of ERROR_KINDS) expect(httpStatusToKind(kindToHttpStatus(kind))).toBe(kind);
    expect(new Set(ERROR_KINDS.map(kindToHttpStatus)).size).toBe(ERROR_KINDS.length);
    expect(httpStatusToKind(401)).toBe('access-denied');
    expect(httpStatusToKind(500)).toBe('connection-problem');
    expect(httpStatusToKind(418)).toBe('bad-parameter');
  });

  it('answers codes with their own status and maps those statuses back to the code kind', () => {
    const cases: [TeleportError, number][] = [
      [new TeleportError('bad-parameter', 'm', { code: 'ERR_TP_METHOD_NOT_ALLOWED' }), 405],
      [new LimitExceededError('big', { code: 'ERR_TP_REQUEST_TOO_LARGE' }), 413],
      [new LimitExceededError('slow down', { code: 'ERR_TP_RATE_LIMITED' }), 429],
      [new TeleportError('connection-problem', 'bug', { code: 'ERR_TP_INTERNAL' }), 500],
      [new AccessDeniedError('no', { code: 'ERR_TP_USER_LOCKED' }), 403],
    ];
    for (const [err, status] of cases) {
      expect(httpStatusOf(err)).toBe(status);
      expect(httpStatusToKind(status)).toBe(err.kind);
    }
  });

  it('keeps a known code of the same kind from the wire and replaces any other', () => {
    expect(fromWireError({ kind: 'access-denied', code: 'ERR_TP_USER_LOCKED', message: 'm' }).code).toBe('ERR_TP_USER_LOCKED');
    expect(fromWireError({ kind: 'access-denied', code: 'ERR_TP_FROM_THE_FUTURE', message: 'm' }).code).toBe('ERR_TP_ACCESS_DENIED');
    expect(fromWireError({ kind: 'not-found', code: 'ERR_TP_USER_LOCKED', message: 'm' }).code).toBe('ERR_TP_NOT_FOUND');
    expect(fromWireError({ kind: 'nonsense' as ErrorKind, code: 'x', message: 'm' })).toMatchObject({ kind: 'bad-parameter', code: 'ERR_TP_BAD_PARAMETER' });
  });

  it('types codes: a code of another kind does not compile, and switch (err.code) narrows the kind', () => {
    // @ts-expect-error ERR_TP_PG_TRUNCATED is a connection-problem code
    void new AccessDeniedError('m', { code: 'ERR_TP_PG_TRUNCATED' });
    // @ts-expect-error not in the catalogue
    void new AccessDeniedError('m', { code: 'ERR_TP_NO_SUCH_CODE' });
    const err: unknown = new AccessDeniedError('locked', { code: 'ERR_TP_USER_LOCKED' });
    if (!isTeleportError(err)) throw new TypeError('expected a TeleportError');
    expectTypeOf(err.code).toEqualTypeOf<TeleportErrorCode>();
    switch (err.code) {
      case 'ERR_TP_USER_LOCKED':
        expectTypeOf(err.kind).toEqualTypeOf<'access-denied'>();
        break;
      case 'ERR_TP_PG_TRUNCATED':
        expectTypeOf(err.kind).toEqualTypeOf<'connection-problem'>();
        break;
      default:
        break;
    }
    expect(err.kind).toBe('access-denied');
  });
});
