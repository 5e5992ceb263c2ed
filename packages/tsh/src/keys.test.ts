import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createPublicKey } from 'node:crypto';
import { requireTool } from '@teleport-ts/testkit';
import { describe, expect, it } from 'vitest';
import { parseSshPublicKey } from '@teleport-ts/core/ca';
import { generateLoginKeys } from './keys.js';

const run = promisify(execFile);
const sshKeygen = requireTool('ssh-keygen', 'openssh-client');

describe('generateLoginKeys', () => {
  it('makes an Ed25519 SSH key and an ECDSA P-256 TLS key', async () => {
    const keys = await generateLoginKeys('alice');
    expect(keys.sshPublicKey).toMatch(/^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5\S+ alice$/);
    expect(parseSshPublicKey(keys.sshPublicKey).type).toBe('ssh-ed25519');
    const tls = createPublicKey(keys.tlsPublicKey);
    expect(tls.asymmetricKeyType).toBe('ec');
    expect(tls.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(keys.tlsPrivateKey).toContain('BEGIN PRIVATE KEY');
  });

  it.skipIf(!sshKeygen.available)('writes a private key OpenSSH reads back to the same public key', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tsh-keys-'));
    try {
      const keys = await generateLoginKeys('alice');
      const file = path.join(dir, 'alice');
      await writeFile(file, keys.sshPrivateKey, { mode: 0o600 });
      const { stdout } = await run(sshKeygen.path!, ['-y', '-f', file]);
      expect(stdout.trim().split(' ').slice(0, 2)).toEqual(keys.sshPublicKey.split(' ').slice(0, 2));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
