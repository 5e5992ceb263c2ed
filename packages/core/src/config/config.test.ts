import { describe, expect, it } from 'vitest';
import { parseConfig, parseHostPort, parseLogConfig, parseStaticToken } from './index.js';

describe('parseConfig', () => {
  it('folds teleport.connection_limits.rates into the strictest per-second rate and burst', () => {
    const cfg = parseConfig('teleport:\n  connection_limits:\n    rates:\n    - { period: 1m, average: 600, burst: 50 }\n    - { period: 1s, average: 20, burst: 30 }\n');
    expect(cfg.teleport.connection_limits).toEqual({ rate: { average: 10, burst: 30 } });
    expect(parseConfig('teleport:\n  connection_limits:\n    max_pending_per_address: 1024\n').teleport.connection_limits).toEqual({ maxPendingPerAddress: 1024 });
    expect(() => parseConfig('teleport:\n  connection_limits:\n    max_pending_per_address: 0\n')).toThrow('must be a whole number of at least 1');
    expect(() => parseConfig('teleport:\n  connection_limits:\n    rates: []\n')).toThrow('must list at least one rate');
    expect(() => parseConfig('teleport:\n  connection_limits:\n    rates: [{ average: 0, burst: 1 }]\n')).toThrow('must be a whole number of at least 1');
  });

  it('reads the teleport, auth_service and proxy_service keys of teleport.yaml v3', () => {
    const cfg = parseConfig(`
version: v3
teleport:
  nodename: auth-1
  data_dir: /var/lib/teleport
  auth_token: /etc/token
  auth_server: auth.example.com:3025
  ca_pin: sha256:${'ab'.repeat(32)}
  diag_addr: 127.0.0.1:3000
  log:
    output: /var/log/teleport.log
    severity: WARNING
    format: { output: json }
auth_service:
  enabled: "yes"
  listen_addr: 0.0.0.0:3025
  cluster_name: example.com
  tokens: ["db,node:abc123", "proxy:def456"]
  authentication:
    type: local
    second_factor: off
proxy_service:
  enabled: no
  web_listen_addr: 0.0.0.0:3080
  public_addr: proxy.example.com:443
ssh_service:
  enabled: true
`);
    expect(cfg.teleport).toEqual({
      nodename: 'auth-1',
      data_dir: '/var/lib/teleport',
      auth_token: '/etc/token',
      auth_server: 'auth.example.com:3025',
      ca_pin: [`sha256:${'ab'.repeat(32)}`],
      diag_addr: '127.0.0.1:3000',
      log: { output: '/var/log/teleport.log', severity: 'warn', format: 'json' },
    });
    expect(cfg.auth_service).toEqual({
      enabled: true,
      listen_addr: '0.0.0.0:3025',
      cluster_name: 'example.com',
      tokens: [
        { roles: ['Db', 'Node'], token: 'abc123' },
        { roles: ['Proxy'], token: 'def456' },
      ],
      authentication: { type: 'local', second_factor: 'off' },
    });
    expect(cfg.proxy_service).toEqual({ enabled: false, web_listen_addr: '0.0.0.0:3080', public_addr: ['proxy.example.com:443'] });
    expect(cfg.ssh_service).toEqual({ enabled: true });
  });

  it('reads proxy_service.https_keypairs and several public addresses', () => {
    const cfg = parseConfig(`
proxy_service:
  web_listen_addr: "[::]:443"
  public_addr: [proxy.example.com:443, proxy.internal]
  https_keypairs:
    - key_file: /etc/teleport/proxy-key.pem
      cert_file: /etc/teleport/proxy-cert.pem
    - { key_file: b.key, cert_file: b.crt }
`);
    expect(cfg.proxy_service).toEqual({
      web_listen_addr: '[::]:443',
      public_addr: ['proxy.example.com:443', 'proxy.internal'],
      https_keypairs: [
        { key_file: '/etc/teleport/proxy-key.pem', cert_file: '/etc/teleport/proxy-cert.pem' },
        { key_file: 'b.key', cert_file: 'b.crt' },
      ],
    });
    expect(parseConfig('proxy_service:\n  https_keypairs: []\n').proxy_service).toEqual({});
  });

  it.each([
    ['auth_service:\n  enabled: maybe\n', 'auth_service.enabled must be "yes" or "no"'],
    ['proxy_service:\n  web_listen_addr: "proxy:http"\n', 'proxy_service.web_listen_addr: invalid address "proxy:http": bad port'],
    ['proxy_service:\n  public_addr: ["ok.example.com:443", "bad.example.com:99999"]\n', 'proxy_service.public_addr: invalid address "bad.example.com:99999": bad port'],
    ['proxy_service:\n  public_addr: [":443"]\n', 'proxy_service.public_addr: invalid address ":443": missing host'],
    ['proxy_service:\n  https_keypairs: /etc/cert.pem\n', 'proxy_service.https_keypairs must be a list of { key_file, cert_file }'],
    ['proxy_service:\n  https_keypairs: [/etc/cert.pem]\n', 'proxy_service.https_keypairs[0] must be a mapping with key_file and cert_file'],
    ['proxy_service:\n  https_keypairs:\n    - cert_file: /etc/cert.pem\n', 'proxy_service.https_keypairs[0].key_file is required'],
    ['proxy_service:\n  https_keypairs:\n    - { key_file: a.key, cert_file: "" }\n', 'proxy_service.https_keypairs[0].cert_file is required'],
    ['proxy_service:\n  https_keypairs:\n    - { key_file: 3, cert_file: a.crt }\n', 'proxy_service.https_keypairs[0].key_file must be a string'],
    ['auth_service:\n  listen_addr: "host:99999"\n', 'auth_service.listen_addr: invalid address "host:99999": bad port'],
    ['auth_service:\n  authentication:\n    second_factor: sms\n', 'auth_service.authentication.second_factor must be one of off, otp, on, optional, webauthn'],
    ['auth_service:\n  tokens: ["secret-without-roles"]\n', 'auth_service.tokens entries must look like "node,db:<token>"'],
    ['teleport:\n  log:\n    severity: loud\n', 'teleport.log.severity must be one of DEBUG, INFO, WARN, ERROR'],
    ['teleport:\n  log:\n    format: { output: xml }\n', 'teleport.log.format.output must be text or json'],
  ])('refuses %j', (text, message) => {
    expect(() => parseConfig(text)).toThrow(message);
  });

  it('never quotes a static token in an error', () => {
    expect(() => parseStaticToken('bogus:s3cr3t-value')).toThrow(/unknown system role "bogus"/);
    try {
      parseStaticToken('admin:s3cr3t-value');
    } catch (err) {
      expect((err as Error).message).not.toContain('s3cr3t');
      expect((err as Error).message).toBe('auth_service.tokens: a token cannot grant Admin');
    }
  });
});

