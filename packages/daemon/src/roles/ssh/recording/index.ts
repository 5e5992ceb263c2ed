/**
 * Session recording for the agents that record (the node, or the proxy for agentless OpenSSH nodes):
 * {@link startSessionRecording} reads the cluster's mode from the auth server, finishes the uploads a previous run left
 * on disk, retries failed ones, and hands out a recorder per session (or none when the mode records elsewhere).
 */

import { recordingModeParts, type RecordingsApi, type SessionRecordingMode } from '@teleport-ts/core/api';
import type { Clock } from '@teleport-ts/core/clock';
import { redact } from '@teleport-ts/core/errors';
import { nopLogger, type Logger } from '../../../logger.js';
import type { SshRecorderFactory, SshSessionStart } from '../server/types.js';
import { newSessionRecorder, type SessionMetadata } from './recorder.js';
import { newSpoolUploader, spoolDirOf, type SpoolUploader } from './uploader.js';

export { newSessionRecorder, type SessionMetadata, type SessionRecorder } from './recorder.js';
export { newSpoolUploader, spoolDirOf } from './uploader.js';

/** What the recording service needs of the auth client. */
type RecordingClient = Pick<RecordingsApi, 'getSessionRecordingConfig' | 'uploadRecordingPart' | 'completeRecording'>;

export interface SessionRecordingOptions {
  /** The agent's data dir: recordings are spooled under `log/upload/streaming/default`. */
  dataDir: string;
  client: RecordingClient;
  /** Which agent this is: the node records in `node*` modes, the proxy in `proxy*` modes. */
  at: 'node' | 'proxy';
  logger?: Logger;
  clock?: Clock;
  /** How often failed uploads are retried and the mode is read again, ms; default 30 s. 0 disables. */
  retryIntervalMs?: number;
  /** Streaming modes' send interval, ms; default 1 s. */
  flushIntervalMs?: number;
}

/** A running recording service. */
export interface SessionRecording {
  /** The mode last read from the auth server. */
  mode(): SessionRecordingMode;
  /**
   * For the node's SSH server (`newNodeSshServer({ recorder })`): a recorder per interactive session, one that records
   * nothing when the mode records elsewhere (`proxy*` at a node, `node*` at a proxy) or not at all (`off`).
   */
  recorder: SshRecorderFactory;
  /**
   * For the proxy in front of an agentless OpenSSH node, which cannot record itself: records in every mode but `off`,
   * at the proxy (`node` as `proxy`, `node-sync` as `proxy-sync`), as Teleport does.
   */
  agentlessRecorder: SshRecorderFactory;
  /** Finishes what the previous run left on disk (start-up does it too; tests call it to wait for it). */
  resume(): Promise<{ completed: string[]; failed: string[] }>;
  readonly uploader: SpoolUploader;
  /** Stops the retry timer; recordings still being written stay on disk for the next start. */
  close(): Promise<void>;
}

/**
 * Starts the recording service of an agent.
 *
 * @example
 * ```ts
 * const recording = await startSessionRecording({ dataDir, client: authClient, at: 'node', logger });
 * const server = newNodeSshServer({ ..., recorder: recording.recorder });
 * ```
 */
export async function startSessionRecording(options: SessionRecordingOptions): Promise<SessionRecording> {
  const logger = options.logger ?? nopLogger;
  const spoolDir = spoolDirOf(options.dataDir);
  const uploader = newSpoolUploader({ spoolDir, sink: options.client, logger });
  let mode: SessionRecordingMode = (await options.client.getSessionRecordingConfig()).mode;
  const refresh = async (): Promise<void> => {
    try {
      mode = (await options.client.getSessionRecordingConfig()).mode;
    } catch (err) {
      logger.debug('cannot read the session recording mode; keeping the last one', { error: redact((err as Error).message) });
    }
    await uploader.resume();
  };
  // What a previous run left behind goes up in the background: start-up does not wait for the auth server.
  const first = uploader.resume().catch(() => ({ completed: [], failed: [] }));
  const record = (start: SshSessionStart, as: SessionRecordingMode) =>
    newSessionRecorder({
      session: sessionMetadata(start),
      mode: as,
      spoolDir,
      uploader,
      logger,
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.flushIntervalMs !== undefined ? { flushIntervalMs: options.flushIntervalMs } : {}),
    });
  const interval = options.retryIntervalMs ?? 30_000;
  const timer = interval > 0 ? setInterval(() => void refresh(), interval) : undefined;
  timer?.unref();
  return {
    mode: () => mode,
    uploader,
    resume: async () => {
      await first;
      return uploader.resume();
    },
    recorder: (start) => record(start, recordingModeParts(mode).at === options.at ? mode : 'off'),
    agentlessRecorder: (start) => record(start, mode === 'off' ? 'off' : recordingModeParts(mode).sync ? 'proxy-sync' : 'proxy'),
    close: async () => {
      if (timer) clearInterval(timer);
      await first;
    },
  };
}

/** What the SSH server says about a session, as the recording's `session.start` has it. */
function sessionMetadata(start: SshSessionStart): SessionMetadata {
  return {
    sessionId: start.sessionId,
    clusterName: start.clusterName,
    user: start.user,
    login: start.login,
    serverId: start.hostUUID,
    serverHostname: start.nodeName,
    remoteAddr: start.remoteAddr,
    cols: start.cols,
    rows: start.rows,
    ...(start.command !== undefined ? { command: start.command } : {}),
  };
}
