import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  AUDIT_EVENTS_URI_SCHEMES,
  defaultAuditEventsPath,
  newMultiAuditStore,
  openAuditStore,
  parseAuditEventsUri,
  parsePostgresUri,
  type AuditEvent,
  type AuditEventStore,
} from '../../src/audit/index.js';
import { tlsPlans } from '../../src/audit/postgres/connection.js';
import { ConnectionProblemError, isKind } from '../../src/errors/index.js';
import { eventAt } from './compliance.js';

const root = await mkdtemp(path.join(tmpdir(), 'teleport-ts-audit-open-'));
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a throw');
}

describe('parseAuditEventsUri', () => {
  it('reads sqlite, file, postgres and cockroachdb URIs', () => {
    expect(parseAuditEventsUri('sqlite:///var/lib/teleport/log/events.db')).toEqual({ driver: 'sqlite', path: '/var/lib/teleport/log/events.db' });
    expect(parseAuditEventsUri('file:///var/lib/teleport/log')).toEqual({ driver: 'sqlite', path: '/var/lib/teleport/log/events.db' });
    expect(parseAuditEventsUri('file:///var/lib/my%20dir/')).toEqual({ driver: 'sqlite', path: '/var/lib/my dir/events.db' });
    expect(parseAuditEventsUri('postgres://u@h/db')).toEqual({ driver: 'postgres', uri: 'postgres://u@h/db' });
    expect(parseAuditEventsUri('postgresql://u@h/db')).toEqual({ driver: 'postgres', uri: 'postgresql://u@h/db' });
    expect(parseAuditEventsUri('cockroachdb://u@h/db')).toEqual({ driver: 'cockroachdb', uri: 'cockroachdb://u@h/db' });
  });

  it('refuses unknown schemes naming the accepted ones, without the password', () => {
    const err = thrown(() => parseAuditEventsUri('dynamodb://user:hunter2@events-table'));
    expect(isKind(err, 'bad-parameter')).toBe(true);
    expect(err.message).not.toContain('hunter2');
    expect((err as { hint?: string }).hint).toContain('sqlite://');
    for (const s of AUDIT_EVENTS_URI_SCHEMES) expect((err as { hint?: string }).hint).toContain(`${s}://`);
    expect(isKind(thrown(() => parseAuditEventsUri('not a uri')), 'bad-parameter')).toBe(true);
    expect(isKind(thrown(() => parseAuditEventsUri('stdout://')), 'bad-parameter')).toBe(true);
  });

  it('refuses relative or remote sqlite/file locations', () => {
    for (const uri of ['sqlite://relative/events.db', 'file://host/var/log', 'sqlite:///x.db?mode=ro', 'file:///']) {
      expect(isKind(thrown(() => parseAuditEventsUri(uri)), 'bad-parameter'), uri).toBe(true);
    }
  });

  it('defaults to <dataDir>/log/events.db', () => {
    expect(defaultAuditEventsPath('/var/lib/teleport')).toBe('/var/lib/teleport/log/events.db');
  });
});

describe('openAuditStore', () => {
  it('checks every URI before opening any store', async () => {
    const dir = path.join(root, 'not-created');
    const err = await openAuditStore({ uris: [`file://${dir}`, 'mysql://u:p@h/db'], dataDir: root }).then(() => undefined, (e: unknown) => e);
    expect(isKind(err, 'bad-parameter')).toBe(true);
    await expect(import('node:fs/promises').then((fs) => fs.stat(dir))).rejects.toThrow();
  });

  it('with several URIs, emits to all and searches the first', async () => {
    const a = path.join(root, 'multi-a');
    const b = path.join(root, 'multi-b');
    const store = await openAuditStore({ uris: [`file://${a}`, `sqlite://${b}/x.db`], dataDir: root });
    const ev = eventAt(0);
    await store.emit(ev);
    await store.close();
    const onlyB = await openAuditStore({ uris: [`sqlite://${b}/x.db`], dataDir: root });
    const late = eventAt(1);
    await onlyB.emit(late);
    await onlyB.close();
    const again = await openAuditStore({ uris: [`file://${a}`, `sqlite://${b}/x.db`], dataDir: root });
    try {
      const range = { from: new Date(0), to: new Date('2100-01-01'), limit: 10, order: 'asc' as const };
      expect((await again.search(range)).events).toEqual([ev]);
    } finally {
      await again.close();
    }
  });
});

describe('newMultiAuditStore', () => {
  const fake = (fail: boolean, seen: AuditEvent[]): AuditEventStore => ({
    emit: async (ev) => {
      if (fail) throw new ConnectionProblemError('down');
      seen.push(ev);
    },
    emitMany: async (events) => {
      if (fail) throw new ConnectionProblemError('down');
      seen.push(...events);
    },
    search: async () => ({ events: seen }),
    deleteOlderThan: async () => 0,
    sweep: async () => 0,
    close: async () => {},
  });

  it('still emits to the healthy stores when one fails, then reports the failure', async () => {
    const a: AuditEvent[] = [];
    const c: AuditEvent[] = [];
    const store = newMultiAuditStore([fake(false, a), fake(true, []), fake(false, c)]);
    const ev = eventAt(0);
    await expect(store.emit(ev)).rejects.toMatchObject({ kind: 'connection-problem', message: 'down' });
    expect(a).toEqual([ev]);
    expect(c).toEqual([ev]);
    const two = newMultiAuditStore([fake(true, []), fake(true, [])]);
    await expect(two.emit(ev)).rejects.toMatchObject({ kind: 'connection-problem', message: expect.stringContaining('2 of 2') });
  });

  it('rejects a malformed event once, as a bad parameter', async () => {
    const store = newMultiAuditStore([fake(false, []), fake(false, [])]);
    await expect(store.emit({ ...eventAt(0), uid: '' })).rejects.toMatchObject({ kind: 'bad-parameter' });
  });
});

