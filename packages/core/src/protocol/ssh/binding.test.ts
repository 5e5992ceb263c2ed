import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

/**
 * ssh2 encrypts with its native binding when it was built at install time (`ssh2` in pnpm-workspace.yaml's
 * `onlyBuiltDependencies`); without it, every packet creates a new OpenSSL cipher context from JavaScript, which
 * doubled the node's CPU per MB and added a third to its CPU per keystroke (`pnpm bench ssh`). CI must have it;
 * a local checkout installed before the setting needs `pnpm -r rebuild ssh2`.
 */
const require = createRequire(import.meta.url);
const { bindingAvailable } = require('ssh2/lib/protocol/crypto.js') as { bindingAvailable: boolean };

describe('ssh2 crypto binding', () => {
  it.skipIf(!bindingAvailable && process.env['CI'] !== 'true')('is built, so AES-GCM and ChaCha20-Poly1305 run natively', () => {
    expect(bindingAvailable).toBe(true);
  });
});
