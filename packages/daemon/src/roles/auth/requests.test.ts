import { describe, expect, it } from 'vitest';
import { isKind } from '@teleport-ts/core/errors';
import { AuthenticateUserBody, CreateTokenBody, CreateUserBody, DeleteTokenBody, EmitAuditEventsBody, RegisterUsingTokenBody, UpsertDatabaseServerBody, UserTokenBody, parseBody } from './requests.js';

function refusal(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    expect(isKind(err, 'bad-parameter')).toBe(true);
    return (err as Error).message;
  }
  throw new Error('expected a refusal');
}

describe('request bodies', () => {
  it('answer each problem in one line naming the field, as the API always has', () => {
    expect(refusal(() => parseBody(UserTokenBody, [1]))).toBe('request body must be a JSON object');
    expect(refusal(() => parseBody(UserTokenBody, {}))).toBe('missing parameter tokenId');
    expect(refusal(() => parseBody(UserTokenBody, { tokenId: 'x'.repeat(70_000) }))).toBe('tokenId is too long');
    expect(refusal(() => parseBody(CreateUserBody, { name: 'a', ttl: 49 * 3_600_000 }))).toBe('ttl must be at most 48h');
    expect(refusal(() => parseBody(CreateUserBody, { name: 'a', ttl: -1 }))).toBe('ttl must be a positive duration in milliseconds');
    expect(refusal(() => parseBody(CreateUserBody, { name: 'a', roles: 'access' }))).toBe('roles must be a list of strings');
    expect(refusal(() => parseBody(CreateUserBody, { name: 'a', invite: 'no' }))).toBe('invite must be true or false');
    expect(refusal(() => parseBody(CreateUserBody, { name: 'a', traits: [] }))).toBe('traits must be a mapping of lists');
    expect(refusal(() => parseBody(CreateTokenBody, { labels: { 'bad key': 'x' } }))).toBe('labels: invalid label key "bad key"');
    expect(refusal(() => parseBody(CreateTokenBody, { labels: { env: 3 } }))).toBe('labels["env"] must be a string');
    expect(refusal(() => parseBody(DeleteTokenBody, { name: '' }))).toBe('missing parameter name');
    expect(refusal(() => parseBody(EmitAuditEventsBody, {}))).toBe('events must be a list');
    expect(refusal(() => parseBody(AuthenticateUserBody, { sshPublicKey: 's', tlsPublicKey: 't', user: 'u', clientAddr: 'host:1' }))).toBe(
      'clientAddr must be an IP address and a port, such as 203.0.113.7:51234 or [2001:db8::7]:51234',
    );
  });

  it('checks nested objects with the same messages, and never quotes a token', () => {
    const heartbeat = { hostId: 'h1', hostname: 'agent', database: { name: 'bad name', protocol: 'postgres', uri: 'h:1' } };
    expect(refusal(() => parseBody(UpsertDatabaseServerBody, heartbeat))).toBe('name "bad name" must be letters, digits, ".", "_" or "-"');
    expect(refusal(() => parseBody(UpsertDatabaseServerBody, { ...heartbeat, database: { ...heartbeat.database, name: 'ok', uri: 'x'.repeat(2000) } }))).toBe(
      'database.uri is too long',
    );
    expect(refusal(() => parseBody(UpsertDatabaseServerBody, { ...heartbeat, database: { ...heartbeat.database, name: 'ok' }, ttl: 10 }))).toBe('ttl must be at least 1s');
    const secret = 's3cr3t-join-token';
    expect(refusal(() => parseBody(RegisterUsingTokenBody, { token: `${secret}${'x'.repeat(1100)}` }))).toBe('missing parameter token');
  });

  it('returns the typed body: absent, null and empty optional fields read as undefined, unknown fields dropped', () => {
    expect(parseBody(CreateUserBody, { name: 'alice', description: '', expires: null, roles: null, extra: 1 })).toEqual({ name: 'alice' });
    // An absent body reads as `{}`.
    expect(refusal(() => parseBody(UserTokenBody, undefined))).toBe('missing parameter tokenId');
  });
});
