import { describe, expect, it } from 'vitest';
import { AccessDeniedError, isTeleportError } from '../errors/index.js';
import { decodeTunnelError, decodeTunnelMeta, encodeTunnelError, encodeTunnelMeta, MAX_TUNNEL_META_BYTES, TUNNEL_ERROR_CODES } from './wire.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isTeleportError(err) ? err.code : String(err);
  }
  return undefined;
}

describe('stream metadata', () => {
  it('round-trips any JSON, including text HTTP/2 headers could not carry raw', () => {
    const meta = { service: 'orders', protocol: 'postgres', identity: { user: 'ålice', roles: ['access'], traits: { logins: ['root'] } }, clientAddr: '10.0.0.1:5555', note: 'line\nbreak' };
    const header = encodeTunnelMeta(meta);
    expect(header).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeTunnelMeta(header)).toEqual(meta);
  });

  it.each<[string, unknown]>([
    ['a missing header', undefined],
    ['not base64url JSON', '!!!'],
    ['JSON that is not an object', Buffer.from('[1,2]').toString('base64url')],
    ['an object without a service', Buffer.from('{"protocol":"postgres"}').toString('base64url')],
    ['an empty service', Buffer.from('{"service":""}').toString('base64url')],
    ['an oversized header', 'a'.repeat(MAX_TUNNEL_META_BYTES * 2)],
  ])('refuses %s', (_name, header) => {
    expect(codeOf(() => decodeTunnelMeta(header))).toBe(TUNNEL_ERROR_CODES.badMeta);
  });

  it('refuses to encode metadata without a service or over the size limit', () => {
    expect(codeOf(() => encodeTunnelMeta({ service: '' }))).toBe(TUNNEL_ERROR_CODES.badMeta);
    expect(codeOf(() => encodeTunnelMeta({ service: 'x', blob: 'y'.repeat(MAX_TUNNEL_META_BYTES) }))).toBe(TUNNEL_ERROR_CODES.badMeta);
  });
});

describe('refusal errors', () => {
  it('keep a TeleportError’s kind, code, message and hint', () => {
    const header = encodeTunnelError(new AccessDeniedError('access to db denied', { code: 'ERR_TP_DB_DENIED', hint: 'ask for a role' }), 'orders');
    expect(decodeTunnelError(header, 'fallback')).toMatchObject({ kind: 'access-denied', code: 'ERR_TP_DB_DENIED', message: 'access to db denied', hint: 'ask for a role' });
  });

  it('reduce a foreign error to a generic message (no internal detail crosses the tunnel)', () => {
    const decoded = decodeTunnelError(encodeTunnelError(new Error('ECONNREFUSED 10.1.2.3:5432'), 'orders'), 'fallback');
    expect(decoded).toMatchObject({ kind: 'connection-problem', message: 'the agent could not serve "orders"' });
  });

  it('fall back to a ConnectionProblemError for a missing or garbled header', () => {
    expect(decodeTunnelError(undefined, 'refused')).toMatchObject({ kind: 'connection-problem', message: 'refused', code: TUNNEL_ERROR_CODES.streamFailed });
    expect(decodeTunnelError('%%%', 'refused')).toMatchObject({ kind: 'connection-problem', message: 'refused' });
  });
});
