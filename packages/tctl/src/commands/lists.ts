/** Flag value helpers shared by the commands. */

/**
 * Teleport's `flattenSlice`: repeated flags and comma-separated values both work, so `--roles=a,b --roles=c`
 * gives `[a, b, c]`. Empty items are dropped.
 */
export function flattenList(values: readonly string[] | string | undefined): string[] {
  const list = values === undefined ? [] : typeof values === 'string' ? [values] : values;
  return list.flatMap((v) => v.split(',')).map((s) => s.trim()).filter((s) => s !== '');
}
