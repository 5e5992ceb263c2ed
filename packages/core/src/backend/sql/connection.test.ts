import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_POOL_MAX_CONNS, parseConnectionString, poolConfigFor, tlsOptionsFor } from './connection.js';
import { classifyFailure, toTeleportError } from './errors.js';

const dir = mkdtempSync(path.join(tmpdir(), 'teleport-ts-conn-'));
const file = (name: string, content: string): string => {
  const p = path.join(dir, name);
  writeFileSync(p, content);
  return p;
};
const ca = file('ca.pem', 'CA PEM');
const cert = file('client.pem', 'CERT PEM');
const key = file('client.key', 'KEY PEM');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('parseConnectionString', () => {
  it('reads a URL with the TLS parameters and pool_max_conns', () => {
    const s = parseConnectionString(
      `postgres://teleport:p%40ss@db.example.com:6432/teleport_backend?sslmode=verify-full&sslrootcert=${ca}&sslcert=${cert}&sslkey=${key}&pool_max_conns=32&application_name=auth`,
      {},
    );
    expect(s).toMatchObject({
      host: 'db.example.com',
      port: 6432,
      user: 'teleport',
      password: 'p@ss',
      database: 'teleport_backend',
      sslMode: 'verify-full',
      sslRootCert: ca,
      sslCert: cert,
      sslKey: key,
      poolMaxConns: 32,
      applicationName: 'auth',
    });
  });

  it('reads the keyword form, a unix socket host and libpq defaults', () => {
    const s = parseConnectionString("host=/var/run/postgresql dbname='my db' user=teleport sslmode=disable connect_timeout=5", {});
    expect(s).toMatchObject({ host: '/var/run/postgresql', database: 'my db', user: 'teleport', sslMode: 'disable', connectTimeoutMs: 5000 });
    expect(parseConnectionString('postgresql://localhost/teleport', {})).toMatchObject({ sslMode: 'prefer', poolMaxConns: DEFAULT_POOL_MAX_CONNS });
  });

  it('falls back to PGSSLMODE, PGSSLROOTCERT, PGSSLCERT and PGSSLKEY', () => {
    const env = { PGSSLMODE: 'verify-ca', PGSSLROOTCERT: ca, PGSSLCERT: cert, PGSSLKEY: key };
    expect(parseConnectionString('postgres://teleport@db/teleport', env)).toMatchObject({ sslMode: 'verify-ca', sslRootCert: ca, sslCert: cert, sslKey: key });
    // The URL wins over the environment.
    expect(parseConnectionString('postgres://teleport@db/teleport?sslmode=require&sslrootcert=/other.pem', env)).toMatchObject({
      sslMode: 'require',
      sslRootCert: '/other.pem',
    });
  });

  it('refuses bad values with bad-parameter, never quoting the password', () => {
    const bad = [
      'postgres://u:topsecret@db/x?sslmode=sometimes',
      'postgres://u:topsecret@db/x?pool_max_conns=0',
      'postgres://u:topsecret@db:99999/x',
      'postgres://u:topsecret@db/x?connect_timeout=soon',
      'not a connection string',
    ];
    for (const conn of bad) {
      let err: (Error & { kind?: string }) | undefined;
      try {
        parseConnectionString(conn, {});
      } catch (e) {
        err = e as Error & { kind?: string };
      }
      expect(err?.kind, conn).toBe('bad-parameter');
      expect(err?.message).not.toContain('topsecret');
    }
  });
});

