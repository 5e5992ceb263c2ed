import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { newPrompter } from './prompt.js';

describe('newPrompter without a terminal', () => {
  it('reads answers line by line, whatever the chunking', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    let shown = '';
    output.on('data', (c: Buffer) => (shown += c.toString()));
    const prompter = newPrompter(input, output);
    input.write('correct horse');
    const first = prompter.secret('Enter password for Teleport user alice:');
    input.write(' battery\r\n1234');
    expect(await first).toBe('correct horse battery');
    const second = prompter.secret('Enter an OTP code from a device:');
    input.end('56\n');
    expect(await second).toBe('123456');
    prompter.close();
    expect(shown).toBe('Enter password for Teleport user alice: \nEnter an OTP code from a device: \n');
  });

  it('takes a last line without a newline, and fails when stdin closes first', async () => {
    const input = new PassThrough();
    const prompter = newPrompter(input, new PassThrough());
    input.end('only-line');
    expect(await prompter.secret('a:')).toBe('only-line');
    await expect(prompter.secret('b:')).rejects.toThrow(/stdin closed/);
  });
});
