import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { makeTestPki } from '@teleport-ts/testkit';
import { formatPeer, peerOf, rememberPeers } from './peer.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'tp-peer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function serverKeyPair(): Promise<{ key: Buffer; cert: Buffer }> {
  const pki = await makeTestPki(path.join(dir, 'pki'));
  return { key: readFileSync(pki.serverKey), cert: readFileSync(pki.serverCert) };
}

describe('peer addresses for logs', () => {
  it('formats IPv4, IPv6 and IPv4-mapped addresses as Go does', () => {
    expect(formatPeer('127.0.0.1', 5)).toBe('127.0.0.1:5');
    expect(formatPeer('::ffff:10.0.0.7', 80)).toBe('10.0.0.7:80');
    expect(formatPeer('2001:db8::7', 443)).toBe('[2001:db8::7]:443');
    expect(formatPeer(undefined, undefined)).toBe('');
  });

  it('knows the address of a client that resets during the TLS handshake (it was logged as "")', async () => {
    const server = tls.createServer({ ...(await serverKeyPair()), requestCert: true, rejectUnauthorized: false });
    rememberPeers(server);
    // Handed over as the ALPN listener does, not listened on directly.
    const front = net.createServer((raw) => server.emit('connection', raw));
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
    const failed = new Promise<{ live: string | undefined; peer: string }>((resolve) => {
      server.once('tlsClientError', (_err, socket) => resolve({ live: socket.remoteAddress, peer: peerOf(socket) }));
    });
    const client = tls.connect({ port: (front.address() as net.AddressInfo).port, host: '127.0.0.1', rejectUnauthorized: false });
    client.on('error', () => {});
    const localPort = await new Promise<number>((resolve) => client.once('connect', () => resolve(client.localPort!)));
    client.destroy();
    const { live, peer } = await failed;
    front.close();
    expect(live).toBeUndefined();
    expect(peer).toBe(`127.0.0.1:${localPort}`);
  });
});
