/**
 * The engines the db agent knows, keyed by database protocol. The table is typed by `DatabaseProtocol`, so a
 * protocol added to the config's list does not compile until it has an engine here.
 */

import type { DatabaseProtocol } from '@teleport-ts/core/config';
import { NotImplementedError } from '@teleport-ts/core/errors';
import { newCockroachEngine } from './cockroachdb/engine.js';
import type { DatabaseEngine, EngineContext, EngineFactory } from './engine.js';
import { newPostgresEngine } from './postgres/engine.js';

/** Every protocol the agent serves, and its engine. */
export const ENGINE_FACTORIES: Readonly<Record<DatabaseProtocol, EngineFactory>> = Object.freeze({
  postgres: newPostgresEngine,
  cockroachdb: newCockroachEngine,
});

export interface EngineRegistry {
  /**
   * The engine of `protocol` (built on first use, then shared by every database of that protocol).
   *
   * @throws NotImplementedError naming the protocol when no engine serves it.
   */
  engineFor(protocol: string): DatabaseEngine;
}

/**
 * @example
 * ```ts
 * const engines = newEngineRegistry(ctx);
 * void engines.engineFor(database.protocol).handleConnection({ database, meta, stream });
 * ```
 */
export function newEngineRegistry(ctx: EngineContext, factories: Readonly<Record<string, EngineFactory>> = ENGINE_FACTORIES): EngineRegistry {
  const engines = new Map<string, DatabaseEngine>();
  return {
    engineFor(protocol) {
      let engine = engines.get(protocol);
      if (engine !== undefined) return engine;
      const factory = Object.hasOwn(factories, protocol) ? factories[protocol] : undefined;
      if (factory === undefined) throw new NotImplementedError(`the database service has no engine for protocol ${JSON.stringify(protocol)}`);
      engine = factory(ctx);
      engines.set(protocol, engine);
      return engine;
    },
  };
}
