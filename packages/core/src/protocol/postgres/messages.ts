/**
 * The PostgreSQL messages our proxy and agent understand, as discriminated unions on `type`. Only what routing,
 * auditing and cancel forwarding need is decoded; everything else is passed through as bytes.
 */

/** A cancel key: what BackendKeyData hands out and a CancelRequest presents. */
export interface BackendKey {
  /** Process id of the backend (or, for keys we issue, a random stand-in). */
  processId: number;
  /** The secret: 4 bytes in protocol 3.0, up to 256 in 3.2. */
  secretKey: Buffer;
}

// ---- startup phase (no type byte) ----------------------------------------------------------------------------

/** Client asks whether the server speaks TLS. Answer with one byte, `S` or `N`. */
export interface SslRequest {
  type: 'sslRequest';
}

/** Client asks whether the server speaks GSSAPI encryption. Answer with one byte, `G` (never from us) or `N`. */
export interface GssEncRequest {
  type: 'gssEncRequest';
}

/** Sent on a fresh connection to cancel the query running on another one. The server never replies. */
export interface CancelRequest extends BackendKey {
  type: 'cancelRequest';
}

/** The first real message of a session. */
export interface StartupMessage {
  type: 'startupMessage';
  protocolVersion: { major: number; minor: number };
  /**
   * Parameters in the order sent (`user`, `database`, `application_name`, `options`, `_pq_.*`...). Built with
   * `Object.fromEntries`, so a parameter named `__proto__` is an ordinary key. Duplicates are refused.
   */
  parameters: Readonly<Record<string, string>>;
}

/** Anything a client may send before (or instead of) a session. */
export type StartupPhaseMessage = SslRequest | GssEncRequest | CancelRequest | StartupMessage;

// ---- frontend (client -> server) after startup ---------------------------------------------------------------

/** Simple query protocol: one or more statements. */
export interface QueryMessage {
  type: 'query';
  text: string;
}

/** Extended protocol: prepare a statement. */
export interface ParseMessage {
  type: 'parse';
  /** Empty for the unnamed statement. */
  statement: string;
  text: string;
  /** Parameter type OIDs (0 = unspecified). */
  parameterTypes: number[];
}

/** Extended protocol: bind parameters to a prepared statement, creating a portal. */
export interface BindMessage {
  type: 'bind';
  portal: string;
  statement: string;
  /** 0 = text, 1 = binary; empty = all text, one = applies to all. */
  parameterFormats: number[];
  /** Raw parameter values; `null` is SQL NULL. */
  parameters: (Buffer | null)[];
  resultFormats: number[];
}

/** Extended protocol: run a portal. */
export interface ExecuteMessage {
  type: 'execute';
  portal: string;
  /** 0 = no limit. */
  maxRows: number;
}

/** Extended protocol: describe a prepared statement (`statement`) or a portal (`portal`). */
export interface DescribeMessage {
  type: 'describe';
  target: 'statement' | 'portal';
  name: string;
}

/** Extended protocol: close a prepared statement or a portal. */
export interface CloseMessage {
  type: 'close';
  target: 'statement' | 'portal';
  name: string;
}

export interface SyncMessage {
  type: 'sync';
}

export interface FlushMessage {
  type: 'flush';
}

export interface TerminateMessage {
  type: 'terminate';
}

/** Frontend messages the stream parser decodes. */
export type FrontendMessage =
  | QueryMessage
  | ParseMessage
  | BindMessage
  | ExecuteMessage
  | DescribeMessage
  | CloseMessage
  | SyncMessage
  | FlushMessage
  | TerminateMessage;

// ---- backend (server -> client) ------------------------------------------------------------------------------

/** An `R` message; only the request code is decoded (SASL payloads stay opaque). */
export interface AuthenticationMessage {
  type: 'authentication';
  /** See `AUTHENTICATION_CODE`; 0 = AuthenticationOk. */
  code: number;
}

export interface BackendKeyDataMessage extends BackendKey {
  type: 'backendKeyData';
}

/** ErrorResponse / NoticeResponse fields by name; only `severity`, `code` and `message` are always present. */
export interface PgErrorFields {
  /** Possibly localised: `ERROR`, `FATAL`, `PANIC`, `WARNING`, `NOTICE`, `DEBUG`, `INFO`, `LOG`. */
  severity: string;
  /** Never localised (PostgreSQL 9.6+); we always send it. */
  severityNonLocalized?: string;
  /** SQLSTATE, five characters. */
  code: string;
  message: string;
  detail?: string;
  hint?: string;
  position?: string;
  internalPosition?: string;
  internalQuery?: string;
  where?: string;
  schema?: string;
  table?: string;
  column?: string;
  dataType?: string;
  constraint?: string;
  file?: string;
  line?: string;
  routine?: string;
}

export interface ErrorResponseMessage {
  type: 'errorResponse';
  fields: PgErrorFields;
}

export interface NoticeResponseMessage {
  type: 'noticeResponse';
  fields: PgErrorFields;
}

export interface ReadyForQueryMessage {
  type: 'readyForQuery';
  /** `I` idle, `T` in a transaction block, `E` in a failed transaction block. */
  status: 'I' | 'T' | 'E';
}

export interface ParameterStatusMessage {
  type: 'parameterStatus';
  name: string;
  value: string;
}

export interface CommandCompleteMessage {
  type: 'commandComplete';
  /** e.g. `SELECT 1`, `INSERT 0 3`. */
  tag: string;
}

/** Backend messages the stream parser decodes. */
export type BackendMessage =
  | AuthenticationMessage
  | BackendKeyDataMessage
  | ErrorResponseMessage
  | NoticeResponseMessage
  | ReadyForQueryMessage
  | ParameterStatusMessage
  | CommandCompleteMessage;
