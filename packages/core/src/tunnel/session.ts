/** HTTP/2 session settings and keepalive shared by both ends of the tunnel. Internal to the module. */

import type { Http2Session, Settings } from 'node:http2';
import { Duplex } from 'node:stream';

/**
 * Per-stream flow-control window. HTTP/2's default (64 KiB) caps one stream at 64 KiB per round trip (640 KB/s at
 * 100 ms); 1 MiB keeps a database session fast over a WAN while bounding what one unread stream can buffer.
 */
export const STREAM_WINDOW_BYTES = 1024 * 1024;

/** Connection-level window: bounds the unread data of all streams of one tunnel together. */
export const CONNECTION_WINDOW_BYTES = 16 * 1024 * 1024;

/** nghttp2's session memory cap, in MB (Node's default 10 is tight for many 1 MiB windows). */
export const MAX_SESSION_MEMORY_MB = 64;

/** Defaults for keepalive: an HTTP/2 PING every 15 s, the peer is dead when one is not answered in 15 s. */
export const DEFAULT_KEEPALIVE_INTERVAL_MS = 15_000;
export const DEFAULT_KEEPALIVE_TIMEOUT_MS = 15_000;

export function sessionSettings(extra: Settings = {}): Settings {
  return { initialWindowSize: STREAM_WINDOW_BYTES, enablePush: false, ...extra };
}

/** Widens the connection window once the session is up (it cannot be set in SETTINGS). */
export function widenConnectionWindow(session: Http2Session): void {
  try {
    session.setLocalWindowSize(CONNECTION_WINDOW_BYTES);
  } catch {
    // The session closed in the meantime.
  }
}

/**
 * Pings the peer every `intervalMs`; calls `onTimeout` (once) when a ping is not answered within `timeoutMs`.
 * Stops by itself when the session closes. Returns a stop function.
 */
export function startKeepAlive(session: Http2Session, options: { intervalMs: number; timeoutMs: number; onTimeout: () => void }): () => void {
  let pending: NodeJS.Timeout | undefined;
  let stopped = false;
  const stop = () => {
    stopped = true;
    clearInterval(interval);
    if (pending !== undefined) clearTimeout(pending);
  };
  const interval = setInterval(() => {
    if (stopped || pending !== undefined || session.destroyed || session.closed) return;
    pending = setTimeout(() => {
      stop();
      options.onTimeout();
    }, options.timeoutMs);
    pending.unref();
    try {
      session.ping((err) => {
        if (err !== null || stopped) return;
        clearTimeout(pending);
        pending = undefined;
      });
    } catch {
      // Session closing: the 'close' handler stops us.
    }
  }, options.intervalMs);
  interval.unref();
  session.once('close', stop);
  return stop;
}

/**
 * Wraps the TLS socket so that HTTP/2 writes complete as soon as they are queued on the socket.
 *
 * Node's HTTP/2 stops reading its socket while a write to it is in progress (`MaybeStopReading` in
 * node_http2.cc). With windows larger than the kernel's socket buffers, two peers writing bulk data at each other
 * (an echo, a COPY while results stream back) both end up with a write that cannot finish because the other side
 * is not reading: a mutual write deadlock (reproduced with 12 streams x 1 MiB in each direction). Completing writes
 * immediately keeps both sides reading. What is queued stays bounded by HTTP/2 flow control: DATA only goes out
 * against window the peer granted (at most {@link CONNECTION_WINDOW_BYTES}), and control frames are answers to
 * the peer's frames, which nghttp2 and Node already cap (outstanding PINGs and SETTINGS, queued control frames).
 */
export function decoupleWrites(socket: Duplex): Duplex {
  const wrapper = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      socket.write(chunk);
      callback();
    },
    writev(chunks, callback) {
      socket.cork();
      for (const { chunk } of chunks) socket.write(chunk as Buffer);
      socket.uncork();
      callback();
    },
    final(callback) {
      socket.end();
      callback();
    },
    destroy(err, callback) {
      socket.destroy(err ?? undefined);
      callback(err);
    },
  });
  socket.on('data', (chunk: Buffer) => {
    if (!wrapper.push(chunk)) socket.pause();
  });
  socket.once('end', () => wrapper.push(null));
  socket.on('error', (err) => wrapper.destroy(err));
  socket.once('close', () => wrapper.destroy());
  return wrapper;
}
