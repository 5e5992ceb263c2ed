/**
 * Reading secrets from the user. On a terminal the input is hidden (raw mode, no echo); otherwise lines are read
 * from stdin, so scripts and tests can pipe the password and then the code.
 */

import type { Readable, Writable } from 'node:stream';
import { BadParameterError } from '@teleport-ts/core/errors';

/** Longest line read from a pipe (a password is at most 1 KiB). */
const MAX_LINE = 4096;

export interface Prompter {
  /** Writes `question` to stderr and reads one answer, hidden on a terminal. */
  secret(question: string): Promise<string>;
  close(): void;
}

interface TtyReadable extends Readable {
  isTTY?: boolean;
  setRawMode?(mode: boolean): unknown;
}

/**
 * @example
 * ```ts
 * const prompter = newPrompter();
 * const password = await prompter.secret('Enter password for Teleport user alice:');
 * ```
 */
export function newPrompter(input: TtyReadable = process.stdin, output: Writable = process.stderr): Prompter {
  if (input.isTTY === true && typeof input.setRawMode === 'function') return ttyPrompter(input, output);
  return linePrompter(input, output);
}

function linePrompter(input: Readable, output: Writable): Prompter {
  let buffer = '';
  let ended = false;
  const waiters: (() => void)[] = [];
  const wake = (): void => {
    for (const w of waiters.splice(0)) w();
  };
  input.setEncoding('utf8');
  const onData = (chunk: string): void => {
    buffer += chunk;
    if (buffer.length > MAX_LINE * 4) input.pause();
    wake();
  };
  const onEnd = (): void => {
    ended = true;
    wake();
  };
  input.on('data', onData);
  input.on('end', onEnd);
  return {
    async secret(question) {
      output.write(`${question} `);
      for (;;) {
        const i = buffer.indexOf('\n');
        if (i >= 0) {
          const line = buffer.slice(0, i).replace(/\r$/, '');
          buffer = buffer.slice(i + 1);
          input.resume();
          output.write('\n');
          return line;
        }
        if (buffer.length > MAX_LINE) throw new BadParameterError('input line is too long');
        if (ended) {
          const line = buffer;
          buffer = '';
          output.write('\n');
          if (line === '') throw new BadParameterError('no input: stdin closed before an answer was given');
          return line;
        }
        await new Promise<void>((r) => waiters.push(r));
      }
    },
    close() {
      input.off('data', onData);
      input.off('end', onEnd);
      input.pause();
    },
  };
}

function ttyPrompter(input: TtyReadable, output: Writable): Prompter {
  return {
    secret(question) {
      output.write(`${question} `);
      return new Promise<string>((resolve, reject) => {
        let value = '';
        input.setEncoding('utf8');
        input.setRawMode!(true);
        input.resume();
        const finish = (err?: Error): void => {
          input.off('data', onData);
          input.setRawMode!(false);
          input.pause();
          output.write('\n');
          if (err) reject(err);
          else resolve(value);
        };
        const onData = (chunk: string): void => {
          for (const ch of chunk) {
            if (ch === '\r' || ch === '\n') return finish();
            if (ch === '\u0003') return finish(new BadParameterError('interrupted'));
            if (ch === '\u0004') {
              if (value === '') return finish(new BadParameterError('no input'));
              return finish();
            }
            if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
            else if (ch === '\u0015') value = ''; // Ctrl-U
            else if (ch >= ' ' && value.length < MAX_LINE) value += ch;
          }
        };
        input.on('data', onData);
      });
    },
    close() {},
  };
}