describe('parseHostPort', () => {
  it.each([
    ['0.0.0.0:3025', { host: '0.0.0.0', port: 3025 }],
    ['[::]:3025', { host: '::', port: 3025 }],
    ['::1', { host: '::1', port: 3025 }],
    ['auth.example.com', { host: 'auth.example.com', port: 3025 }],
    ['https://proxy.example.com:443/web', { host: 'proxy.example.com', port: 443 }],
    ['127.0.0.1:0', { host: '127.0.0.1', port: 0 }],
  ])('%s', (addr, expected) => {
    expect(parseHostPort(addr, 3025)).toEqual(expected);
  });

  it.each(['host:abc', ':3025', 'host:123456'])('refuses %s', (addr) => {
    expect(() => parseHostPort(addr, 3025)).toThrow(/invalid address/);
  });
});

describe('parseLogConfig', () => {
  it('fills defaults', () => {
    expect(parseLogConfig(undefined)).toEqual({ output: 'stderr', severity: 'info', format: 'text' });
    expect(parseLogConfig({ severity: 'trace' })).toEqual({ output: 'stderr', severity: 'debug', format: 'text' });
  });
});

describe('unknown keys', () => {
  it.each([
    ['version: v3\nteleport:\n  nodename: a\n\n\n\nauth_servic:\n  enabled: yes\n', 'unknown key "auth_servic" at line 7; did you mean "auth_service"?'],
    ['teleport:\n  stroage:\n    type: sqlite\n', 'unknown key "teleport.stroage" at line 2; did you mean "teleport.storage"?'],
    ['proxy_service:\n  enabled: yes\n  web_listen_adr: 0.0.0.0:3080\n', 'unknown key "proxy_service.web_listen_adr" at line 3; did you mean "proxy_service.web_listen_addr"?'],
    ['teleport:\n  data_dri: /var/lib/teleport\n', 'unknown key "teleport.data_dri" at line 2; did you mean "teleport.data_dir"?'],
    ['teleport:\n  storage: { type: sqlite, pth: /x }\n', 'unknown key "teleport.storage.pth" at line 2; did you mean "teleport.storage.path"?'],
    ['db_service:\n  databases:\n  - name: a\n    protocol: postgres\n    uri: h:1\n    tls: { mod: insecure }\n', 'unknown key "db_service.databases[0].tls.mod" at line 6; did you mean "db_service.databases[0].tls.mode"?'],
    ['kubernetes_service:\n  enabled: yes\n', 'unknown key "kubernetes_service" at line 1'],
  ])('refuses %j with its path, line and the closest key', (text, message) => {
    expect(() => parseConfig(text, '/etc/teleport.yaml')).toThrow(`/etc/teleport.yaml: ${message}`);
    try {
      parseConfig(text);
    } catch (err) {
      expect((err as Error).message).toBe(`teleport.yaml: ${message}`);
      expect((err as { kind?: string }).kind).toBe('bad-parameter');
    }
  });

  it('leaves free-form mappings alone (labels) and suggests nothing for a far-off key', () => {
    const cfg = parseConfig('db_service:\n  databases:\n  - { name: a, protocol: postgres, uri: "h:1", static_labels: { anything: goes } }\n');
    expect(cfg.db_service?.databases?.[0]?.static_labels).toEqual({ anything: 'goes' });
    expect(() => parseConfig('teleport:\n  completely_else: 1\n')).toThrow(/^teleport.yaml: unknown key "teleport.completely_else" at line 2$/);
  });
});