describe('parsePostgresUri', () => {
  it('reads user, password, host, port, database and libpq parameters', () => {
    const u = parsePostgresUri(
      'postgresql://tele%40port:p%2Fss@db.example.com:6543/teleport_audit?sslmode=verify-full&sslrootcert=/ca.pem&sslcert=/c.pem&sslkey=/k.pem&application_name=x&connect_timeout=5',
    );
    expect(u).toMatchObject({
      dialect: 'postgres',
      host: 'db.example.com',
      port: 6543,
      user: 'tele@port',
      password: 'p/ss',
      database: 'teleport_audit',
      sslmode: 'verify-full',
      sslrootcert: '/ca.pem',
      sslcert: '/c.pem',
      sslkey: '/k.pem',
      applicationName: 'x',
      connectTimeoutMs: 5000,
    });
    expect(u.redacted).not.toContain('p%2Fss');
    expect(parsePostgresUri('postgres://h')).toMatchObject({ port: 5432, sslmode: 'prefer', user: undefined, database: undefined });
    expect(parsePostgresUri('postgres://[::1]:5433/db')).toMatchObject({ host: '::1', port: 5433 });
    expect(parsePostgresUri('postgres:///db?host=/var/run/postgresql')).toMatchObject({ host: '/var/run/postgresql', database: 'db' });
  });

  it('reads cockroachdb:// as the CockroachDB dialect on port 26257', () => {
    expect(parsePostgresUri('cockroachdb://root@crdb/audit?sslmode=disable')).toMatchObject({ dialect: 'cockroachdb', host: 'crdb', port: 26257 });
  });

  it('refuses bad sslmode, ports and unknown parameters without echoing the password', () => {
    for (const uri of [
      'postgres://u:hunter2@h/db?sslmode=sometimes',
      'postgres://u:hunter2@h/db?sslmod=disable',
      'postgres://u:hunter2@h:0/db',
      'postgres://u:hunter2@h/db?connect_timeout=soon',
      'mysql://u:hunter2@h/db',
      'postgres://u:hunter2@h/db?password=hunter2&sslmode=bad',
    ]) {
      const err = thrown(() => parsePostgresUri(uri));
      expect(isKind(err, 'bad-parameter'), uri).toBe(true);
      expect(err.message, uri).not.toContain('hunter2');
    }
  });
});

describe('tlsPlans (libpq sslmode semantics)', () => {
  it('maps each sslmode to the TLS attempts and reads the certificate files', async () => {
    const ca = path.join(root, 'ca.pem');
    const cert = path.join(root, 'client.pem');
    const key = path.join(root, 'client.key');
    await writeFile(ca, 'CA-PEM');
    await writeFile(cert, 'CERT-PEM');
    await writeFile(key, 'KEY-PEM');
    const plans = (q: string) => tlsPlans(parsePostgresUri(`postgres://u@db/x?${q}`));
    expect(await plans('sslmode=disable')).toEqual([false]);
    expect(await plans('sslmode=allow')).toEqual([false, { rejectUnauthorized: false }]);
    expect(await plans('')).toEqual([{ rejectUnauthorized: false }, false]);
    expect(await plans('sslmode=require')).toEqual([{ rejectUnauthorized: false }]);
    const verifyCa = [{ ca: 'CA-PEM', rejectUnauthorized: true, checkServerIdentity: expect.any(Function) }];
    expect(await plans(`sslmode=require&sslrootcert=${ca}`)).toEqual(verifyCa);
    const [plan] = await plans(`sslmode=verify-ca&sslrootcert=${ca}`);
    expect([plan]).toEqual(verifyCa);
    // verify-ca checks the chain, not the host name.
    expect((plan as { checkServerIdentity: (h: string, c: object) => unknown }).checkServerIdentity('other.example', {})).toBeUndefined();
    expect(await plans(`sslmode=verify-full&sslrootcert=${ca}&sslcert=${cert}&sslkey=${key}&sslpassword=pw`)).toEqual([
      { ca: 'CA-PEM', cert: 'CERT-PEM', key: 'KEY-PEM', passphrase: 'pw', rejectUnauthorized: true },
    ]);
    expect(await plans('sslmode=verify-full&sslrootcert=system')).toEqual([{ rejectUnauthorized: true }]);
    expect(await tlsPlans(parsePostgresUri('postgres:///x?host=/run/pg&sslmode=verify-full'))).toEqual([false]);
  });

  it('refuses sslcert without sslkey, and unreadable files, as bad parameters', async () => {
    await expect(tlsPlans(parsePostgresUri(`postgres://u:hunter2@db/x?sslmode=require&sslcert=/c.pem`))).rejects.toMatchObject({ kind: 'bad-parameter' });
    const err = await tlsPlans(parsePostgresUri('postgres://u:hunter2@db/x?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem')).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).toMatchObject({ kind: 'bad-parameter', message: expect.stringContaining('/nonexistent/ca.pem') });
    expect(err?.message).not.toContain('hunter2');
  });
});
