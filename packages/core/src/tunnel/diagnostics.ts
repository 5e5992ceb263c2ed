import diagnostics_channel from 'node:diagnostics_channel';

/**
 * What the tunnel reports about itself on {@link TUNNEL_CHANNEL}. Core never prints: the daemon subscribes and logs.
 * `side` says which end published it.
 */
export type TunnelDiagnostic =
  | { event: 'connecting'; side: 'agent'; attempt: number }
  | { event: 'connected'; side: 'agent' | 'proxy'; agentId?: string }
  | { event: 'disconnected'; side: 'agent' | 'proxy'; agentId?: string; reason: string }
  | { event: 'connect-failed'; side: 'agent'; attempt: number; reason: string }
  | { event: 'backoff'; side: 'agent'; attempt: number; delayMs: number }
  | { event: 'keepalive-timeout'; side: 'agent' | 'proxy'; agentId?: string; timeoutMs: number }
  | { event: 'stream-refused'; side: 'agent' | 'proxy'; agentId?: string; service: string; reason: string }
  | { event: 'stream-error'; side: 'agent' | 'proxy'; agentId?: string; service: string; reason: string }
  | { event: 'session-error'; side: 'agent' | 'proxy'; agentId?: string; reason: string };

/** The `node:diagnostics_channel` name the tunnel publishes {@link TunnelDiagnostic} records on. */
export const TUNNEL_CHANNEL = 'teleport-ts:tunnel';

const channel = diagnostics_channel.channel(TUNNEL_CHANNEL);

export function publishTunnelDiagnostic(record: TunnelDiagnostic): void {
  if (channel.hasSubscribers) channel.publish(record);
}

export function reasonOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
