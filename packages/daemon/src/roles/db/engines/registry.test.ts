import { describe, expect, it } from 'vitest';
import { DATABASE_PROTOCOLS } from '@teleport-ts/core/config';
import { isTeleportError } from '@teleport-ts/core/errors';
import type { EngineContext } from './engine.js';
import { ENGINE_FACTORIES, newEngineRegistry } from './registry.js';

// Building an engine does not touch the shared services (sessions do): an empty context shows that too.
const ctx = {} as EngineContext;

describe('engine registry', () => {
  it('has an engine for every protocol the configuration accepts, each named by its protocol', () => {
    const engines = newEngineRegistry(ctx);
    for (const protocol of DATABASE_PROTOCOLS) expect(engines.engineFor(protocol).protocol).toBe(protocol);
    expect(Object.keys(ENGINE_FACTORIES).sort()).toEqual([...DATABASE_PROTOCOLS].sort());
  });

  it('builds an engine once per protocol and shares it', () => {
    const engines = newEngineRegistry(ctx);
    expect(engines.engineFor('postgres')).toBe(engines.engineFor('postgres'));
    expect(engines.engineFor('cockroachdb')).not.toBe(engines.engineFor('postgres'));
  });

  it('refuses an unknown protocol with one line naming it', () => {
    const engines = newEngineRegistry(ctx);
    for (const protocol of ['mysql', 'constructor', '__proto__']) {
      let caught: unknown;
      try {
        engines.engineFor(protocol);
      } catch (err) {
        caught = err;
      }
      expect(isTeleportError(caught) && caught.kind).toBe('not-implemented');
      expect((caught as Error).message).toBe(`the database service has no engine for protocol ${JSON.stringify(protocol)}`);
      expect((caught as Error).message).not.toContain('\n');
    }
  });

  it('serves a new protocol from one more factory', () => {
    const engines = newEngineRegistry(ctx, { ...ENGINE_FACTORIES, mysql: (shared) => ({ ...ENGINE_FACTORIES.postgres(shared), protocol: 'postgres' }) });
    expect(engines.engineFor('mysql').protocol).toBe('postgres');
  });
});
