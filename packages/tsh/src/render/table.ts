/**
 * Teleport's `lib/asciitable` as it prints through Go's `text/tabwriter` (minwidth 5, padding 1, spaces): every cell,
 * the last one included, is padded to its column's width, so lines carry trailing spaces exactly as `tsh` prints
 * them; a dashed separator as wide as the widest cell follows the header. (tctl has the same renderer; the CLIs do
 * not import each other.)
 */

const MIN_WIDTH = 5;
const PADDING = 1;

/** Width as tabwriter counts it: runes, not UTF-16 code units. */
function width(text: string): number {
  return [...text].length;
}

/**
 * @example
 * ```ts
 * asciiTable(['Name', 'Labels'], [['roach', 'env=dev']]);
 * // 'Name  Labels  \n----- ------- \nroach env=dev \n'
 * ```
 */
export function asciiTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const columns = headers.length;
  const cellWidths = headers.map((h) => width(h));
  for (const row of rows) {
    for (let i = 0; i < columns; i++) cellWidths[i] = Math.max(cellWidths[i]!, width(row[i] ?? ''));
  }
  const lines = [headers, cellWidths.map((w) => '-'.repeat(w)), ...rows];
  const widths = cellWidths.map((w) => Math.max(MIN_WIDTH, w + PADDING));
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
