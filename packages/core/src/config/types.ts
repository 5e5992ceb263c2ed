/** teleport.yaml's keys, defaults and value sets: the shapes `parseConfig` returns. */

import type { StorageConfig } from '../backend/types.js';
import type { JoinTokenRole, SecondFactor } from '../types/index.js';
import type { SessionRecordingMode } from '../api/recordings.js';

/** Storage types teleport.yaml accepts. */
export const STORAGE_TYPES = ['memory', 'sqlite', 'dir', 'postgres', 'postgresql', 'cockroachdb'] as const;

/** Log severities, lowest first (`teleport.log.severity`, case-insensitive; `WARNING` reads as `warn`). */
export const LOG_SEVERITIES = ['debug', 'info', 'warn', 'error'] as const;
export type LogSeverity = (typeof LOG_SEVERITIES)[number];

/** Log line formats (`teleport.log.format.output`). */
export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** `teleport.log`, defaults filled: stderr, info, text. */
export interface LogConfig {
  /** `stderr`, `stdout`, or a file path. */
  output: string;
  severity: LogSeverity;
  format: LogFormat;
}

/** The default `teleport.log`. */
export const DEFAULT_LOG_CONFIG: Readonly<LogConfig> = Object.freeze({ output: 'stderr', severity: 'info', format: 'text' });

/** The auth API's default listen address (Teleport's). */
export const DEFAULT_AUTH_LISTEN_ADDR = '0.0.0.0:3025';
export const DEFAULT_AUTH_PORT = 3025;
/** The proxy's default web listen address (Teleport's). */
export const DEFAULT_PROXY_WEB_LISTEN_ADDR = '0.0.0.0:3080';
export const DEFAULT_PROXY_WEB_PORT = 3080;

/**
 * A static join token from `auth_service.tokens` (`"node,db:<secret>"`). The secret never appears in a
 * message about it.
 */
export interface StaticToken {
  readonly roles: readonly JoinTokenRole[];
  readonly token: string;
}

/** `auth_service.authentication`. */
export interface AuthenticationConfig {
  type?: string;
  second_factor?: SecondFactor;
}

/** `auth_service.access_requests.webhook`: where the built-in notifier POSTs access request events. */
export interface AccessRequestWebhookConfig {
  /** `https://...` (or `http://` for a receiver on the same host). */
  url: string;
  /** CA certificate(s) to verify an https receiver with, instead of the system's. */
  ca_file?: string;
}

/** Database protocols the db service serves (`db_service.databases[].protocol`, `--db-protocol`). */
export const DATABASE_PROTOCOLS = ['postgres', 'cockroachdb'] as const;
export type DatabaseProtocol = (typeof DATABASE_PROTOCOLS)[number];

/** How the db service verifies a database's server certificate (`db_service.databases[].tls.mode`). */
export const DATABASE_TLS_MODES = ['verify-full', 'verify-ca', 'insecure'] as const;
export type DatabaseTlsMode = (typeof DATABASE_TLS_MODES)[number];

/** One `db_service.databases` entry (Teleport's keys). */
export interface DatabaseFileConfig {
  name: string;
  description?: string;
  protocol: DatabaseProtocol;
  /** `host:port` of the database. */
  uri: string;
  static_labels?: Record<string, string>;
  tls?: {
    /** Default `verify-full`: the chain and the host name (or `server_name`). */
    mode?: DatabaseTlsMode;
    /** CA certificate(s) to verify the database with instead of the cluster's `db` CA. */
    ca_cert_file?: string;
    /** Name to verify the server certificate against instead of the host of `uri`. */
    server_name?: string;
  };
}

/** One `proxy_service.https_keypairs` entry: the web listener's certificate chain and key, PEM files. */
export interface HttpsKeyPair {
  key_file: string;
  cert_file: string;
}

/** `proxy_service`. */
export interface ProxyServiceConfig {
  enabled?: boolean;
  /** `host:port` the web listener binds. */
  web_listen_addr?: string;
  /** `host[:port]` addresses users reach the proxy at; the first is where invite links point. */
  public_addr?: string[];
  /** Certificates to serve instead of a self-signed one (the first is served). */
  https_keypairs?: HttpsKeyPair[];
  /** `host:port` of the proxy peering listener (with `tunnel_strategy: proxy_peering`); default `0.0.0.0:3021`. */
  peer_listen_addr?: string;
  /** `host:port` peers dial; default the listen address (the host name for a wildcard). */
  peer_public_addr?: string;
}

/** `auth_service.tunnel_strategy`, defaults filled. */
export type TunnelStrategyConfig = { type: 'agent_mesh' } | { type: 'proxy_peering'; agent_connection_count: number };

/** Default port of the proxy peering listener. */
export const DEFAULT_PROXY_PEER_PORT = 3021;

/** The subset of teleport.yaml (v3) this release reads, validated and with defaults filled. */
export interface FileConfig {
  version: string;
  teleport: {
    nodename?: string;
    data_dir?: string;
    /** Join token of an agent (or a path to a file holding it, as in Teleport). A secret. */
    auth_token?: string;
    /** `host:port` of the auth server (or proxy) an agent joins. */
    auth_server?: string;
    /** `host:port` of the proxy an agent joins through (Teleport v3); never set together with `auth_server`. */
    proxy_server?: string;
    /** CA pins (`sha256:<hex>`) an agent checks the auth server's CA against. */
    ca_pin?: string[];
    storage?: StorageConfig;
    log?: LogConfig;
    /** `host:port` of the diagnostic HTTP endpoint (`/healthz`, `/readyz`). */
    diag_addr?: string;
    /**
     * `connection_limits.rates`: requests per source address to the unauthenticated endpoints (joins, logins,
     * invites) of the auth and proxy services, folded into one per-second rate and burst (the strictest).
     */
    connection_limits?: {
      rate?: { average: number; burst: number };
      /** `connection_limits.max_pending_per_address`: connections per source address not yet identified (default 256). */
      maxPendingPerAddress?: number;
    };
  };
  auth_service?: {
    enabled?: boolean;
    listen_addr?: string;
    public_addr?: string[];
    cluster_name?: string;
    tokens?: StaticToken[];
    authentication?: AuthenticationConfig;
    access_requests?: { webhook?: AccessRequestWebhookConfig };
    /** Where SSH sessions are recorded: `node` (default), `node-sync`, `proxy`, `proxy-sync` or `off`. */
    session_recording?: SessionRecordingMode;
    tunnel_strategy?: TunnelStrategyConfig;
  };
  proxy_service?: ProxyServiceConfig;
  /** `workers`: processes serving database sessions (`auto`: one per CPU core); default 1. */
  db_service?: { enabled?: boolean; workers?: number | 'auto'; databases?: DatabaseFileConfig[] };
  ssh_service?: SshServiceConfig;
}

/** A dynamic label of a node (`ssh_service.commands`): `command` runs every `period`; its output is the value. */
export interface CommandLabelConfig {
  name: string;
  command: string[];
  /** A Go duration, e.g. `1m` or `1h0m0s`. */
  period: string;
}

/** `ssh_service`: the node service. */
export interface SshServiceConfig {
  enabled?: boolean;
  /** Direct mode: the node also listens here (Teleport's 3022); by default it opens no port. */
  listen_addr?: string;
  labels?: Record<string, string>;
  commands?: CommandLabelConfig[];
}
