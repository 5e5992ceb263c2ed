import { describe, expect, it } from 'vitest';
import { cleanTargetHost, parseUserHostPort } from './profile.js';

describe('ssh targets', () => {
  it('splits [user@]host[:port]', () => {
    expect(parseUserHostPort('root@node1:3022')).toEqual({ user: 'root', host: 'node1', port: 3022 });
    expect(parseUserHostPort('node1')).toEqual({ host: 'node1' });
    expect(parseUserHostPort('a@b@[::1]:22')).toEqual({ user: 'a@b', host: '::1', port: 22 });
    expect(parseUserHostPort('root@env=dev')).toEqual({ user: 'root', host: 'env=dev' });
    for (const bad of ['', 'root@', '@host', 'host:0', 'host:70000', 'host:x']) {
      expect(() => parseUserHostPort(bad)).toThrow('expected [user@]host[:port]');
    }
  });

  it("removes the proxy's host and then the cluster's name from the end, as Teleport does", () => {
    expect(cleanTargetHost('node1.example.com', 'proxy.example.com', 'example.com')).toBe('node1');
    expect(cleanTargetHost('node1.proxy.example.com', 'proxy.example.com', 'example.com')).toBe('node1');
    expect(cleanTargetHost('node1', 'proxy.example.com', 'example.com')).toBe('node1');
    expect(cleanTargetHost('example.com', 'proxy', 'example.com')).toBe('example.com');
  });
});
