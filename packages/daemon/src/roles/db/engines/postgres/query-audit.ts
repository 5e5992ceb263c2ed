/**
 * The audit tap of the client -> server direction: a `db.session.query` event per simple Query and per Execute of
 * an extended-protocol statement (with its bind parameters). Called for every client message: it allocates only
 * when it records something.
 */

import type { AuditEventFields } from '@teleport-ts/core/audit';
import type { FrontendMessage } from '@teleport-ts/core/protocol/postgres';
import type { ServiceAuditEmitter } from '../../audit.js';

/** Longest statement text kept in a `db.session.query` event. */
const MAX_AUDITED_QUERY_LENGTH = 32 * 1024;
/** Prepared statements remembered per session for auditing Execute (the oldest are forgotten past this). */
const MAX_TRACKED_STATEMENTS = 10_000;
/** Longest bind parameter kept, as text. */
const MAX_AUDITED_PARAMETER_LENGTH = 1024;

interface QueryAuditState {
  audit: ServiceAuditEmitter;
  fields: AuditEventFields;
  /** Statement name -> text (Parse). */
  statements: Map<string, string>;
  /** Portal name -> statement text and parameters (Bind). */
  portals: Map<string, { text: string; parameters: (string | null)[] }>;
}

function truncate(text: string): { text: string; truncated: boolean } {
  return text.length > MAX_AUDITED_QUERY_LENGTH ? { text: text.slice(0, MAX_AUDITED_QUERY_LENGTH), truncated: true } : { text, truncated: false };
}

/** Bind parameters as the audit log shows them: text as text, binary as hex, NULL as null. */
function parameterTexts(parameters: readonly (Buffer | null)[], formats: readonly number[]): (string | null)[] {
  return parameters.map((p, i) => {
    if (p === null) return null;
    const format = formats.length === 0 ? 0 : formats.length === 1 ? formats[0] : formats[i];
    const value = format === 1 ? `\\x${p.toString('hex')}` : p.toString('utf8');
    return value.length > MAX_AUDITED_PARAMETER_LENGTH ? `${value.slice(0, MAX_AUDITED_PARAMETER_LENGTH)}...` : value;
  });
}

function auditQuery(state: QueryAuditState, text: string, parameters?: (string | null)[]): void {
  const { text: query, truncated } = truncate(text);
  state.audit.emit('databaseSessionQuery', {
    ...state.fields,
    success: true,
    db_query: query,
    ...(truncated ? { db_query_truncated: true } : {}),
    ...(parameters !== undefined && parameters.length > 0 ? { db_query_parameters: parameters } : {}),
  });
}

/** Remembers at most MAX_TRACKED_STATEMENTS entries, forgetting the oldest. */
function remember<V>(map: Map<string, V>, name: string, value: V): void {
  if (map.size >= MAX_TRACKED_STATEMENTS && !map.has(name)) map.delete(map.keys().next().value!);
  map.set(name, value);
}

function onFrontendMessage(state: QueryAuditState, m: FrontendMessage): void {
  switch (m.type) {
    case 'query':
      auditQuery(state, m.text);
      break;
    case 'parse':
      remember(state.statements, m.statement, m.text);
      break;
    case 'bind':
      remember(state.portals, m.portal, { text: state.statements.get(m.statement) ?? '', parameters: parameterTexts(m.parameters, m.parameterFormats) });
      break;
    case 'execute': {
      const portal = state.portals.get(m.portal);
      if (portal !== undefined) auditQuery(state, portal.text, portal.parameters);
      break;
    }
    case 'close':
      if (m.target === 'statement') state.statements.delete(m.name);
      else state.portals.delete(m.name);
      break;
    default:
      break;
  }
}

/**
 * The `onMessage` of the session's frontend tap.
 *
 * @example
 * ```ts
 * const toServer = frontendMessageTap({ onMessage: newQueryAuditor({ audit, fields }) });
 * ```
 */
export function newQueryAuditor(options: { audit: ServiceAuditEmitter; fields: AuditEventFields }): (message: FrontendMessage) => void {
  const state: QueryAuditState = { audit: options.audit, fields: options.fields, statements: new Map(), portals: new Map() };
  return (m) => onFrontendMessage(state, m);
}
