import type { AuditEvent, SearchEventsResult, SearchOrder } from './types.js';
import { encodeCursor, type Cursor } from './validate.js';

/** A row a driver read: the event and its sort key. */
export interface PageRow {
  event: AuditEvent;
  cursor: Cursor;
}

/**
 * Turns up to `limit + 1` rows into a page: drivers ask for one row more than the page so that
 * `nextKey` appears only when another page exists.
 */
export function toPage(rows: PageRow[], limit: number, order: SearchOrder): SearchEventsResult {
  const more = rows.length > limit;
  const page = more ? rows.slice(0, limit) : rows;
  const last = page[page.length - 1];
  const result: SearchEventsResult = { events: page.map((r) => r.event) };
  if (more && last !== undefined) result.nextKey = encodeCursor(last.cursor, order);
  return result;
}
