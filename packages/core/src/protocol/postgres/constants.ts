/**
 * Named byte constants of the PostgreSQL frontend/backend protocol (version 3), as in PostgreSQL's
 * `src/include/libpq/pqcomm.h` and the "Message Formats" chapter of its documentation.
 */

/** Bytes of a message type code. */
export const CODE_LENGTH = 1;
/** Bytes of the int32 length field; the length counts itself but not the type code. */
export const LEN_LENGTH = 4;
/** Type code + length: the header of every message after the startup phase. */
export const HEADER_LENGTH = CODE_LENGTH + LEN_LENGTH;
/** Length + request code/protocol version: the smallest startup-phase message. */
export const STARTUP_HEADER_LENGTH = LEN_LENGTH + 4;

/** Protocol version 3.0 as sent in a StartupMessage (major << 16 | minor). */
export const PROTOCOL_VERSION_3_0 = (3 << 16) | 0;
/** Protocol 3.2 (PostgreSQL 18): variable-length cancel keys. */
export const PROTOCOL_VERSION_3_2 = (3 << 16) | 2;
/** The "protocol version" of an SSLRequest. */
export const SSL_REQUEST_CODE = 80877103;
/** The "protocol version" of a GSSENCRequest. */
export const GSSENC_REQUEST_CODE = 80877104;
/** The "protocol version" of a CancelRequest. */
export const CANCEL_REQUEST_CODE = 80877102;

/** Length of an SSLRequest / GSSENCRequest (the same 8 bytes as a startup header, named for what it measures). @alias */
export const ENCRYPTION_REQUEST_LENGTH = STARTUP_HEADER_LENGTH;
/** Protocol 3.0 cancel keys carry a 4-byte secret. */
export const CANCEL_SECRET_KEY_LENGTH_3_0 = 4;
/** Protocol 3.2 allows secrets up to 256 bytes. */
export const MAX_CANCEL_SECRET_KEY_LENGTH = 256;
/** Length + code + process id + 4-byte secret. */
export const CANCEL_REQUEST_LENGTH_3_0 = STARTUP_HEADER_LENGTH + 4 + CANCEL_SECRET_KEY_LENGTH_3_0;
/** The longest CancelRequest we accept (protocol 3.2, 256-byte secret). */
export const MAX_CANCEL_REQUEST_LENGTH = STARTUP_HEADER_LENGTH + 4 + MAX_CANCEL_SECRET_KEY_LENGTH;

/**
 * Default cap on a startup-phase message. PostgreSQL itself refuses startup packets over 10 000 bytes
 * (`MAX_STARTUP_PACKET_LENGTH`); we are more lenient but never unbounded, because the proxy reads this from
 * untrusted clients.
 */
export const DEFAULT_MAX_STARTUP_MESSAGE_LENGTH = 1024 * 1024;

/**
 * Default cap on a message the stream parsers decode (and therefore buffer) after the startup phase: large enough
 * for big `Query`/`Parse`/`Bind` messages, small enough to bound memory per connection. Messages the parsers only
 * pass through (DataRow, CopyData, password messages...) are never buffered and only limited by
 * {@link MAX_LENGTH_FIELD}.
 */
export const DEFAULT_MAX_MESSAGE_LENGTH = 16 * 1024 * 1024;

/** The largest length field accepted on the wire: PostgreSQL's `PQ_LARGE_MESSAGE_LIMIT` plus the length itself. */
export const MAX_LENGTH_FIELD = 0x3fffffff;

/** Single-byte answers to an SSLRequest or GSSENCRequest. */
export const ENCRYPTION_RESPONSE = {
  /** "Go ahead, start the TLS (or GSS) handshake." */
  accept: 'S',
  /** "Not supported here, continue in plain text." */
  refuse: 'N',
} as const;

/** Frontend (client -> server) message type codes. */
export const FRONTEND_CODE = {
  bind: 'B',
  close: 'C',
  copyData: 'd',
  copyDone: 'c',
  copyFail: 'f',
  describe: 'D',
  execute: 'E',
  flush: 'H',
  functionCall: 'F',
  parse: 'P',
  /** PasswordMessage, SASLInitialResponse, SASLResponse, GSSResponse: never decoded (they carry secrets). */
  password: 'p',
  query: 'Q',
  sync: 'S',
  terminate: 'X',
} as const;

/** Backend (server -> client) message type codes. */
export const BACKEND_CODE = {
  authentication: 'R',
  backendKeyData: 'K',
  bindComplete: '2',
  closeComplete: '3',
  commandComplete: 'C',
  copyData: 'd',
  copyDone: 'c',
  copyInResponse: 'G',
  copyOutResponse: 'H',
  copyBothResponse: 'W',
  dataRow: 'D',
  emptyQueryResponse: 'I',
  errorResponse: 'E',
  functionCallResponse: 'V',
  negotiateProtocolVersion: 'v',
  noData: 'n',
  noticeResponse: 'N',
  notificationResponse: 'A',
  parameterDescription: 't',
  parameterStatus: 'S',
  parseComplete: '1',
  portalSuspended: 's',
  readyForQuery: 'Z',
  rowDescription: 'T',
} as const;

/** Authentication request codes carried by an `R` message. */
export const AUTHENTICATION_CODE = {
  ok: 0,
  kerberosV5: 2,
  cleartextPassword: 3,
  md5Password: 5,
  gss: 7,
  gssContinue: 8,
  sspi: 9,
  sasl: 10,
  saslContinue: 11,
  saslFinal: 12,
} as const;

/** Transaction status in ReadyForQuery. */
export const TRANSACTION_STATUS = {
  idle: 'I',
  inTransaction: 'T',
  failed: 'E',
} as const;

/** SQLSTATE codes we emit or look for (PostgreSQL Appendix A). */
export const SQLSTATE = {
  connectionFailure: '08006',
  protocolViolation: '08P01',
  featureNotSupported: '0A000',
  invalidAuthorizationSpecification: '28000',
  invalidPassword: '28P01',
  invalidCatalogName: '3D000',
  insufficientPrivilege: '42501',
  tooManyConnections: '53300',
  queryCanceled: '57014',
  adminShutdown: '57P01',
  internalError: 'XX000',
} as const;

/**
 * ErrorResponse / NoticeResponse field type codes and the names we decode them to.
 * `V` (non-localised severity) exists since PostgreSQL 9.6.
 */
export const ERROR_FIELD_CODE = {
  severity: 'S',
  severityNonLocalized: 'V',
  code: 'C',
  message: 'M',
  detail: 'D',
  hint: 'H',
  position: 'P',
  internalPosition: 'p',
  internalQuery: 'q',
  where: 'W',
  schema: 's',
  table: 't',
  column: 'c',
  dataType: 'd',
  constraint: 'n',
  file: 'F',
  line: 'L',
  routine: 'R',
} as const;
