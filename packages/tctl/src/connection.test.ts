import { describe, expect, it } from 'vitest';
import { parseConfig } from '@teleport-ts/core/config';
import { dialAddress, resolveConnection, type ResolveEnvironment } from './connection.js';

function environment(files: Record<string, string>, env: Record<string, string> = {}): ResolveEnvironment {
  return {
    env,
    cwd: '/work',
    exists: (f) => f in files,
    loadConfig: async (f) => {
      const text = files[f];
      if (text === undefined) throw new Error(`config file ${f} does not exist`);
      return parseConfig(text, f);
    },
  };
}

describe('resolveConnection', () => {
  it('reads data_dir and listen_addr from the config file', async () => {
    const target = await resolveConnection(
      { config: '/cfg.yaml' },
      environment({ '/cfg.yaml': 'teleport:\n  data_dir: /var/lib/tp\nauth_service:\n  listen_addr: 0.0.0.0:4025\n' }),
    );
    expect(target).toEqual({
      addr: '127.0.0.1:4025',
      dataDir: '/var/lib/tp',
      identity: { kind: 'admin-dir', path: '/var/lib/tp/admin' },
      configPath: '/cfg.yaml',
    });
  });

  it('uses /etc/teleport.yaml when it exists and no -c is given', async () => {
    const target = await resolveConnection({}, environment({ '/etc/teleport.yaml': 'teleport:\n  data_dir: /srv/tp\n' }));
    expect(target.dataDir).toBe('/srv/tp');
    expect(target.addr).toBe('127.0.0.1:3025');
  });

  it('falls back to $TELEPORT_TS_DATA_DIR, then ./.teleport-ts, and 127.0.0.1:3025', async () => {
    expect((await resolveConnection({}, environment({}, { TELEPORT_TS_DATA_DIR: '/tmp/d' }))).dataDir).toBe('/tmp/d');
    const target = await resolveConnection({}, environment({}));
    expect(target.dataDir).toBe('/work/.teleport-ts');
    expect(target.addr).toBe('127.0.0.1:3025');
  });

  it('lets --auth-server and --identity override', async () => {
    const target = await resolveConnection({ authServer: 'auth.example.com:3025', identity: 'id.pem' }, environment({}));
    expect(target.addr).toBe('auth.example.com:3025');
    expect(target.identity).toEqual({ kind: 'file', path: '/work/id.pem' });
  });
});

describe('dialAddress', () => {
  it('turns wildcard listen addresses into loopback dial addresses', () => {
    expect(dialAddress('0.0.0.0:3025')).toBe('127.0.0.1:3025');
    expect(dialAddress('[::]:3025')).toBe('[::1]:3025');
    expect(dialAddress('10.0.0.5:3025')).toBe('10.0.0.5:3025');
    expect(dialAddress(':3025')).toBe('127.0.0.1:3025');
  });
});
