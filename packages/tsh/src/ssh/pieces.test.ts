import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { stopFlagsAfterHost, valueFlags } from '../argv.js';
import { parseForwardSpec } from './forward.js';
import { lineLabeledWriter } from './labeled.js';
import { parseLabelSelector } from './nodes.js';

describe('tsh ssh pieces', () => {
  const takesValue = valueFlags([{ flags: '-l, --login <login>' }, { flags: '-t, --tty' }, { flags: '--proxy <addr>' }, { flags: '-L, --forward <spec>' }]);
  const argv = (...args: string[]) => stopFlagsAfterHost(['node', 'tsh', ...args], 'ssh', takesValue).slice(2);

  it('knows which flags take a value', () => {
    expect([...takesValue].sort()).toEqual(['--forward', '--login', '--proxy', '-L', '-l']);
  });

  it('hands everything after the host to the remote command', () => {
    expect(argv('ssh', 'root@node', 'ls', '-l')).toEqual(['ssh', 'root@node', '--', 'ls', '-l']);
    expect(argv('--proxy', 'p:3080', 'ssh', '-l', 'root', '-t', '-L', '8080:h:80', 'node', 'ls', '-la')).toEqual([
      '--proxy', 'p:3080', 'ssh', '-l', 'root', '-t', '-L', '8080:h:80', 'node', '--', 'ls', '-la',
    ]);
    expect(argv('ssh', '--login=root', '-lroot', 'node', 'echo', '-n')).toEqual(['ssh', '--login=root', '-lroot', 'node', '--', 'echo', '-n']);
    // Nothing to do: no command, a `--` already there, another command.
    expect(argv('ssh', 'node')).toEqual(['ssh', 'node']);
    expect(argv('ssh', 'node', '--', 'ls', '-l')).toEqual(['ssh', 'node', '--', 'ls', '-l']);
    expect(argv('scp', '-r', 'a', 'b:c')).toEqual(['scp', '-r', 'a', 'b:c']);
  });

  it('parses -L/-R specs', () => {
    expect(parseForwardSpec('8080:web:80')).toEqual({ bindAddr: '127.0.0.1', port: 8080, host: 'web', hostPort: 80 });
    expect(parseForwardSpec('0.0.0.0:8080:[::1]:80')).toEqual({ bindAddr: '0.0.0.0', port: 8080, host: '::1', hostPort: 80 });
    for (const bad of ['8080', 'x:web:80', '8080:web:99999', '1:2:3:4:5']) expect(() => parseForwardSpec(bad)).toThrow('invalid port forwarding spec');
  });

  it('parses label selectors', () => {
    expect(parseLabelSelector('env=dev,team=db')).toEqual({ env: 'dev', team: 'db' });
    expect(parseLabelSelector('env=')).toEqual({ env: '' });
    expect(() => parseLabelSelector('=dev')).toThrow('invalid label selector');
    expect(() => parseLabelSelector('env=dev,x')).toThrow('invalid label selector');
  });

  it('prefixes every line with the node name, whole lines only, cutting long ones', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (d: Buffer) => (text += d.toString()));
    const w = lineLabeledWriter(out, 'node1', 16);
    w.write('hel');
    w.write('lo\nwor');
    w.write('ld\n0123456789abcdef\ntail');
    await new Promise<void>((resolve) => w.end(resolve));
    expect(text).toBe('[node1] hello\n[node1] world\n[node1] 01234567\n[node1] 89abcdef\n[node1] tail\n');
  });
});
