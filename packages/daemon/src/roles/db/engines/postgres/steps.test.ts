/** The session's steps, each alone: real sockets and the real protocol code, no agent around them. */

import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { AuditEventFields, AuditEventKey } from '@teleport-ts/core/audit';
import {
  frontendMessageTap,
  newBackendParser,
  newCancelKeyRegistry,
  serializeAuthenticationOk,
  serializeBackendKeyData,
  serializeBind,
  serializeCancelRequest,
  serializeExecute,
  serializeParameterStatus,
  serializeParse,
  serializeQuery,
  serializeReadyForQuery,
  serializeSslRequest,
  serializeStartupMessage,
  type BackendMessage,
} from '@teleport-ts/core/protocol/postgres';
import type { ServiceAuditEmitter } from '../../audit.js';
import { loadDatabaseSpecs } from '../../config.js';
import { newQueryAuditor } from './query-audit.js';
import { makeClientReady } from './ready.js';
import { newPostgresSession, type CancelTarget } from './session.js';
import { handleStartup } from './startup.js';

const servers: ReturnType<typeof createServer>[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

/** A connected pair of real TCP sockets: the agent's end and the client's. */
async function socketPair(): Promise<{ agent: Socket; client: Socket }> {
  const server = createServer();
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
  const [agent] = await accepted;
  return { agent, client };
}

/** An audit emitter that keeps what it is given. */
function recordingAudit(): ServiceAuditEmitter & { events: { key: AuditEventKey; fields: AuditEventFields }[] } {
  const events: { key: AuditEventKey; fields: AuditEventFields }[] = [];
  return { events, emit: (key, fields) => void events.push({ key, fields: { ...fields } }), flush: async () => {}, close: async () => {}, depth: () => 0 };
}

describe('handleStartup', () => {
  it('answers an SSLRequest N and returns the StartupMessage with its bytes', async () => {
    const { agent, client } = await socketPair();
    const startup = serializeStartupMessage({ parameters: { user: 'alice', database: 'app' } });
    client.write(serializeSslRequest());
    const reading = handleStartup(agent);
    const [answer] = (await once(client, 'data')) as [Buffer];
    expect(answer.toString('latin1')).toBe('N');
    client.write(startup);
    const { message, raw } = await reading;
    expect(message).toMatchObject({ type: 'startupMessage', parameters: { user: 'alice', database: 'app' } });
    expect(raw.equals(startup)).toBe(true);
    client.destroy();
    agent.destroy();
  });

  it('returns a CancelRequest as it came, and rejects a malformed message', async () => {
    const { agent, client } = await socketPair();
    client.write(serializeCancelRequest({ processId: 7, secretKey: Buffer.from([1, 2, 3, 4]) }));
    expect((await handleStartup(agent)).message).toMatchObject({ type: 'cancelRequest', processId: 7 });
    const bad = await socketPair();
    bad.client.write(Buffer.from([0, 0, 0, 4, 0, 0, 0, 0]));
    await expect(handleStartup(bad.agent)).rejects.toMatchObject({ code: 'ERR_TP_PG_MALFORMED_MESSAGE' });
    for (const s of [agent, client, bad.agent, bad.client]) s.destroy();
  });

  it('answers two encryption requests, as PostgreSQL does, and refuses a third', async () => {
    const { agent, client } = await socketPair();
    const answers: string[] = [];
    client.on('data', (b: Buffer) => answers.push(b.toString('latin1')));
    client.write(Buffer.concat([serializeSslRequest(), serializeSslRequest(), serializeSslRequest()]));
    await expect(handleStartup(agent)).rejects.toMatchObject({ kind: 'bad-parameter', code: 'ERR_TP_PG_MALFORMED_MESSAGE' });
    await vi.waitFor(() => expect(answers.join('')).toBe('NN'));
    client.destroy();
    agent.destroy();
  });
});

describe('makeClientReady', () => {
  it('hands the client a cancel key of the agent, records the start at ReadyForQuery, then passes bytes through', async () => {
    const [database] = await loadDatabaseSpecs([{ name: 'orders', protocol: 'postgres', uri: 'localhost:5432' }]);
    const meta = { service: 'orders', protocol: 'postgres' as const, kind: 'session' as const, identity: { cert: '' }, clientAddr: '127.0.0.1:5000' };
    const session = newPostgresSession({ database: database!, meta, stream: new PassThrough() }, { type: 'startupMessage', protocolVersion: { major: 3, minor: 0 }, parameters: {} });
    const audit = recordingAudit();
    const cancelKeys = newCancelKeyRegistry<CancelTarget>();
    const who = { identity: { username: 'alice' }, route: {} } as never;
    const tap = makeClientReady({ audit, cancelKeys }, session, { who, dbUser: 'alice', dbName: 'app', parameters: {} });
    const out: Buffer[] = [];
    tap.on('data', (chunk: Buffer) => out.push(chunk));
    const serverKey = { processId: 4242, secretKey: Buffer.from([9, 9, 9, 9]) };
    tap.write(Buffer.concat([serializeAuthenticationOk(), serializeParameterStatus('server_version', '16'), serializeBackendKeyData(serverKey), serializeReadyForQuery()]));
    const rows = Buffer.from('opaque bytes after the startup phase');
    tap.end(rows);
    await once(tap, 'end');

    expect(out.at(-1)).toBe(rows);
    const seen = newBackendParser()
      .push(Buffer.concat(out.slice(0, -1)))
      .flatMap((s) => (s.kind === 'message' ? [s.message] : []));
    const keyData = seen.find((m): m is Extract<BackendMessage, { type: 'backendKeyData' }> => m.type === 'backendKeyData')!;
    expect(keyData.processId).not.toBe(serverKey.processId);
    expect(cancelKeys.lookup(keyData)).toMatchObject({ serverKey, dbUser: 'alice', teleportUser: 'alice' });
    expect(session.phase).toBe('started');
    expect(audit.events.map((e) => e.key)).toEqual(['databaseSessionStart']);
    session.releases.forEach((release) => release());
    expect(cancelKeys.lookup(keyData)).toBeUndefined();
  });
});

describe('newQueryAuditor', () => {
  it('records simple queries and executed statements with their parameters', async () => {
    const audit = recordingAudit();
    const tap = frontendMessageTap({ onMessage: newQueryAuditor({ audit, fields: { sid: 's1' } }) });
    tap.resume();
    tap.end(
      Buffer.concat([
        serializeQuery('select 1'),
        serializeParse({ statement: 'q', text: 'select $1::int' }),
        serializeBind({ statement: 'q', portal: '', parameters: ['42'] }),
        serializeExecute(),
      ]),
    );
    await once(tap, 'end');
    expect(audit.events.map((e) => [e.key, e.fields['db_query'], e.fields['db_query_parameters']])).toEqual([
      ['databaseSessionQuery', 'select 1', undefined],
      ['databaseSessionQuery', 'select $1::int', ['42']],
    ]);
  });
});
