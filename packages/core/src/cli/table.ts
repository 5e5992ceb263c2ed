import type { RenderedOutput } from './command.js';

/**
 * Teleport's `lib/asciitable`, which prints through Go's `text/tabwriter` (minwidth 5, padding 1, spaces): every
 * cell, the last one included, is padded to its column's width, so lines carry trailing spaces exactly as
 * `tctl` and `tsh` print them. Tables with headers get a dashed separator as wide as the widest cell.
 *
 * Unlike tabwriter, a cell is made safe for one terminal line first: newlines, control and bidirectional
 * characters are escaped (`\n`, `\u001b`, `\u202e`) and a cell wider than {@link MAX_CELL_WIDTH} runes is cut
 * with `…` (the full text stays in `--format json`). Rows are then produced one line at a time
 * ({@link asciiTableLines}), so a table of thousands of rows with a megabyte-long cell is never one string.
 * Shared by both CLIs; it imports nothing, so `tsh` can load it without slowing its start-up.
 */

/** Go's tabwriter settings as asciitable uses them. */
const MIN_WIDTH = 5;
const PADDING = 1;

/** The widest a cell is printed, in runes; longer cells end with `…`. */
export const MAX_CELL_WIDTH = 120;

const ELLIPSIS = '…';

/** A surrogate: text without one has as many runes as UTF-16 code units. */
const SURROGATE = /[\ud800-\udfff]/;

/** Width as tabwriter counts it: runes, not UTF-16 code units. */
function width(text: string): number {
  return SURROGATE.test(text) ? [...text].length : text.length;
}

const NAMED_ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** C0 and C1 controls, DEL, and the bidirectional embeddings, overrides and isolates (which reorder the line). */
function needsEscape(code: number): boolean {
  return code < 0x20 || (code >= 0x7f && code <= 0x9f) || (code >= 0x202a && code <= 0x202e) || (code >= 0x2066 && code <= 0x2069);
}

/** What {@link needsEscape} matches, for a whole string at once. */
const NEEDS_ESCAPE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

function escapeRune(rune: string): string {
  const named = NAMED_ESCAPES[rune];
  if (named !== undefined) return named;
  return `\\u${rune.codePointAt(0)!.toString(16).padStart(4, '0')}`;
}

/**
 * A cell as one line of at most `max` runes: escapes what would break or reorder the line, then cuts with `…`. Reads only as much of `text` as it prints, so a megabyte-long cell costs no more than a short one.
 *
 * @example
 * ```ts
 * tableCell('select 1;\nselect 2;') // 'select 1;\\nselect 2;'
 * tableCell('x'.repeat(500), 10)     // 'xxxxxxxxx…'
 * ```
 */
export function tableCell(text: string, max: number = MAX_CELL_WIDTH): string {
  // Most cells need nothing done (a table of 5,000 nodes: `pnpm bench listing`).
  if (text.length <= max && !NEEDS_ESCAPE.test(text)) return text;
  const pieces: string[] = [];
  let runes = 0;
  const iterator = text[Symbol.iterator]();
  for (let next = iterator.next(); !next.done; next = iterator.next()) {
    const rune = next.value;
    const code = rune.codePointAt(0)!;
    const piece = needsEscape(code) ? escapeRune(rune) : rune;
    const pieceRunes = code > 0xffff ? 1 : piece.length;
    if (runes + pieceRunes > max) return cut(pieces, runes, max);
    pieces.push(piece);
    runes += pieceRunes;
  }
  return pieces.join('');
}

/** Drops whole pieces (an escape is never split) until `…` fits in `max` runes. */
function cut(pieces: string[], runes: number, max: number): string {
  let kept = runes;
  while (pieces.length > 0 && kept + 1 > max) kept -= width(pieces.pop()!);
  return pieces.join('') + ELLIPSIS;
}

/** One table line: every cell padded to its column's width, the last included. */
function line(cells: readonly string[], cellWidths: readonly number[], widths: readonly number[]): string {
  let out = '';
  for (let i = 0; i < widths.length; i++) out += (cells[i] ?? '') + ' '.repeat(widths[i]! - (cellWidths[i] ?? 0));
  return `${out}\n`;
}

