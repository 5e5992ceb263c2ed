import type { BackendEvent } from '../types.js';

/**
 * A notification on the change channel: the event itself, or a pointer to a `kv_events` row for events
 * too large for a NOTIFY payload.
 */
export type ChangeNotification =
  | { kind: 'inline'; event: BackendEvent }
  | { kind: 'spilled'; id: string }
  | { kind: 'barrier'; id: string };

/** The JSON the `kv_notify_change` trigger writes. */
interface EventJson {
  t: 'p' | 'd';
  k: string;
  v?: string;
  e?: number | null;
  r?: string;
}

const SPILLED = /^@([0-9]{1,19})$/;
/** A watcher barrier some backend instance sent (`#<uuid>`); see `openListenSession`. */
const BARRIER = /^#([0-9a-f-]{36})$/;

/** The payload of a barrier notification. */
export const barrierPayload = (id: string): string => `#${id}`;

/** Parses a notification payload; throws `TypeError` on anything the trigger would not write. */
export function parseChangeNotification(payload: string): ChangeNotification {
  const spilled = SPILLED.exec(payload);
  if (spilled) return { kind: 'spilled', id: spilled[1]! };
  const barrier = BARRIER.exec(payload);
  if (barrier) return { kind: 'barrier', id: barrier[1]! };
  return { kind: 'inline', event: decodeChangeEvent(payload) };
}

/** Decodes the trigger's event JSON (inline or from `kv_events`). */
export function decodeChangeEvent(json: string): BackendEvent {
  let e: EventJson;
  try {
    e = JSON.parse(json) as EventJson;
  } catch {
    throw new TypeError('change notification is not JSON');
  }
  if (typeof e !== 'object' || e === null || typeof e.k !== 'string') throw new TypeError('change notification has no key');
  const key = Buffer.from(e.k, 'base64').toString('utf8');
  if (e.t === 'd') {
    return { type: 'delete', item: { key, ...(typeof e.r === 'string' ? { revision: e.r } : {}) } };
  }
  if (e.t !== 'p' || typeof e.v !== 'string' || typeof e.r !== 'string') {
    throw new TypeError('change notification is neither a put nor a delete');
  }
  const value = Buffer.from(e.v, 'base64');
  return {
    type: 'put',
    item: {
      key,
      value: new Uint8Array(value.buffer, value.byteOffset, value.byteLength),
      ...(typeof e.e === 'number' ? { expires: new Date(e.e) } : {}),
      revision: e.r,
    },
  };
}
