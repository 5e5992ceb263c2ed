/** What the soak records: every operation (kind, outcome, latency) and every fault (kind, target, time span). */

/** One operation a client ran. Times are milliseconds since the start of the run. */
export interface Op {
  kind: string;
  start: number;
  ms: number;
  ok: boolean;
  /** The error's text, one line, for failures. */
  error?: string;
  /** What the audit log must show for it: an event type and, when the operation has one, a unique text in the event. */
  audit?: { type: string; text?: string; code?: string };
  /** A write that must be read back at the end: `kind/name`. */
  write?: string;
}

/** One injected fault and how long it lasted (until everything it touched was back). */
export interface Fault {
  kind: 'kill-proxy' | 'stop-postgres' | 'kill-agent' | 'rotate-host-ca';
  target: string;
  start: number;
  end: number;
  /** What went wrong while injecting or undoing it (e.g. a restart that failed). */
  error?: string;
}

export interface Recorder {
  readonly t0: number;
  ops: Op[];
  faults: Fault[];
  now(): number;
  /** Runs `fn`, recording its outcome; `fn` returns the op's extras or throws for a failure. */
  time(kind: string, fn: () => Promise<Partial<Op> | void>): Promise<boolean>;
}

/** The first meaningful line of an error output: `ERROR: ...` if there is one, without ids, ports and times. */
export function errorLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const line = lines.find((l) => l.startsWith('ERROR:')) ?? lines.find((l) => /error|fatal|refused|timeout|killed/i.test(l)) ?? lines[0] ?? '(no output)';
  return line.slice(0, 300);
}

/** Groups like error texts: numbers, addresses and ids become placeholders. */
export function normalizeError(text: string): string {
  return text
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '<uuid>')
    .replace(/\b\d{1,3}(?:\.\d{1,3}){3}:\d+\b/g, '<addr>')
    .replace(/\b(?:soak|probe|ssh|q)-\d+\b/g, '<name>')
    .replace(/\b\d+(?:\.\d+)? ?ms\b/g, '<n> ms')
    .replace(/\b\d{2,}\b/g, '<n>');
}

export function newRecorder(): Recorder {
  const t0 = Date.now();
  const rec: Recorder = {
    t0,
    ops: [],
    faults: [],
    now: () => Date.now() - t0,
    async time(kind, fn) {
      const start = rec.now();
      const begun = performance.now();
      try {
        const extra = (await fn()) ?? {};
        rec.ops.push({ kind, start, ms: performance.now() - begun, ok: true, ...extra });
        return true;
      } catch (err) {
        rec.ops.push({ kind, start, ms: performance.now() - begun, ok: false, error: errorLine((err as Error).message) });
        return false;
      }
    },
  };
  return rec;
}