/** Cells made safe and capped, `columns` per row (missing cells are empty), with their widths. */
interface SafeRow {
  cells: string[];
  widths: number[];
}

function safeRows(rows: Iterable<readonly string[]>, columns: number, max: number): SafeRow[] {
  const out: SafeRow[] = [];
  for (const row of rows) {
    const cells = new Array<string>(columns);
    const widths = new Array<number>(columns);
    for (let i = 0; i < columns; i++) {
      cells[i] = tableCell(row[i] ?? '', max);
      widths[i] = width(cells[i]!);
    }
    out.push({ cells, widths });
  }
  return out;
}

/** Each column's widest cell. */
function widestCells(rows: readonly SafeRow[], columns: number): number[] {
  const widest = new Array<number>(columns).fill(0);
  for (const row of rows) for (let i = 0; i < columns; i++) widest[i] = Math.max(widest[i]!, row.widths[i]!);
  return widest;
}

/** Column widths as tabwriter sets them: the widest cell plus padding, at least {@link MIN_WIDTH}. */
const columnWidths = (widest: readonly number[]): number[] => widest.map((w) => Math.max(MIN_WIDTH, w + PADDING));

export interface TableOptions {
  /** The widest a cell is printed, in runes ({@link MAX_CELL_WIDTH} by default). */
  maxCellWidth?: number;
}

/**
 * The lines of {@link asciiTable}, one string per line, produced as they are consumed: the CLIs write them as
 * they come, so the output is never held whole. Column widths come from the capped cells.
 *
 * @example
 * ```ts
 * for (const text of asciiTableLines(['User', 'Roles'], rows)) process.stdout.write(text);
 * ```
 */
export function* asciiTableLines(headers: readonly string[], rows: Iterable<readonly string[]>, options: TableOptions = {}): Generator<string> {
  const columns = headers.length;
  const max = options.maxCellWidth ?? MAX_CELL_WIDTH;
  const head = safeRows([headers], columns, max)[0]!;
  const body = safeRows(rows, columns, max);
  const widest = widestCells([head, ...body], columns);
  const separator = widest.map((w) => '-'.repeat(w));
  const widths = columnWidths(widest);
  yield line(head.cells, head.widths, widths);
  yield line(separator, widest, widths);
  for (const row of body) yield line(row.cells, row.widths, widths);
}

/**
 * A table with a header row and a dashed separator (`asciitable.MakeTable(headers, rows...).AsBuffer()`), as
 * one string: for short tables. Long ones go through {@link asciiTableLines}.
 *
 * @example
 * ```ts
 * asciiTable(['User', 'Roles'], [['alice', 'access']]);
 * // 'User  Roles  \n----- ------ \nalice access \n'
 * ```
 */
export function asciiTable(headers: readonly string[], rows: Iterable<readonly string[]>, options: TableOptions = {}): string {
  return [...asciiTableLines(headers, rows, options)].join('');
}

/** A table without headers (`asciitable.MakeHeadlessTable(n)`), used for key/value blocks. */
export function headlessTable(rows: readonly (readonly string[])[], columns = rows[0]?.length ?? 0, options: TableOptions = {}): string {
  const body = safeRows(rows, columns, options.maxCellWidth ?? MAX_CELL_WIDTH);
  const widths = columnWidths(widestCells(body, columns));
  return body.map((row) => line(row.cells, row.widths, widths)).join('');
}

/** Output is written in chunks of about this size: few writes, never the whole output in one string. */
const CHUNK_CHARS = 64 * 1024;

/**
 * Writes a renderer's output: a string or bytes at once, lines gathered into chunks of about 64 KiB.
 *
 * @example
 * ```ts
 * writeRendered(asciiTableLines(headers, rows), (chunk) => process.stdout.write(chunk));
 * ```
 */
export function writeRendered(output: RenderedOutput, write: (chunk: string | Uint8Array) => void): void {
  if (typeof output === 'string' || output instanceof Uint8Array) {
    if (output.length > 0) write(output);
    return;
  }
  let pending: string[] = [];
  let size = 0;
  for (const text of output) {
    pending.push(text);
    size += text.length;
    if (size >= CHUNK_CHARS) {
      write(pending.join(''));
      pending = [];
      size = 0;
    }
  }
  if (size > 0) write(pending.join(''));
}
