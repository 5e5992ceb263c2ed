import type { Readable, Writable } from 'node:stream';

/**
 * Makes what `source` hands on to `dest` in one turn of the event loop leave as one write: `dest` is corked at the
 * turn's first chunk and uncorked once the turn's I/O callbacks have run (`setImmediate`), so the chunks of one
 * turn (for a relay: the TLS records one socket read delivered, or several reads) become one `writev`, which a TLS
 * socket encrypts into full records and writes with one system call.
 *
 * Call it after piping `source` to `dest` (it adds a `data` listener ahead of the pipe's).
 *
 * @example
 * ```ts
 * upstream.pipe(client);
 * coalesceWrites(upstream, client);
 * ```
 */
export function coalesceWrites(source: Readable, dest: Writable): void {
  let corked = false;
  const uncork = (): void => {
    corked = false;
    dest.uncork();
  };
  source.prependListener('data', () => {
    if (corked || dest.destroyed) return;
    corked = true;
    dest.cork();
    setImmediate(uncork);
  });
}
