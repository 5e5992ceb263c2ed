/** The SFTP audit's reader (`daemon/roles/ssh/server/sftp-audit.ts`): what a client sends in an sftp subsystem. */

import * as fc from 'fast-check';
import { newSftpAuditor, type SftpFileEvent } from '../../packages/daemon/src/roles/ssh/server/sftp-audit.js';
import type { Target } from '../harness.js';
import { mutatedBytes, randomBytes } from '../mutate.js';

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};
const str = (s: string): Buffer => Buffer.concat([u32(Buffer.byteLength(s)), Buffer.from(s)]);
const packet = (type: number, ...fields: Buffer[]): Buffer => {
  const body = Buffer.concat(fields);
  return Buffer.concat([u32(body.length + 1), Buffer.from([type]), body]);
};

/** A session as OpenSSH's sftp sends it: init, open, a write, rename (both forms), mkdir, remove, symlink. */
function seedStreams(): Buffer[] {
  const attrs = u32(0);
  return [
    Buffer.concat([
      packet(1, u32(3)),
      packet(3, u32(1), str('/tmp/a.bin'), u32(0x1a), attrs),
      packet(6, u32(2), str('handle-1'), Buffer.alloc(8), str('data'.repeat(100))),
      packet(200, u32(3), str('posix-rename@openssh.com'), str('/tmp/a.bin'), str('/tmp/b.bin')),
      packet(18, u32(4), str('/tmp/b.bin'), str('/tmp/c.bin')),
    ]),
    Buffer.concat([packet(14, u32(5), str('/tmp/d'), attrs), packet(15, u32(6), str('/tmp/d')), packet(13, u32(7), str('/tmp/c.bin')), packet(20, u32(8), str('/tmp/l'), str('/tmp/t'))]),
  ];
}

/** Replies to ids 0..15: a handle for even ids, a failure status for odd ones. */
function replies(): Buffer {
  const out: Buffer[] = [];
  for (let id = 0; id < 16; id++) out.push(id % 2 === 0 ? packet(102, u32(id), str('h')) : packet(101, u32(id), u32(2), str('No such file'), str('')));
  return Buffer.concat(out);
}

/** Feeds the stream in uneven chunks (as TCP delivers it) and the replies after it. */
export const sftpAudit: Target<'bytes', SftpFileEvent[]> = {
  name: 'sftp-audit',
  description: 'SFTP client packets and server replies as the SFTP audit reads them from a subsystem channel',
  kind: 'bytes',
  seeds: () => seedStreams(),
  arbitrary: (seeds) => fc.oneof({ weight: 8, arbitrary: mutatedBytes(seeds) }, { weight: 1, arbitrary: randomBytes(64) }),
  parse(input) {
    const events: SftpFileEvent[] = [];
    const auditor = newSftpAuditor((_name, event) => events.push(event));
    for (let off = 0, step = 1; off < input.length; off += step, step = (step * 7) % 13 + 1) auditor.fromClient(Buffer.from(input.subarray(off, off + step)));
    auditor.fromServer(replies());
    return events;
  },
  check(events) {
    for (const e of events) {
      if (typeof e.path !== 'string' || e.path.length > 4099) throw new Error('an SFTP event path is not a bounded string');
      if (e.target_path !== undefined && e.target_path.length > 4099) throw new Error('an SFTP event target path is too long');
    }
  },
};
