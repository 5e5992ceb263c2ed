/**
 * Output of a command run on several nodes: every line is prefixed with `[<node hostname>] `, as Teleport's tsh does,
 * and written whole, so lines of different nodes do not interleave within a line. A line longer than the cap is cut
 * into several.
 */

import { Writable } from 'node:stream';

/** Teleport's cap on a labeled line, prefix included. */
const MAX_LINE_LENGTH = 1024;

/** A stream that writes `[label] <line>\n` to `out` for each line it receives; `end()` flushes a partial line. */
export function lineLabeledWriter(out: NodeJS.WritableStream, label: string, maxLineLength = MAX_LINE_LENGTH): Writable {
  const prefix = Buffer.from(`[${label}] `);
  const room = Math.max(1, maxLineLength - prefix.length);
  let pending = Buffer.alloc(0);
  const emit = (line: Buffer): void => {
    out.write(Buffer.concat([prefix, line, Buffer.from('\n')]));
  };
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      pending = Buffer.concat([pending, chunk]);
      let nl: number;
      while ((nl = pending.indexOf(0x0a)) >= 0 || pending.length >= room) {
        const end = nl >= 0 && nl < room ? nl : room;
        emit(pending.subarray(0, end));
        pending = pending.subarray(end === nl ? end + 1 : end);
      }
      callback();
    },
    final(callback) {
      if (pending.length > 0) emit(pending);
      pending = Buffer.alloc(0);
      callback();
    },
  });
}
