import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { AccessDeniedError, BadParameterError, ConnectionProblemError, LimitExceededError, NotFoundError } from '../../errors/index.js';
import { PG_PROTOCOL_ERROR_CODES } from './buffer.js';
import { SQLSTATE } from './constants.js';
import type { BackendMessage } from './messages.js';
import { newBackendParser } from './parser.js';
import { refuseConnection, refusalSqlState } from './refusal.js';

const servers: ReturnType<typeof createServer>[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

/** Refuses one real TCP client with `err`, and returns what the client read before the server ended the stream. */
async function refusedWith(err: unknown, code?: string): Promise<{ messages: BackendMessage[]; returned: string }> {
  let returned = '';
  const server = createServer((socket: Socket) => {
    returned = refuseConnection(socket, err, { internalMessage: 'internal error in the test', ...(code !== undefined ? { code } : {}) });
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
  const chunks: Buffer[] = [];
  client.on('data', (c: Buffer) => chunks.push(c));
  await once(client, 'end');
  client.destroy();
  const messages = newBackendParser()
    .push(Buffer.concat(chunks))
    .flatMap((s) => (s.kind === 'message' ? [s.message] : []));
  return { messages, returned };
}

describe('refusalSqlState', () => {
  it('maps the error kind to a SQLSTATE', () => {
    expect(refusalSqlState(new AccessDeniedError('denied'))).toBe(SQLSTATE.invalidAuthorizationSpecification);
    expect(refusalSqlState(new BadParameterError('bad certificate'))).toBe(SQLSTATE.invalidAuthorizationSpecification);
    expect(refusalSqlState(new NotFoundError('database "x" not found'))).toBe(SQLSTATE.connectionFailure);
    expect(refusalSqlState(new ConnectionProblemError('unreachable'))).toBe(SQLSTATE.connectionFailure);
    expect(refusalSqlState(new Error('boom'))).toBe(SQLSTATE.connectionFailure);
  });

  it('calls a malformed, oversized or unsupported message a protocol violation', () => {
    expect(refusalSqlState(new BadParameterError('malformed', { code: PG_PROTOCOL_ERROR_CODES.malformed }))).toBe(SQLSTATE.protocolViolation);
    expect(refusalSqlState(new LimitExceededError('too large', { code: PG_PROTOCOL_ERROR_CODES.tooLarge }))).toBe(SQLSTATE.protocolViolation);
  });
});

describe('refuseConnection', () => {
  it('sends one FATAL ErrorResponse with message and hint, then ends the stream', async () => {
    const { messages, returned } = await refusedWith(new AccessDeniedError('access to db denied: no role grants access', { hint: 'ask an admin' }));
    expect(messages).toEqual([
      { type: 'errorResponse', fields: expect.objectContaining({ severity: 'FATAL', code: '28000', message: 'access to db denied: no role grants access', hint: 'ask an admin' }) },
    ]);
    expect(returned).toBe('access to db denied: no role grants access');
  });

  it('never sends the text of an error that is not a TeleportError, nor credentials in one that is', async () => {
    const internal = await refusedWith(new Error('ENOENT /secret/path/key.pem'));
    expect(internal.messages).toEqual([{ type: 'errorResponse', fields: expect.objectContaining({ code: '08006', message: 'internal error in the test' }) }]);
    const withPassword = await refusedWith(new ConnectionProblemError('cannot reach postgres://alice:hunter2@db:5432/app'));
    expect(JSON.stringify(withPassword.messages)).not.toContain('hunter2');
  });

  it('takes a SQLSTATE the caller knows better', async () => {
    const { messages } = await refusedWith(new ConnectionProblemError('closed early'), SQLSTATE.protocolViolation);
    expect(messages).toEqual([{ type: 'errorResponse', fields: expect.objectContaining({ code: '08P01' }) }]);
  });
});
