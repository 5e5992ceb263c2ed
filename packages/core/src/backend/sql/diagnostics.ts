import diagnostics_channel from 'node:diagnostics_channel';

/**
 * What the SQL drivers report about themselves. Core never prints: the daemon subscribes to
 * {@link SQL_BACKEND_CHANNEL} and logs these records.
 */
export type SqlBackendDiagnostic =
  | { event: 'retry'; backend: string; op: string; attempt: number; failure: string; code: string | undefined; delayMs: number }
  | { event: 'change-feed-reset'; backend: string; reason: string }
  | { event: 'change-feed-ready'; backend: string; attempt: number }
  | { event: 'change-feed-error'; backend: string; reason: string; retryInMs: number }
  | { event: 'sweep'; backend: string; deleted: number }
  | { event: 'sweep-error'; backend: string; reason: string }
  | { event: 'pool-error'; backend: string; reason: string };

/** The `node:diagnostics_channel` name the SQL drivers publish {@link SqlBackendDiagnostic} records on. */
const SQL_BACKEND_CHANNEL = 'teleport-ts:backend:sql';

const channel = diagnostics_channel.channel(SQL_BACKEND_CHANNEL);

export function publishDiagnostic(record: SqlBackendDiagnostic): void {
  if (channel.hasSubscribers) channel.publish(record);
}
