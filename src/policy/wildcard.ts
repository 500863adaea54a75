import { contextReader, type AuthorizationContext, type ContextReader } from './context.js';

/**
 * Policy strings: literal text, the wildcards `*` (any sequence of characters, `/` and `:`
 * included) and `?` (one character), and policy variables `${key}` (iot-policy-variables, IAM
 * reference_policies_variables). `${*}`, `${?}` and `${$}` stand for the literal characters. MQTT's
 * `+` and `#` are ordinary characters here.
 *
 * A variable's value is always literal: a client id containing `*` matches only itself, so a
 * device cannot widen a policy by choosing its own id.
 */

const STAR: unique symbol = Symbol('*');
const ONE: unique symbol = Symbol('?');

/** A pattern once its variables have values: literal runs and wildcards. */
type Piece = string | typeof STAR | typeof ONE;

interface VariableToken {
  key: string;
  read: ContextReader | undefined;
}

type Token = Piece | VariableToken;

const ESCAPES: Record<string, string> = { '*': '*', '?': '?', $: '$' };

export interface TemplateOptions {
  /** `*` and `?` are wildcards (Resource, Action, StringLike, ArnLike); otherwise literal. */
  wildcards: boolean;
  /** `${…}` is interpreted (policy language 2012-10-17); otherwise literal text. */
  variables: boolean;
  ignoreCase?: boolean;
}

function isVariable(token: Token): token is VariableToken {
  return typeof token === 'object';
}

/** Adds literal text, merged into the previous literal run. */
function pushLiteral(tokens: Token[], text: string): void {
  if (text.length === 0) return;
  const last = tokens[tokens.length - 1];
  if (typeof last === 'string') tokens[tokens.length - 1] = last + text;
  else tokens.push(text);
}

function tokenize(text: string, options: TemplateOptions): Token[] {
  const tokens: Token[] = [];
  let literal = '';
  const flush = () => {
    pushLiteral(tokens, options.ignoreCase ? literal.toLowerCase() : literal);
    literal = '';
  };
  for (let i = 0; i < text.length; i++) {
    const char = text[i] as string;
    if (options.variables && char === '$' && text[i + 1] === '{') {
      const end = text.indexOf('}', i + 2);
      if (end > 0) {
        const inner = text.slice(i + 2, end);
        const escaped = ESCAPES[inner];
        if (escaped !== undefined) literal += escaped;
        else {
          flush();
          tokens.push({ key: inner, read: contextReader(inner) });
        }
        i = end;
        continue;
      }
    }
    if (options.wildcards && (char === '*' || char === '?')) {
      flush();
      tokens.push(char === '*' ? STAR : ONE);
      continue;
    }
    literal += char;
  }
  flush();
  return tokens;
}

/**
 * Whether `text` matches the pieces as a whole. Greedy with backtracking to the last `*`: the
 * classic linear-space glob match, exact for any mix of literal runs, `*` and `?`.
 */
function globMatch(pieces: readonly Piece[], text: string): boolean {
  let p = 0;
  let t = 0;
  let resumePiece = -1;
  let resumeText = 0;
  while (p < pieces.length || t < text.length) {
    if (p < pieces.length) {
      const piece = pieces[p] as Piece;
      if (piece === STAR) {
        p++;
        resumePiece = p;
        resumeText = t;
        continue;
      }
      if (piece === ONE) {
        if (t < text.length) {
          p++;
          t++;
          continue;
        }
      } else if (text.startsWith(piece, t)) {
        p++;
        t += piece.length;
        continue;
      }
    }
    // Let the last `*` absorb one more character and retry what follows it.
    if (resumePiece < 0 || resumeText >= text.length) return false;
    resumeText++;
    p = resumePiece;
    t = resumeText;
  }
  return true;
}

/** The fastest test for a pattern without variables. */
function fixedMatcher(pieces: readonly Piece[]): (text: string) => boolean {
  const [first, second] = pieces;
  if (pieces.length === 0) return (text) => text.length === 0;
  if (pieces.length === 1 && typeof first === 'string') return (text) => text === first;
  if (pieces.length === 1 && first === STAR) return () => true;
  if (pieces.length === 2 && typeof first === 'string' && second === STAR)
    return (text) => text.startsWith(first);
  if (pieces.length === 2 && first === STAR && typeof second === 'string')
    return (text) => text.endsWith(second);
  return (text) => globMatch(pieces, text);
}

/** A compiled policy string: matched against request values, or resolved to a literal. */
export class Template {
  readonly source: string;
  /** The variable keys the template reads, for TestAuthorization's missingContextValues. */
  readonly variables: readonly string[];
  private readonly tokens: readonly Token[];
  private readonly ignoreCase: boolean;
  private readonly fixed: ((text: string) => boolean) | undefined;
  private readonly scratch: Piece[];

  constructor(source: string, options: TemplateOptions) {
    this.source = source;
    this.ignoreCase = options.ignoreCase ?? false;
    this.tokens = tokenize(source, options);
    this.scratch = new Array<Piece>(this.tokens.length);
    this.variables = this.tokens.filter(isVariable).map((token) => token.key);
    this.fixed =
      this.variables.length === 0 ? fixedMatcher(this.tokens as readonly Piece[]) : undefined;
  }

  /**
   * The pieces with every variable's value, or undefined when one has none. Written into one
   * array per template and reused: evaluation is synchronous, so no two calls overlap.
   */
  private resolvePieces(context: AuthorizationContext): Piece[] | undefined {
    const pieces = this.scratch;
    for (let i = 0; i < this.tokens.length; i++) {
      const token = this.tokens[i] as Token;
      if (!isVariable(token)) {
        pieces[i] = token;
        continue;
      }
      const value = token.read?.(context);
      // A multivalued key cannot be a policy variable (IAM): it stays unresolved.
      if (typeof value !== 'string') return undefined;
      pieces[i] = this.ignoreCase ? value.toLowerCase() : value;
    }
    return pieces;
  }

  /** True or false; undefined when a variable has no value (the caller decides what that means). */
  matches(text: string, context: AuthorizationContext): boolean | undefined {
    const subject = this.ignoreCase ? text.toLowerCase() : text;
    if (this.fixed) return this.fixed(subject);
    const pieces = this.resolvePieces(context);
    return pieces === undefined ? undefined : globMatch(pieces, subject);
  }

  /** The literal text with variables substituted (templates without wildcards). */
  resolve(context: AuthorizationContext): string | undefined {
    const pieces = this.resolvePieces(context);
    if (pieces === undefined) return undefined;
    return pieces.map((piece) => (typeof piece === 'string' ? piece : '')).join('');
  }
}
