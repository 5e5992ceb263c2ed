/**
 * Teleport's `lib/asciitable`, which prints through Go's `text/tabwriter` (minwidth 5, padding 1, spaces): every
 * cell, the last one included, is padded to its column's width, so lines carry trailing spaces exactly as
 * `tctl` and `tsh` print them. Tables with headers get a dashed separator as wide as the widest cell.
 * Shared by both CLIs; it imports nothing, so `tsh` can load it without slowing its start-up.
 */

/** Go's tabwriter settings as asciitable uses them. */
const MIN_WIDTH = 5;
const PADDING = 1;

/** Width as tabwriter counts it: runes, not UTF-16 code units. */
function width(text: string): number {
  return [...text].length;
}

function render(lines: readonly (readonly string[])[], columns: number): string {
  const widths = new Array<number>(columns).fill(MIN_WIDTH);
  for (const line of lines) {
    for (let i = 0; i < columns; i++) widths[i] = Math.max(widths[i]!, width(line[i] ?? '') + PADDING);
  }
  return lines
    .map((line) => {
      let out = '';
      for (let i = 0; i < columns; i++) {
        const cell = line[i] ?? '';
        out += cell + ' '.repeat(widths[i]! - width(cell));
      }
      return `${out}\n`;
    })
    .join('');
}

/**
 * A table with a header row and a dashed separator (`asciitable.MakeTable(headers, rows...).AsBuffer()`).
 *
 * @example
 * ```ts
 * asciiTable(['User', 'Roles'], [['alice', 'access']]);
 * // 'User  Roles  \n----- ------ \nalice access \n'
 * ```
 */
export function asciiTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const columns = headers.length;
  const cellWidths = headers.map((h) => width(h));
  for (const row of rows) {
    for (let i = 0; i < columns; i++) cellWidths[i] = Math.max(cellWidths[i]!, width(row[i] ?? ''));
  }
  const separator = cellWidths.map((w) => '-'.repeat(w));
  return render([headers, separator, ...rows.map((r) => r.slice(0, columns))], columns);
}

/** A table without headers (`asciitable.MakeHeadlessTable(n)`), used for key/value blocks. */
export function headlessTable(rows: readonly (readonly string[])[], columns = rows[0]?.length ?? 0): string {
  return render(rows.map((r) => r.slice(0, columns)), columns);
}
