import { describe, expect, it } from 'vitest';
import { barrierPayload, decodeChangeEvent, parseChangeNotification } from './payload.js';

const b64 = (s: string | Uint8Array): string => Buffer.from(s).toString('base64');

describe('change notifications', () => {
  it('decode a put with key, value, expiry and revision', () => {
    const n = parseChangeNotification(JSON.stringify({ t: 'p', k: b64('/a/é'), v: b64(new Uint8Array([0, 255])), e: 1767225600123, r: 'rev1' }));
    expect(n).toEqual({
      kind: 'inline',
      event: { type: 'put', item: { key: '/a/é', value: new Uint8Array([0, 255]), expires: new Date(1767225600123), revision: 'rev1' } },
    });
  });

  it('decode a put without expiry and a delete', () => {
    expect(decodeChangeEvent(JSON.stringify({ t: 'p', k: b64('/k'), v: '', e: null, r: 'r' }))).toEqual({
      type: 'put',
      item: { key: '/k', value: new Uint8Array(), revision: 'r' },
    });
    expect(decodeChangeEvent(JSON.stringify({ t: 'd', k: b64('/k'), r: 'r' }))).toEqual({ type: 'delete', item: { key: '/k', revision: 'r' } });
  });

  it('recognize spilled events and barriers', () => {
    expect(parseChangeNotification('@12345')).toEqual({ kind: 'spilled', id: '12345' });
    const id = '0b5f4c1e-6f5c-4d7e-9a3b-2c1d0e9f8a7b';
    expect(parseChangeNotification(barrierPayload(id))).toEqual({ kind: 'barrier', id });
  });

  it('refuse anything else', () => {
    for (const bad of ['', '@', '@12a', '#nope', '{}', '{"t":"x","k":""}', '{"t":"p","k":"","r":"r"}', 'garbage']) {
      expect(() => parseChangeNotification(bad), bad).toThrow(TypeError);
    }
  });
});
