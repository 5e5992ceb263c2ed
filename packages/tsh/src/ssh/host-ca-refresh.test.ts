import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AccessDeniedError, NotFoundError } from '@teleport-ts/core/errors';
import { MAX_EXPORT_LINES, parseHostCaExport, refreshHostCaKeys, withHostCaRefresh } from './host-ca-refresh.js';
import type { SshProfile } from './profile.js';

/** A well-formed `ssh-ed25519 <base64>` public key line. */
function edKey(): string {
  const type = Buffer.from('ssh-ed25519');
  const len = (n: number): Buffer => Buffer.from([0, 0, 0, n]);
  return `ssh-ed25519 ${Buffer.concat([len(type.length), type, len(32), randomBytes(32)]).toString('base64')}`;
}

const untrusted = (): AccessDeniedError => new AccessDeniedError('SSH certificate is not signed by a trusted certificate authority', { code: 'ERR_TP_SSH_UNTRUSTED_CA' });

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('parseHostCaExport', () => {
  const [a, b] = [edKey(), edKey()];

  it("reads the cluster's @cert-authority lines, skips other clusters' and duplicates", () => {
    const text = `@cert-authority example.com,*.example.com ${a} type=host\n@cert-authority leaf.com,*.leaf.com ${b} type=host\n@cert-authority example.com,*.example.com ${a} type=host\n\n`;
    expect(parseHostCaExport(text, 'example.com')).toEqual([a]);
    expect(parseHostCaExport('', 'example.com')).toEqual([]);
  });

  it('refuses the whole answer when a line is not a host CA line, a key is malformed, or there are too many lines', () => {
    expect(() => parseHostCaExport(`cert-authority ${a} clustername=example.com&type=user\n`, 'example.com')).toThrow('not a known_hosts @cert-authority line');
    expect(() => parseHostCaExport(`@cert-authority example.com,*.example.com ${a} type=user\n`, 'example.com')).toThrow('not a known_hosts');
    expect(() => parseHostCaExport('@cert-authority example.com,*.example.com ssh-ed25519 AAAA!! type=host\n', 'example.com')).toThrow('malformed');
    // A blob of another key type than the line says.
    const rsaLabelled = `ssh-rsa ${a.split(' ')[1]}`;
    expect(() => parseHostCaExport(`@cert-authority example.com,*.example.com ${rsaLabelled} type=host\n`, 'example.com')).toThrow('malformed');
    expect(() => parseHostCaExport(`@cert-authority example.com,*.example.com ssh-dss ${a.split(' ')[1]} type=host\n`, 'example.com')).toThrow('malformed');
    const many = Array.from({ length: MAX_EXPORT_LINES + 1 }, () => `@cert-authority example.com,*.example.com ${a} type=host`).join('\n');
    expect(() => parseHostCaExport(many, 'example.com')).toThrow('more than');
  });
});

