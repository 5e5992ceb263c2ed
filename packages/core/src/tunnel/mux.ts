/**
 * The tunnel's stream multiplexer: many byte streams over one TLS socket, with per-stream flow control, half-close,
 * reset and PING. Internal to the module; `server.ts` (the opening side) and `agent.ts` (the accepting side) use it.
 *
 * Frames: a 9-byte header (type u8, stream id u32, payload length u32) and the payload. Types: HELLO (each side
 * once, first: magic, version and, from the accepting side, an instance id: the agent process, so that a proxy tells
 * an agent's worker processes apart from a reconnect of one of them), OPEN (the opener's stream header frame: the encoded {@link TunnelStreamMeta}),
 * ACCEPT, REFUSE (an encoded wire error; the stream is over), DATA, WINDOW (u32 credit), FIN (this side's half
 * ends), RESET (the stream is over both ways), PING and PONG (8 bytes), GOAWAY (the sender takes no new stream; the
 * connection closes once its streams have ended: a renewed agent drains its old tunnel this way).
 *
 * Why not HTTP/2 (the first implementation): per query, nghttp2 behind a JS socket wrapper cost more CPU than the
 * rest of the relaying (measured in docs/benchmarks.md). Here DATA payloads are handed to the stream as slices of
 * what TLS delivered (no copy), small frames go out as one buffer, frames written in the same tick leave in one
 * socket write (one TLS record), so a query and its answer cost one read and one write per direction and hop, and the
 * DATA one stream writes in a tick is one frame (bulk relays hand the peer fewer, larger pieces).
 *
 * Flow control: a sender may have at most {@link STREAM_WINDOW_BYTES} unacknowledged on a stream; the receiver
 * credits bytes back once its reader has taken them (`_read`), so a slow reader stops its own stream only and what
 * one stream can buffer is bounded. The socket is always read (never paused for a stream), so two ends writing bulk
 * at each other cannot deadlock: every byte that arrives was credited by its receiver first.
 */

import { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';

/** Per-stream flow-control window: 1 MiB keeps one stream fast over a WAN while bounding what it may buffer. */
export const STREAM_WINDOW_BYTES = 1024 * 1024;
/** Credit is returned in steps of at least this much (fewer WINDOW frames), or when the reader drained everything. */
const CREDIT_STEP = 64 * 1024;
/**
 * A pending write is sent in slices of at most this. Not a frame cap: slices of one stream queued in the same tick
 * may leave as one DATA frame, which the receiver bounds by the stream's window.
 */
const MAX_DATA_SLICE = 64 * 1024;
/** Largest control payload accepted (OPEN's meta, REFUSE's error). */
const MAX_CONTROL_PAYLOAD = 64 * 1024;
/**
 * Below this, a frame's header and payload are copied into one buffer (taken from Node's buffer pool, so no
 * allocation of its own); above, written as two (corked: one socket write either way), so bulk payloads are not copied.
 */
const COPY_BELOW = (Buffer.poolSize >>> 1) - 16;
const HEADER = 9;
const MAGIC = Buffer.from('teleport-tunnel-mux/1', 'latin1');

const FRAME = { hello: 0, open: 1, accept: 2, refuse: 3, data: 4, window: 5, fin: 6, reset: 7, ping: 8, pong: 9, goaway: 10 } as const;
/** How long a drained connection waits for the peer to close after our end, before it is cut. */
const GOAWAY_CLOSE_MS = 5_000;

/** One side of a multiplexed connection. */
export interface MuxSession {
  readonly socket: TLSSocket;
  /** The peer's HELLO arrived. */
  readonly established: boolean;
  readonly closed: boolean;
  readonly destroyed: boolean;
  /** GOAWAY was sent or received: no new stream goes over this connection. */
  readonly goingAway: boolean;
  /** The instance id the peer's HELLO carried ('' when none): which process of the agent this connection is. */
  readonly peerInstance: string;
  /** Streams open now. */
  readonly streamCount: number;
  /** Sends GOAWAY: streams running go on, and the connection closes once none is left. */
  goAway(): void;
  /** Opens a stream (opening side): its OPEN frame goes out at once. */
  open(meta: string): MuxStream;
  /** Sends a PING; `onPong` runs when the answer arrives. */
  ping(onPong: () => void): void;
  destroy(): void;
}

export interface MuxSessionOptions {
  /** The peer's HELLO arrived. */
  onEstablished: () => void;
  /** The peer opened a stream (accepting side). Absent: OPEN is a protocol error. */
  onOpen?: (stream: MuxStream, meta: Buffer) => void;
  /** Most streams the peer may have open at once; past this an OPEN is reset. */
  maxStreams?: number;
  onClose: () => void;
  /** Sent in our HELLO (the accepting side: the agent process's id). */
  instance?: string;
}

interface SessionState {
  socket: TLSSocket;
  options: MuxSessionOptions;
  streams: Map<number, MuxStream>;
  nextId: number;
  established: boolean;
  closed: boolean;
  peerInstance: string;
  /** GOAWAY was sent (`sent`: close once no stream is left) or received. */
  goAway: 'sent' | 'received' | undefined;
  corked: boolean;
  /**
   * The DATA frame written last in this corked tick, while nothing else followed it: more DATA for the same stream
   * extends it (its header, not yet handed to the socket, gets the new length), so a relay of many small chunks
   * sends one frame per tick and the peer hands its reader fewer, larger pieces.
   */
  lastData: { id: number; header: Buffer; length: number } | undefined;
  pings: (() => void)[];
  /** Frame parser: the header being collected, then the payload of the current frame. */
  header: Buffer;
  headerHave: number;
  type: number;
  id: number;
  remaining: number;
  control: Buffer[];
}

/** A stream of a {@link MuxSession}: a byte Duplex with half-close; `destroy()` before both ends finished resets it. */
export class MuxStream extends Duplex {
  /** ACCEPT was sent or received. */
  accepted = false;
  /** Called once with ACCEPT (undefined) or with REFUSE's payload (opening side). */
  onAnswer: ((refusal: Buffer | undefined) => void) | undefined;
  sendWindow = STREAM_WINDOW_BYTES;
  recvWindow = STREAM_WINDOW_BYTES;
  uncredited = 0;
  sentFin = false;
  gotFin = false;
  pending: { chunk: Buffer; callback: (err?: Error | null) => void } | undefined;

  constructor(
    private readonly s: SessionState,
    readonly id: number,
    /** The peer opened it: our first frame on it is ACCEPT. */
    private readonly acceptor: boolean,
  ) {
    super({ allowHalfOpen: true, highWaterMark: 64 * 1024 });
  }

  /** Accepts a stream the peer opened (writing accepts it too, as HTTP/2's implicit 200 did). */
  accept(): void {
    if (this.accepted || !this.acceptor || this.destroyed) return;
    this.accepted = true;
    sendFrame(this.s, FRAME.accept, this.id);
  }

  /** Refuses a stream the peer opened with an encoded wire error, and forgets it. */
  refuse(error: string): void {
    if (this.s.streams.get(this.id) === this) this.s.streams.delete(this.id);
    sendFrame(this.s, FRAME.refuse, this.id, Buffer.from(error, 'latin1'));
    this.destroy();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.pending = { chunk, callback };
    pumpStream(this.s, this);
  }

  override _final(callback: (err?: Error | null) => void): void {
    if (!this.s.closed) {
      this.accept();
      sendFrame(this.s, FRAME.fin, this.id);
    }
    this.sentFin = true;
    callback();
  }

  override _read(): void {
    if (this.uncredited >= CREDIT_STEP) credit(this.s, this);
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    if (this.s.streams.get(this.id) === this) {
      this.s.streams.delete(this.id);
      if (!(this.sentFin && this.gotFin) && !this.s.closed) sendFrame(this.s, FRAME.reset, this.id);
    }
    finishGoAway(this.s);
    const pending = this.pending;
    this.pending = undefined;
    pending?.callback(err);
    callback(err);
  }
}

/** Starts multiplexing on `socket` (already past TLS and ALPN) and sends our HELLO. */
export function startMuxSession(socket: TLSSocket, options: MuxSessionOptions, firstId: 1 | 2): MuxSession {
  const s: SessionState = {
    socket,
    options,
    streams: new Map(),
    nextId: firstId,
    established: false,
    closed: false,
    peerInstance: '',
    goAway: undefined,
    corked: false,
    lastData: undefined,
    pings: [],
    header: Buffer.alloc(HEADER),
    headerHave: 0,
    type: 0,
    id: 0,
    remaining: -1,
    control: [],
  };
  socket.on('data', (chunk: Buffer) => {
    try {
      onSocketData(s, chunk);
    } catch {
      // A peer that breaks the framing is not worth a diagnosis: the connection goes, the agent reconnects.
      closeSession(s);
    }
  });
  socket.once('close', () => closeSession(s));
  socket.once('end', () => closeSession(s));
  const instance = Buffer.from(options.instance ?? '', 'latin1');
  const hello = Buffer.alloc(MAGIC.length + 4 + instance.length);
  MAGIC.copy(hello);
  hello.writeUInt32BE(1, MAGIC.length);
  instance.copy(hello, MAGIC.length + 4);
  sendFrame(s, FRAME.hello, 0, hello);
  return {
    socket,
    get established() {
      return s.established;
    },
    get closed() {
      return s.closed;
    },
    get destroyed() {
      return s.closed;
    },
    get goingAway() {
      return s.goAway !== undefined;
    },
    get peerInstance() {
      return s.peerInstance;
    },
    get streamCount() {
      return s.streams.size;
    },
    goAway() {
      if (s.closed || s.goAway === 'sent') return;
      s.goAway = 'sent';
      sendFrame(s, FRAME.goaway, 0);
      finishGoAway(s);
    },
    open(meta) {
      const id = s.nextId;
      s.nextId += 2;
      const stream = new MuxStream(s, id, false);
      s.streams.set(id, stream);
      sendFrame(s, FRAME.open, id, Buffer.from(meta, 'latin1'));
      return stream;
    },
    ping(onPong) {
      s.pings.push(onPong);
      sendFrame(s, FRAME.ping, 0, Buffer.alloc(8));
    },
    destroy: () => closeSession(s),
  };
}

/** After GOAWAY was sent and the last stream ended: our frames leave, our end goes, then the connection closes. */
function finishGoAway(s: SessionState): void {
  if (s.goAway !== 'sent' || s.streams.size > 0 || s.closed) return;
  // After the tick's corked frames are written (see sendFrame).
  setImmediate(() => {
    if (s.closed) return;
    s.socket.end();
    setTimeout(() => closeSession(s), GOAWAY_CLOSE_MS).unref();
  });
}

function closeSession(s: SessionState): void {
  if (s.closed) return;
  s.closed = true;
  s.socket.destroy();
  // As HTTP/2 did: streams of a closed tunnel end without an error of their own (their readers see a premature close).
  for (const stream of s.streams.values()) stream.destroy();
  s.streams.clear();
  s.options.onClose();
}

// --- writing ---

/** Writes one frame; frames written in the same tick leave together (one socket write, one TLS record). */
function sendFrame(s: SessionState, type: number, id: number, payload?: Buffer): void {
  if (s.closed) return;
  const length = payload?.length ?? 0;
  if (!s.corked) {
    s.corked = true;
    s.socket.cork();
    process.nextTick(uncork, s);
  }
  const last = s.lastData;
  if (type === FRAME.data && last !== undefined && last.id === id) {
    last.length += length;
    last.header.writeUInt32BE(last.length, 5);
    s.socket.write(payload!);
    return;
  }
  let header: Buffer;
  if (length <= COPY_BELOW) {
    header = Buffer.allocUnsafe(HEADER + length);
    writeHeader(header, type, id, length);
    if (payload !== undefined) payload.copy(header, HEADER);
    s.socket.write(header);
  } else {
    header = Buffer.allocUnsafe(HEADER);
    writeHeader(header, type, id, length);
    s.socket.write(header);
    s.socket.write(payload!);
  }
  s.lastData = type === FRAME.data ? { id, header, length } : undefined;
}

function uncork(s: SessionState): void {
  s.corked = false;
  // The socket takes the tick's buffers now: a frame handed over may no longer change.
  s.lastData = undefined;
  s.socket.uncork();
}

function writeHeader(b: Buffer, type: number, id: number, length: number): void {
  b[0] = type;
  b.writeUInt32BE(id, 1);
  b.writeUInt32BE(length, 5);
}

/** Sends what the window allows of the pending write; its callback runs once all of it went out. */
function pumpStream(s: SessionState, stream: MuxStream): void {
  const pending = stream.pending;
  if (pending === undefined || s.closed) return;
  stream.accept();
  let { chunk } = pending;
  while (chunk.length > 0 && stream.sendWindow > 0) {
    const n = Math.min(chunk.length, stream.sendWindow, MAX_DATA_SLICE);
    sendFrame(s, FRAME.data, stream.id, n === chunk.length ? chunk : chunk.subarray(0, n));
    stream.sendWindow -= n;
    chunk = chunk.subarray(n);
  }
  if (chunk.length > 0) {
    pending.chunk = chunk;
    return;
  }
  stream.pending = undefined;
  pending.callback();
}

function credit(s: SessionState, stream: MuxStream): void {
  const n = stream.uncredited;
  stream.uncredited = 0;
  stream.recvWindow += n;
  const payload = Buffer.allocUnsafe(4);
  payload.writeUInt32BE(n, 0);
  sendFrame(s, FRAME.window, stream.id, payload);
}

// --- reading ---

function onSocketData(s: SessionState, chunk: Buffer): void {
  let pos = 0;
  while (pos < chunk.length && !s.closed) {
    if (s.remaining < 0) {
      const n = Math.min(HEADER - s.headerHave, chunk.length - pos);
      chunk.copy(s.header, s.headerHave, pos, pos + n);
      s.headerHave += n;
      pos += n;
      if (s.headerHave < HEADER) return;
      s.headerHave = 0;
      s.type = s.header[0]!;
      s.id = s.header.readUInt32BE(1);
      s.remaining = s.header.readUInt32BE(5);
      if (s.type !== FRAME.data && s.remaining > MAX_CONTROL_PAYLOAD) throw new Error('control frame too large');
      if (s.type === FRAME.data) beginData(s);
      if (s.remaining === 0) endFrame(s);
      continue;
    }
    const n = Math.min(s.remaining, chunk.length - pos);
    const piece = chunk.subarray(pos, pos + n);
    pos += n;
    s.remaining -= n;
    if (s.type === FRAME.data) onDataPiece(s, piece);
    else s.control.push(piece);
    if (s.remaining === 0) endFrame(s);
  }
}

/** A DATA frame's header: the sender may not exceed the window we granted. */
function beginData(s: SessionState): void {
  const stream = s.streams.get(s.id);
  if (stream === undefined) return;
  if (s.remaining > stream.recvWindow) throw new Error('flow control window exceeded');
  stream.recvWindow -= s.remaining;
}

function onDataPiece(s: SessionState, piece: Buffer): void {
  const stream = s.streams.get(s.id);
  if (stream === undefined || stream.destroyed) return;
  stream.uncredited += piece.length;
  // Credit at once while the reader keeps up (in steps), else when it asks for more (_read).
  if (stream.push(piece) && stream.uncredited >= CREDIT_STEP) credit(s, stream);
}

function endFrame(s: SessionState): void {
  const { type, id } = s;
  s.remaining = -1;
  const payload = s.control.length === 0 ? undefined : s.control.length === 1 ? s.control[0]! : Buffer.concat(s.control);
  s.control = [];
  if (type === FRAME.data) return;
  if (type === FRAME.hello) return onHello(s, payload);
  if (type === FRAME.ping) return sendFrame(s, FRAME.pong, 0, payload);
  if (type === FRAME.pong) return void s.pings.shift()?.();
  if (type === FRAME.open) return onOpen(s, id, payload);
  if (type === FRAME.goaway) return void (s.goAway ??= 'received');
  onStreamFrame(s, type, id, payload);
}

function onHello(s: SessionState, payload: Buffer | undefined): void {
  if (payload === undefined || !payload.subarray(0, MAGIC.length).equals(MAGIC)) throw new Error('not a tunnel peer');
  if (s.established) return;
  s.established = true;
  s.peerInstance = payload.subarray(MAGIC.length + 4, MAGIC.length + 4 + 64).toString('latin1');
  s.options.onEstablished();
}

function onOpen(s: SessionState, id: number, payload: Buffer | undefined): void {
  if (s.options.onOpen === undefined || !s.established || s.streams.has(id)) throw new Error('unexpected OPEN');
  if (s.streams.size >= (s.options.maxStreams ?? Infinity)) {
    sendFrame(s, FRAME.reset, id);
    return;
  }
  const stream = new MuxStream(s, id, true);
  s.streams.set(id, stream);
  s.options.onOpen(stream, payload ?? Buffer.alloc(0));
}

function onStreamFrame(s: SessionState, type: number, id: number, payload: Buffer | undefined): void {
  const stream = s.streams.get(id);
  if (stream === undefined) return;
  switch (type) {
    case FRAME.accept:
      stream.accepted = true;
      stream.onAnswer?.(undefined);
      break;
    case FRAME.refuse:
      stream.onAnswer?.(payload ?? Buffer.alloc(0));
      s.streams.delete(id);
      stream.destroy();
      break;
    case FRAME.window:
      if (payload === undefined || payload.length !== 4) throw new Error('bad WINDOW');
      stream.sendWindow += payload.readUInt32BE(0);
      pumpStream(s, stream);
      break;
    case FRAME.fin:
      stream.gotFin = true;
      stream.push(null);
      break;
    case FRAME.reset:
      s.streams.delete(id);
      stream.destroy();
      break;
    default:
      throw new Error('unknown frame');
  }
}