describe('db_service.workers', () => {
  it('takes a whole number from 1 to 64 or auto, and refuses anything else with its path', () => {
    expect(parseConfig('db_service:\n  workers: 4\n').db_service?.workers).toBe(4);
    expect(parseConfig('db_service:\n  workers: auto\n').db_service?.workers).toBe('auto');
    expect(parseConfig('db_service:\n  enabled: yes\n').db_service?.workers).toBeUndefined();
    for (const bad of ['0', '1.5', '65', 'many']) {
      expect(() => parseConfig(`db_service:\n  workers: ${bad}\n`)).toThrow(/db_service\.workers.*must be "auto" or a whole number from 1 to 64/);
    }
  });
});

describe('teleport.proxy_server', () => {
  it('is read as an address, and refused together with auth_server', () => {
    expect(parseConfig('teleport:\n  proxy_server: proxy.example.com:3080\n').teleport).toEqual({ proxy_server: 'proxy.example.com:3080' });
    expect(() => parseConfig('teleport:\n  proxy_server: "proxy:http"\n')).toThrow('teleport.proxy_server: invalid address "proxy:http": bad port');
    const both = 'teleport:\n  auth_server: auth.example.com:3025\n  proxy_server: proxy.example.com:3080\n';
    expect(() => parseConfig(both)).toThrow(/^teleport: set either auth_server \(join through the auth service\) or proxy_server \(join through the proxy\), not both$/);
    expect(() => parseConfig('teleport:\n  auth_servers: [auth.example.com:3025]\n  proxy_server: proxy.example.com:3080\n')).toThrow(/not both/);
  });

  it('refuses nesting deeper than 128 levels with one line, and again (the process survives)', () => {
    const deep = `teleport:\n  data_dir: ${'['.repeat(1000)}${']'.repeat(1000)}\n`;
    for (let i = 0; i < 2; i++) expect(() => parseConfig(deep)).toThrow(/^failed to parse teleport\.yaml: nested deeper than 128 levels at line 2$/);
  });
});

describe('auth_service.access_requests', () => {
  it('reads the webhook URL and CA file, and refuses a bad URL, credentials in it, or an unknown key', () => {
    const yaml = (webhook: string) => `version: v3\nauth_service:\n  enabled: yes\n  access_requests:\n    webhook:\n${webhook}`;
    expect(parseConfig(yaml('      url: https://hooks.example.com/tp\n      ca_file: /etc/ca.pem\n')).auth_service?.access_requests).toEqual({
      webhook: { url: 'https://hooks.example.com/tp', ca_file: '/etc/ca.pem' },
    });
    expect(() => parseConfig(yaml('      url: ftp://x\n'))).toThrow(/access_requests\.webhook\.url must be an http\(s\) URL/);
    expect(() => parseConfig(yaml('      url: https://u:secret@x/\n'))).toThrow(/without user name or password/);
    expect(() => parseConfig(yaml('      url: https://x/\n      ca_fil: a\n'))).toThrow(/unknown key "auth_service.access_requests.webhook.ca_fil" at line 7; did you mean "auth_service.access_requests.webhook.ca_file"/);
  });
});

