import { CST, Lexer } from 'yaml';

/**
 * Deepest YAML nesting accepted: flow collections open plus, on each line, the indentation and the block indicators
 * (`- `, `? `, `: `) before its first value. Resources and teleport.yaml stay under 20. The `yaml` library composes
 * recursively: near 800 levels it overflows the stack, and a second overflow in the same process can abort it
 * (V8 "RegExpCompiler Allocation failed"), so deeper input is refused before it is composed.
 */
export const MAX_YAML_NESTING = 128;

/**
 * The 1-based line where `text` nests deeper than {@link MAX_YAML_NESTING}, or `undefined`. Reads tokens with the
 * library's lexer, which is iterative, so quoted and block scalars do not count.
 */
export function yamlTooDeepAt(text: string): number | undefined {
  let flow = 0;
  let block = 0;
  let line = 1;
  let lineStart = true;
  for (const token of new Lexer().lex(text)) {
    switch (CST.tokenType(token)) {
      case 'newline':
        line++;
        block = 0;
        lineStart = true;
        continue;
      case 'space':
        if (lineStart) block += token.length;
        continue;
      case 'seq-item-ind':
      case 'explicit-key-ind':
      case 'map-value-ind':
        // Compact nesting (`- - - x`) keeps counting until the line's first value.
        if (lineStart) block++;
        break;
      case 'flow-seq-start':
      case 'flow-map-start':
        flow++;
        lineStart = false;
        break;
      case 'flow-seq-end':
      case 'flow-map-end':
        flow = Math.max(0, flow - 1);
        lineStart = false;
        break;
      case 'scalar':
      case 'single-quoted-scalar':
      case 'double-quoted-scalar':
      case 'block-scalar-header':
      case 'comma':
        lineStart = false;
        break;
      default: // document markers, anchors, tags, comments: neither nesting nor a value
        break;
    }
    if (flow + block > MAX_YAML_NESTING) return line;
  }
  return undefined;
}
