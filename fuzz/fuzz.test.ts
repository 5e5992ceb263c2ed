// The fuzz targets in the normal test run: every saved crash replays without failing the property, each target
// runs briefly, and the harness itself is shown to catch what it claims to catch. Long runs: `pnpm fuzz`.
import { isDeepStrictEqual } from 'node:util';
import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BadParameterError } from '../packages/core/src/errors/index.js';
import { readClientHello } from '../packages/daemon/src/roles/proxy/clienthello.js';
import { crashInputs, fuzzTarget, runOne, type Target } from './harness.js';
import { buildHello, tlsClientHelloRoundTrip } from './targets/clienthello.js';
import { TARGETS } from './targets/index.js';

/**
 * A fixed number of inputs (not a time budget), so a loaded machine does not shrink the run; the time cap only
 * guards against a target gone slow. About 0.1 s (binary targets) to 0.5 s (YAML) each.
 */
const SHORT_RUN = { runs: 1000, seconds: 10, saveCrash: false };

const show = (input: unknown): string => (input instanceof Uint8Array ? `base64 ${Buffer.from(input).toString('base64')}` : JSON.stringify(input));

describe.each(TARGETS.map((t) => [t.name, t] as const))('fuzz target %s', (_name, target) => {
  it('replays every saved crash without a failure', () => {
    for (const [file, input] of crashInputs(target)) {
      expect(() => runOne(target, input), file).not.toThrow();
    }
  });

  it('holds its property over a short run', async () => {
    const r = await fuzzTarget(target, SHORT_RUN);
    expect(r.crash, r.crash ? `${r.crash.error}\nseed=${r.seed} input: ${show(r.crash.input)}` : '').toBeUndefined();
    expect(r.inputs).toBe(SHORT_RUN.runs);
    // Mutations must reach past the first checks: a fuzzer whose every input is refused tests nothing.
    expect(r.accepted).toBeGreaterThan(0);
  });
});

describe('the harness', () => {
  const bytes = (over: Partial<Target<'bytes'>>): Target<'bytes'> => ({
    name: 'self-test',
    description: 'a parser with a planted bug',
    kind: 'bytes',
    seeds: () => [],
    arbitrary: () => fc.uint8Array({ maxLength: 8 }),
    parse: (input) => input.length,
    ...over,
  });

  it('passes a parser that only throws TeleportErrors', async () => {
    const target = bytes({ parse: (input) => { if (input[0] === 7) throw new BadParameterError('seven'); return input.length; } });
    expect((await fuzzTarget(target, { runs: 300, saveCrash: false })).crash).toBeUndefined();
  });

  it('reports any other exception, shrunk to a minimal input', async () => {
    const target = bytes({ parse: (input) => { if (input.length > 2 && input[1]! > 100) throw new RangeError('offset out of range'); return 0; } });
    const r = await fuzzTarget(target, { runs: 2000, seed: 1, saveCrash: false });
    expect(r.crash?.error).toBe('RangeError: offset out of range');
    expect(r.crash?.input).toEqual(new Uint8Array([0, 101, 0]));
  });

  it('reports a trusted length field that asks for a huge allocation', async () => {
    const target = bytes({ parse: (input) => Buffer.alloc(input.length > 3 ? Buffer.from(input).readUInt32BE(0) : 0).length });
    const r = await fuzzTarget(target, { runs: 2000, seed: 2, saveCrash: false });
    expect(r.crash?.error).toMatch(/^Error: Buffer\.alloc\(\d+\)$/);
  });

  it('reports a failed round trip even when it is a TeleportError', async () => {
    const target = bytes({
      seeds: () => [Buffer.from('hello')], check: (n) => { if (n === 5) throw new BadParameterError('cannot re-parse'); } });
    // The seed has five bytes: it fails before any generated input.
    const r = await fuzzTarget(target, { runs: 10, saveCrash: false });
    expect(r.crash).toEqual({ error: 'TeleportError: cannot re-parse', file: undefined, input: Buffer.from('hello') });
  });
});

describe('ClientHello round trip', () => {
  it('reads back the SNI and ALPN list of any hello built from named parts, whatever the record fragmentation', () => {
    fc.assert(
      fc.property(tlsClientHelloRoundTrip, (spec) => {
        const r = readClientHello(buildHello(spec));
        const alpn = spec.alpn;
        return r.done && r.hello.serverName === spec.sni && isDeepStrictEqual(r.hello.alpnProtocols, [...alpn]);
      }),
      { numRuns: 300 },
    );
  });
});