describe('session recording keys', () => {
  it('reads auth_service.session_recording and teleport.storage.audit_sessions_uri, refusing other values', () => {
    const cfg = parseConfig('version: v3\nteleport:\n  storage:\n    audit_sessions_uri: file:///var/lib/rec\nauth_service:\n  session_recording: node-sync\n');
    expect(cfg.auth_service?.session_recording).toBe('node-sync');
    expect(cfg.teleport.storage?.audit_sessions_uri).toBe('file:///var/lib/rec');
    expect(parseConfig('auth_service:\n  enabled: yes\n').auth_service?.session_recording).toBeUndefined();
    expect(() => parseConfig('auth_service:\n  session_recording: always\n')).toThrow(/auth_service.session_recording must be one of node, node-sync, proxy, proxy-sync, off/);
    expect(() => parseConfig('teleport:\n  storage:\n    audit_sessions_uri: s3://bucket/records\n')).toThrow(/audit_sessions_uri must be a file:\/\/ URI/);
    expect(() => parseConfig('auth_service:\n  session_recordin: node\n')).toThrow(/did you mean "auth_service.session_recording"/);
  });
});

describe('ssh_service', () => {
  it('reads labels, dynamic labels (commands) and the direct listener', () => {
    const cfg = parseConfig(
      [
        'ssh_service:',
        '  enabled: yes',
        '  listen_addr: 0.0.0.0:3022',
        '  labels:',
        '    env: dev',
        '  commands:',
        '  - name: arch',
        '    command: [uname, -m]',
        '    period: 1h0m0s',
        '  - name: up',
        '    command: uptime',
        '    period: 30s',
        '',
      ].join('\n'),
    );
    expect(cfg.ssh_service).toEqual({
      enabled: true,
      listen_addr: '0.0.0.0:3022',
      labels: { env: 'dev' },
      commands: [
        { name: 'arch', command: ['uname', '-m'], period: '1h0m0s' },
        { name: 'up', command: ['uptime'], period: '30s' },
      ],
    });
  });

  it.each([
    ['ssh_service:\n  commands:\n  - { name: a, command: [], period: 1m }\n', 'ssh_service.commands[0].command must be a program and its arguments'],
    ['ssh_service:\n  commands:\n  - { name: a, command: [x], period: 10ms }\n', 'ssh_service.commands[0].period must be a duration of at least 1s'],
    ['ssh_service:\n  commands:\n  - { name: "bad key", command: [x], period: 1m }\n', 'ssh_service.commands[0].name must be a label name'],
    ['ssh_service:\n  listen_addr: "host:port"\n', 'ssh_service.listen_addr'],
    ['ssh_service:\n  comands: []\n', 'unknown key "ssh_service.comands" at line 2; did you mean "ssh_service.commands"?'],
  ])('refuses %j', (text, message) => {
    expect(() => parseConfig(text)).toThrow(message);
  });
});

describe('auth_service.tunnel_strategy and proxy_service.peer_listen_addr', () => {
  const yaml = (strategy: string) => `version: v3\nauth_service:\n  tunnel_strategy:\n${strategy}`;
  it('reads both strategies, agent_connection_count defaulting to 1, and the peer addresses', () => {
    expect(parseConfig(yaml('    type: agent_mesh\n')).auth_service?.tunnel_strategy).toEqual({ type: 'agent_mesh' });
    expect(parseConfig(yaml('    type: proxy_peering\n')).auth_service?.tunnel_strategy).toEqual({ type: 'proxy_peering', agent_connection_count: 1 });
    expect(parseConfig(yaml('    type: proxy_peering\n    agent_connection_count: 2\n')).auth_service?.tunnel_strategy).toEqual({ type: 'proxy_peering', agent_connection_count: 2 });
    const proxy = parseConfig('proxy_service:\n  peer_listen_addr: 0.0.0.0:3021\n  peer_public_addr: peer.example.com:3021\n').proxy_service;
    expect(proxy).toEqual({ peer_listen_addr: '0.0.0.0:3021', peer_public_addr: 'peer.example.com:3021' });
  });

  it('refuses an unknown type, a bad count, a count without peering, and an unknown key', () => {
    expect(() => parseConfig(yaml('    type: mesh\n'))).toThrow(/tunnel_strategy\.type must be agent_mesh or proxy_peering/);
    expect(() => parseConfig(yaml('    type: proxy_peering\n    agent_connection_count: 0\n'))).toThrow(/agent_connection_count must be a whole number from 1 to 16/);
    expect(() => parseConfig(yaml('    type: agent_mesh\n    agent_connection_count: 2\n'))).toThrow(/agent_connection_count applies only to type proxy_peering/);
    expect(() => parseConfig(yaml('    type: proxy_peering\n    agent_conection_count: 2\n'))).toThrow(/unknown key "auth_service.tunnel_strategy.agent_conection_count" at line 5; did you mean "auth_service.tunnel_strategy.agent_connection_count"/);
    expect(() => parseConfig('proxy_service:\n  peer_listen_addr: "x:y"\n')).toThrow(/proxy_service.peer_listen_addr: invalid address/);
  });
});