describe('tlsOptionsFor', () => {
  const settings = (query: string) => parseConnectionString(`postgres://teleport@db.example.com/teleport?${query}`, {});

  it('disable: no TLS', () => {
    expect(tlsOptionsFor(settings('sslmode=disable'))).toBe(false);
  });

  it('require and prefer: TLS without verification; require with a root certificate verifies the chain (as libpq)', () => {
    expect(tlsOptionsFor(settings('sslmode=require'))).toEqual({ rejectUnauthorized: false });
    expect(tlsOptionsFor(settings('sslmode=prefer'))).toEqual({ rejectUnauthorized: false });
    const withRoot = tlsOptionsFor(settings(`sslmode=require&sslrootcert=${ca}`));
    expect(withRoot).toMatchObject({ rejectUnauthorized: true, ca: Buffer.from('CA PEM') });
    expect(withRoot && withRoot.checkServerIdentity?.('other.example.com', {} as never)).toBeUndefined();
  });

  it('verify-ca checks the chain but not the host name; verify-full checks both', () => {
    const verifyCa = tlsOptionsFor(settings(`sslmode=verify-ca&sslrootcert=${ca}`));
    expect(verifyCa).toMatchObject({ rejectUnauthorized: true, ca: Buffer.from('CA PEM') });
    expect(verifyCa && typeof verifyCa.checkServerIdentity).toBe('function');
    const verifyFull = tlsOptionsFor(settings(`sslmode=verify-full&sslrootcert=${ca}&sslcert=${cert}&sslkey=${key}`));
    expect(verifyFull).toEqual({ rejectUnauthorized: true, ca: Buffer.from('CA PEM'), cert: Buffer.from('CERT PEM'), key: Buffer.from('KEY PEM') });
    // sslrootcert=system: the platform's trust store.
    expect(tlsOptionsFor(settings('sslmode=verify-full&sslrootcert=system'))).toEqual({ rejectUnauthorized: true });
  });

  it('names the parameter of a file it cannot read, and wants sslcert with sslkey', () => {
    expect(() => tlsOptionsFor(settings('sslmode=verify-full&sslrootcert=/nonexistent/ca.pem'))).toThrow(/sslrootcert file \/nonexistent\/ca.pem: ENOENT/);
    expect(() => tlsOptionsFor(settings(`sslmode=require&sslcert=${cert}`))).toThrow(/sslcert and sslkey/);
  });

  it('builds the pool configuration', () => {
    const config = poolConfigFor(settings('sslmode=disable&pool_max_conns=7'), { options: '-c default_transaction_isolation=serializable' });
    expect(config).toMatchObject({
      host: 'db.example.com',
      user: 'teleport',
      database: 'teleport',
      ssl: false,
      max: 7,
      options: '-c default_transaction_isolation=serializable',
    });
  });
});

describe('classifyFailure', () => {
  const pgError = (code: string) => Object.assign(new Error(`error ${code}`), { code });

  it('retries conflicts always, refused sessions always, lost connections only before sending', () => {
    for (const code of ['40001', '40P01', '23505']) expect(classifyFailure(pgError(code), true)).toBe('conflict');
    expect(classifyFailure(pgError('57P03'), true)).toBe('unavailable');
    expect(classifyFailure(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), false)).toBe('unavailable');
    expect(classifyFailure(new Error('Connection terminated unexpectedly'), true)).toBe('ambiguous');
    expect(classifyFailure(pgError('57P01'), true)).toBe('ambiguous');
    expect(classifyFailure(pgError('40003'), true)).toBe('ambiguous'); // CockroachDB: result is ambiguous
    expect(classifyFailure(pgError('08006'), true)).toBe('ambiguous');
    expect(classifyFailure(pgError('42601'), true)).toBe('permanent');
  });

  it('maps failures to error kinds without credentials', () => {
    expect(toTeleportError(pgError('22021'), 'put')).toMatchObject({ kind: 'bad-parameter' });
    expect(toTeleportError(pgError('54000'), 'put')).toMatchObject({ kind: 'bad-parameter' });
    expect(toTeleportError(pgError('40001'), 'put')).toMatchObject({ kind: 'limit-exceeded' });
    const err = toTeleportError(new Error('could not connect to postgres://u:hunter2@db/x'), 'open');
    expect(err.kind).toBe('connection-problem');
    expect(err.message).not.toContain('hunter2');
  });
});
