import { describe, expect, it } from 'vitest';
import { BadParameterError } from '../errors/index.js';
import { parseWith } from '../schema/index.js';
import { DatabaseServersResponse, parseDatabaseServers } from './responses.js';

const SUBJECT = 'response of GET /v1/dbservers';

const database = (labels: unknown = { env: 'dev' }) => ({
  kind: 'db',
  version: 'v3',
  metadata: { name: 'pg', description: 'Orders', labels },
  spec: { protocol: 'postgres', uri: 'localhost:5432' },
});

const server = (spec: Record<string, unknown> = {}, metadata: Record<string, unknown> = {}) => ({
  kind: 'db_server',
  version: 'v3',
  metadata: { name: 'pg', expires: '2030-01-31T12:00:00.000Z', ...metadata },
  spec: { host_id: 'host-1', hostname: 'db1', version: '16.4.0', database: database(), proxy_ids: ['proxy-1'], ...spec },
});

function messageOf(parse: () => unknown): string {
  try {
    parse();
  } catch (err) {
    expect(err).toBeInstanceOf(BadParameterError);
    return (err as Error).message;
  }
  throw new Error('did not throw');
}

describe('parseDatabaseServers', () => {
  it('returns the items array of a valid listing as it is', () => {
    const raw = { items: [server(), server({ host_id: 'host-2', proxy_ids: undefined }, { expires: undefined }), server({ database: { ...database({}), metadata: { name: 'pg', labels: {} } } })] };
    const servers = parseDatabaseServers(raw, SUBJECT);
    expect(servers).toBe(raw.items);
    expect(servers).toEqual(parseWith(DatabaseServersResponse, raw, SUBJECT).items);
  });

  it('returns an empty listing as it is', () => {
    const raw = { items: [] };
    expect(parseDatabaseServers(raw, SUBJECT)).toBe(raw.items);
  });

  it.each([
    ['a hostname that is a number', { items: [server(), server({ hostname: 7 })] }, `${SUBJECT}: items[1].spec.hostname must be a string`],
    ['a database without labels', { items: [server({ database: { ...database(), metadata: { name: 'pg' } } })] }, `${SUBJECT}: items[0].spec.database.metadata.labels is required`],
    ['a label value that is a number', { items: [server({ database: database({ env: 1 }) })] }, `${SUBJECT}: items[0].spec.database.metadata.labels.env must be a string`],
    ['proxy_ids with a number', { items: [server({ proxy_ids: ['proxy-1', 3] })] }, `${SUBJECT}: items[0].spec.proxy_ids[1] must be a string`],
    ['items that are not a list', { items: {} }, `${SUBJECT}: items must be a list`],
    ['no items', {}, `${SUBJECT}: items is required`],
  ])('refuses a listing with %s with the schema message', (_what, raw, message) => {
    const got = messageOf(() => parseDatabaseServers(raw, SUBJECT));
    expect(got).toBe(messageOf(() => parseWith(DatabaseServersResponse, raw, SUBJECT)));
    expect(got).toBe(message);
  });

  it.each([
    ['kind', { items: [{ ...server(), kind: 'db' }] }],
    ['version', { items: [{ ...server(), version: 'v2' }] }],
    ['database kind', { items: [server({ database: { ...database(), kind: 'app' } })] }],
    ['database uri', { items: [server({ database: { ...database(), spec: { protocol: 'postgres' } } })] }],
    ['metadata expires', { items: [server({}, { expires: 5 })] }],
    ['database description', { items: [server({ database: { ...database(), metadata: { name: 'pg', description: null, labels: {} } } })] }],
  ])('refuses a wrong %s with the schema message', (_what, raw) => {
    expect(messageOf(() => parseDatabaseServers(raw, SUBJECT))).toBe(messageOf(() => parseWith(DatabaseServersResponse, raw, SUBJECT)));
  });
});
