/**
 * Mutation arbitraries: a seed picked from the corpus and a short list of edits, in the style of libFuzzer's
 * mutators (bit flips, interesting integers over length fields, inserts, deletes, duplicated and spliced runs,
 * truncation). fast-check shrinks a failing case by dropping edits and moving their positions.
 */

import * as fc from 'fast-check';

/** Values that break length and count checks: zero, one, sign bits, all ones, PostgreSQL's and TLS's caps. */
const INTERESTING_32 = [0, 1, 4, 5, 8, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x4000, 0x3fffffff, 0x40000000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 0x1000000];
const INTERESTING_16 = [0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x4000, 0x4001, 0x7fff, 0x8000, 0xfffe, 0xffff];
const INTERESTING_8 = [0, 1, 0x7f, 0x80, 0x81, 0x82, 0x83, 0x84, 0xfe, 0xff];

type ByteEdit =
  | { k: 'flip'; at: number; bit: number }
  | { k: 'set'; at: number; v: number }
  | { k: 'u16'; at: number; v: number }
  | { k: 'u32'; at: number; v: number }
  | { k: 'insert'; at: number; bytes: Uint8Array }
  | { k: 'delete'; at: number; n: number }
  | { k: 'dup'; at: number; n: number; to: number }
  | { k: 'splice'; other: number; at: number; from: number; n: number }
  | { k: 'truncate'; at: number };

const at = fc.nat();
const byteEdit: fc.Arbitrary<ByteEdit> = fc.oneof(
  fc.record({ k: fc.constant('flip' as const), at, bit: fc.nat(7) }),
  fc.record({ k: fc.constant('set' as const), at, v: fc.oneof(fc.constantFrom(...INTERESTING_8), fc.nat(255)) }),
  fc.record({ k: fc.constant('u16' as const), at, v: fc.oneof(fc.constantFrom(...INTERESTING_16), fc.nat(0xffff)) }),
  fc.record({ k: fc.constant('u32' as const), at, v: fc.oneof(fc.constantFrom(...INTERESTING_32), fc.nat(0xffff), fc.nat(0xffffffff)) }),
  fc.record({ k: fc.constant('insert' as const), at, bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ k: fc.constant('delete' as const), at, n: fc.integer({ min: 1, max: 32 }) }),
  fc.record({ k: fc.constant('dup' as const), at, n: fc.integer({ min: 1, max: 64 }), to: at }),
  fc.record({ k: fc.constant('splice' as const), other: fc.nat(), at, from: at, n: fc.integer({ min: 1, max: 256 }) }),
  fc.record({ k: fc.constant('truncate' as const), at }),
);

function applyByteEdit(input: Buffer, edit: ByteEdit, seeds: readonly Uint8Array[]): Buffer {
  const len = input.length;
  const pos = len === 0 ? 0 : edit.at % (len + 1);
  const inside = len === 0 ? -1 : edit.at % len;
  switch (edit.k) {
    case 'flip':
      if (inside >= 0) input[inside]! ^= 1 << edit.bit;
      return input;
    case 'set':
      if (inside >= 0) input[inside] = edit.v;
      return input;
    case 'u16':
      if (len >= 2) input.writeUInt16BE(edit.v, edit.at % (len - 1));
      return input;
    case 'u32':
      if (len >= 4) input.writeUInt32BE(edit.v >>> 0, edit.at % (len - 3));
      return input;
    case 'insert':
      return Buffer.concat([input.subarray(0, pos), edit.bytes, input.subarray(pos)]);
    case 'delete':
      return Buffer.concat([input.subarray(0, pos), input.subarray(pos + edit.n)]);
    case 'dup': {
      const run = input.subarray(pos, pos + edit.n);
      const to = edit.to % (len + 1);
      return Buffer.concat([input.subarray(0, to), run, input.subarray(to)]);
    }
    case 'splice': {
      const other = seeds[edit.other % seeds.length]!;
      const from = other.length === 0 ? 0 : edit.from % other.length;
      return Buffer.concat([input.subarray(0, pos), other.subarray(from, from + edit.n), input.subarray(pos)]);
    }
    case 'truncate':
      return input.subarray(0, pos);
  }
}

/** A seed with 1 to `maxEdits` byte edits. */
export function mutatedBytes(seeds: readonly Uint8Array[], maxEdits = 6): fc.Arbitrary<Uint8Array> {
  return fc.tuple(fc.nat(seeds.length - 1), fc.array(byteEdit, { minLength: 1, maxLength: maxEdits })).map(([i, edits]) => {
    let out: Buffer = Buffer.from(seeds[i]!);
    for (const e of edits) out = applyByteEdit(out, e, seeds);
    return out;
  });
}

/** A few raw byte strings, for what no seed looks like. */
export const randomBytes = (maxLength = 64): fc.Arbitrary<Uint8Array> => fc.uint8Array({ maxLength });

type TextEdit =
  | { k: 'insert'; at: number; text: string }
  | { k: 'token'; at: number; token: number }
  | { k: 'delete'; at: number; n: number }
  | { k: 'dup'; at: number; n: number; to: number }
  | { k: 'replace'; at: number; n: number; token: number }
  | { k: 'truncate'; at: number };

function textEdit(tokenCount: number): fc.Arbitrary<TextEdit> {
  const token = fc.nat(tokenCount - 1);
  return fc.oneof(
    fc.record({ k: fc.constant('insert' as const), at, text: fc.string({ unit: 'binary', minLength: 1, maxLength: 8 }) }),
    fc.record({ k: fc.constant('token' as const), at, token }),
    fc.record({ k: fc.constant('delete' as const), at, n: fc.integer({ min: 1, max: 16 }) }),
    fc.record({ k: fc.constant('dup' as const), at, n: fc.integer({ min: 1, max: 64 }), to: at }),
    fc.record({ k: fc.constant('replace' as const), at, n: fc.integer({ min: 1, max: 8 }), token }),
    fc.record({ k: fc.constant('truncate' as const), at }),
  );
}

function applyTextEdit(input: string, edit: TextEdit, tokens: readonly string[]): string {
  const pos = edit.at % (input.length + 1);
  switch (edit.k) {
    case 'insert':
      return input.slice(0, pos) + edit.text + input.slice(pos);
    case 'token':
      return input.slice(0, pos) + tokens[edit.token]! + input.slice(pos);
    case 'delete':
      return input.slice(0, pos) + input.slice(pos + edit.n);
    case 'dup':
      return ((to) => input.slice(0, to) + input.slice(pos, pos + edit.n) + input.slice(to))(edit.to % (input.length + 1));
    case 'replace':
      return input.slice(0, pos) + tokens[edit.token]! + input.slice(pos + edit.n);
    case 'truncate':
      return input.slice(0, pos);
  }
}

/** A seed with 1 to `maxEdits` text edits; `tokens` is the target's dictionary (YAML indicators, JSON keys...). */
export function mutatedText(seeds: readonly string[], tokens: readonly string[], maxEdits = 6): fc.Arbitrary<string> {
  return fc.tuple(fc.nat(seeds.length - 1), fc.array(textEdit(tokens.length), { minLength: 1, maxLength: maxEdits })).map(([i, edits]) => {
    let out = seeds[i]!;
    for (const e of edits) out = applyTextEdit(out, e, tokens);
    return out;
  });
}