describe('withHostCaRefresh', () => {
  const [oldKey, newKey] = [edKey(), edKey()];

  it('connects without asking the proxy when the first attempt works', async () => {
    let refreshed = 0;
    const out = await withHostCaRefresh([oldKey], async (keys) => keys.join(), async () => (refreshed++, [newKey]));
    expect(out).toBe(oldKey);
    expect(refreshed).toBe(0);
  });

  it('retries once with the refreshed keys after an untrusted host CA', async () => {
    const seen: string[][] = [];
    const logs: string[] = [];
    const out = await withHostCaRefresh(
      [oldKey],
      async (keys) => {
        seen.push([...keys]);
        if (!keys.includes(newKey)) throw untrusted();
        return 'connected';
      },
      async () => [oldKey, newKey],
      (m) => logs.push(m),
    );
    expect(out).toBe('connected');
    expect(seen).toEqual([[oldKey], [oldKey, newKey]]);
    expect(logs.join('\n')).toContain('refreshed the host CAs');
  });

  it('does not retry when the proxy sends the same keys (a CA it does not serve), and the user sees the first error', async () => {
    const first = untrusted();
    let attempts = 0;
    const attempt = async (): Promise<never> => {
      attempts++;
      throw first;
    };
    await expect(withHostCaRefresh([oldKey], attempt, async () => [oldKey])).rejects.toBe(first);
    expect(attempts).toBe(1);
    await expect(withHostCaRefresh([oldKey], attempt, async () => undefined)).rejects.toBe(first);
    expect(attempts).toBe(2);
  });

  it('reports the first refusal when the retry fails too, or when the refresh fails', async () => {
    const first = untrusted();
    let attempts = 0;
    const attempt = async (): Promise<never> => {
      attempts++;
      throw attempts === 1 ? first : new AccessDeniedError('other');
    };
    await expect(withHostCaRefresh([oldKey], attempt, async () => [newKey])).rejects.toBe(first);
    expect(attempts).toBe(2);
    const second = untrusted();
    await expect(withHostCaRefresh([oldKey], async () => Promise.reject(second), async () => Promise.reject(new Error('proxy down')))).rejects.toBe(second);
  });

  it('never refreshes for another refusal', async () => {
    let refreshed = 0;
    const denied = new AccessDeniedError('ssh: the host certificate of node does not name it', { code: 'ERR_TP_SSH_PRINCIPAL' });
    await expect(withHostCaRefresh([oldKey], async () => Promise.reject(denied), async () => (refreshed++, [newKey]))).rejects.toBe(denied);
    await expect(withHostCaRefresh([oldKey], async () => Promise.reject(new NotFoundError('no node')), async () => (refreshed++, [newKey]))).rejects.toThrow('no node');
    expect(refreshed).toBe(0);
  });
});

describe('refreshHostCaKeys', () => {
  async function profileIn(): Promise<SshProfile> {
    const home = await mkdtemp(path.join(os.tmpdir(), 'tsh-hostca-'));
    dirs.push(home);
    return {
      home,
      profile: { web_proxy_addr: 'proxy.example.com:3080', ssh_proxy_addr: 'proxy.example.com:3080', user: 'alice', site_name: 'example.com', tls_routing_enabled: true },
      insecure: false,
      knownHostsPath: path.join(home, 'known_hosts'),
    } as unknown as SshProfile;
  }

  it("replaces this cluster's lines only, keeping the other clusters' lines and the file mode", async () => {
    const sshProfile = await profileIn();
    const [oldKey, newKey, otherKey] = [edKey(), edKey(), edKey()];
    const other = `@cert-authority other.example.com:3080,other.com,*.other.com ${otherKey} type=host`;
    await writeFile(sshProfile.knownHostsPath, `${other}\n@cert-authority proxy.example.com,example.com,*.example.com ${oldKey} type=host\n`);
    await chmod(sshProfile.knownHostsPath, 0o600);
    const keys = await refreshHostCaKeys(sshProfile, 'example.com', [oldKey], async (_p, cluster) => (expect(cluster).toBe('example.com'), [oldKey, newKey]));
    expect(keys).toEqual([oldKey, newKey]);
    expect(await readFile(sshProfile.knownHostsPath, 'utf8')).toBe(
      `${other}\n@cert-authority proxy.example.com,example.com,*.example.com ${oldKey} type=host\n@cert-authority proxy.example.com,example.com,*.example.com ${newKey} type=host\n`,
    );
    expect((await stat(sshProfile.knownHostsPath)).mode & 0o777).toBe(0o600);
  });

  it('asks nothing for another cluster than the proxy exports, and writes nothing for an empty answer', async () => {
    const sshProfile = await profileIn();
    let fetched = 0;
    expect(await refreshHostCaKeys(sshProfile, 'leaf.com', [], async () => (fetched++, [edKey()]))).toBeUndefined();
    expect(fetched).toBe(0);
    expect(await refreshHostCaKeys(sshProfile, 'example.com', [], async () => [])).toBeUndefined();
    await expect(readFile(sshProfile.knownHostsPath, 'utf8')).rejects.toThrow();
  });
});
