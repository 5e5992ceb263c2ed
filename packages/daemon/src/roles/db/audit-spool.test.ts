import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { newAuditEvent } from '@teleport-ts/core/audit';
import { openAuditSpool } from './audit-spool.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function spoolFile(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tp-spool-'));
  dirs.push(dir);
  return path.join(dir, 'db.jsonl');
}

const event = (query: string) => newAuditEvent('databaseSessionQuery', { user: 'alice', db_query: query, success: true });
const lines = (file: string): string[] => readFileSync(file, 'utf8').split('\n').filter(Boolean);

describe('audit spool', () => {
  it('writes the events of one event-loop turn together, before the next turn', async () => {
    const file = spoolFile();
    const spool = openAuditSpool(file);
    spool.append(event('select 1'));
    spool.append(event('select 2'));
    expect(lines(file)).toHaveLength(0);
    await new Promise((r) => setImmediate(r));
    expect(lines(file).map((l) => JSON.parse(l).db_query)).toEqual(['select 1', 'select 2']);
    spool.close();
  });

  it('settle() writes at once, and a new process finds what was written', () => {
    const file = spoolFile();
    const spool = openAuditSpool(file);
    spool.append(event('select 3'));
    spool.settle();
    expect(lines(file)).toHaveLength(1);
    // As after a kill -9: the file is read back by the next start.
    expect(openAuditSpool(file).pending.map((e) => e['db_query'])).toEqual(['select 3']);
    spool.close();
  });

  it('emptied() drops lines not yet written (their events are stored) and empties the file', async () => {
    const file = spoolFile();
    const spool = openAuditSpool(file);
    spool.append(event('select 4'));
    spool.settle();
    spool.append(event('select 5'));
    spool.emptied();
    await new Promise((r) => setImmediate(r));
    expect(lines(file)).toHaveLength(0);
    spool.close();
  });
});
