import { Composer, CST, Lexer, LineCounter, Parser, type Document, type DocumentOptions, type ParseOptions, type SchemaOptions } from 'yaml';

/**
 * Deepest YAML nesting accepted: flow collections open plus, on each line, the indentation and the block indicators
 * (`- `, `? `, `: `) before its first value. Resources and teleport.yaml stay under 20. The `yaml` library composes
 * recursively: near 800 levels it overflows the stack, and a second overflow in the same process can abort it
 * (V8 "RegExpCompiler Allocation failed"), so deeper input is refused before it is composed.
 */
export const MAX_YAML_NESTING = 128;

/** Counts the nesting of a token stream from the library's lexer, which is iterative (quoted and block scalars do not count). */
class NestingCounter {
  private flow = 0;
  private block = 0;
  private lineStart = true;
  /** The 1-based line of the last token read. */
  line = 1;

  /** Reads one token; true when the nesting is now deeper than {@link MAX_YAML_NESTING}. */
  tooDeepAfter(token: string): boolean {
    switch (CST.tokenType(token)) {
      case 'newline':
        this.line++;
        this.block = 0;
        this.lineStart = true;
        return false;
      case 'space':
        if (this.lineStart) this.block += token.length;
        return false;
      case 'seq-item-ind':
      case 'explicit-key-ind':
      case 'map-value-ind':
        // Compact nesting (`- - - x`) keeps counting until the line's first value.
        if (this.lineStart) this.block++;
        break;
      case 'flow-seq-start':
      case 'flow-map-start':
        this.flow++;
        this.lineStart = false;
        break;
      case 'flow-seq-end':
      case 'flow-map-end':
        this.flow = Math.max(0, this.flow - 1);
        this.lineStart = false;
        break;
      case 'scalar':
      case 'single-quoted-scalar':
      case 'double-quoted-scalar':
      case 'block-scalar-header':
      case 'comma':
        this.lineStart = false;
        break;
      default: // document markers, anchors, tags, comments: neither nesting nor a value
        break;
    }
    return this.flow + this.block > MAX_YAML_NESTING;
  }
}

/** The 1-based line where `text` nests deeper than {@link MAX_YAML_NESTING}, or `undefined`. */
export function yamlTooDeepAt(text: string): number | undefined {
  const counter = new NestingCounter();
  for (const token of new Lexer().lex(text)) if (counter.tooDeepAfter(token)) return counter.line;
  return undefined;
}

/** Options of {@link parseAllDocumentsWithinDepth}: the library's, but the line counter is its own. */
type ShallowParseOptions = Omit<ParseOptions, 'lineCounter'> & DocumentOptions & SchemaOptions;

/** What {@link parseAllDocumentsWithinDepth} returns. */
type ShallowParse = { tooDeepAt: number } | { docs: Document.Parsed[]; lines: LineCounter };

/**
 * The library's `parseAllDocuments`, lexing once: each token from the lexer is counted by the depth check, then given to
 * the library's parser (iterative: it builds the syntax tree with a stack); the composer, which recurses, runs only
 * once every token has passed. Returns the 1-based line where `text` nests too deep, or the documents (none for an
 * empty stream) with the line positions. The documents' errors are not prettified (no " at line …" added to every
 * message): ask `lines.linePos(error.pos[0])` for the one reported.
 */
export function parseAllDocumentsWithinDepth(text: string, options: ShallowParseOptions = {}): ShallowParse {
  const counter = new NestingCounter();
  const lines = new LineCounter();
  const parser = new Parser(lines.addNewLine);
  lines.addNewLine(0); // as Parser.parse does for a fresh parser
  const cst: CST.Token[] = [];
  for (const token of new Lexer().lex(text)) {
    if (counter.tooDeepAfter(token)) return { tooDeepAt: counter.line };
    for (const node of parser.next(token)) cst.push(node);
  }
  for (const node of parser.end()) cst.push(node);
  const docs = Array.from(new Composer(options).compose(cst));
  return { docs, lines };
}
