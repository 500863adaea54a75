import type { ContextKeys, ContextReader } from './context-keys.js';

/**
 * Policy strings: literal text, the wildcards `*` (any sequence of characters, `/` and `:`
 * included) and `?` (one character), and policy variables `${key}` (iot-policy-variables, IAM
 * reference_policies_variables). `${*}`, `${?}` and `${$}` stand for the literal characters. MQTT's
 * `+` and `#` are ordinary characters here.
 *
 * ARNs (the Resource element, the Arn condition operators) are matched segment by segment, as
 * IAM does (reference_policies_elements_resource, "ARN condition operators"): a wildcard in one of
 * the first five colon-separated segments (`arn`, partition, service, region, account) does not
 * reach into the next one, while in the resource part (after the fifth colon) it matches anything,
 * colons included. A pattern with fewer segments that ends in `*` (`*`, `arn:aws:iot:*`) lets its
 * last segment cover the rest of the ARN.
 *
 * A variable's value is always literal: a client id containing `*` matches only itself, so a
 * device cannot widen a policy by choosing its own id.
 */

const STAR: unique symbol = Symbol('*');
const ONE: unique symbol = Symbol('?');
/** `*` and `?` confined to one ARN segment: they never match a colon. */
const SEGMENT_STAR: unique symbol = Symbol('segment *');
const SEGMENT_ONE: unique symbol = Symbol('segment ?');

/** A pattern once its variables have values: literal runs and wildcards. */
type Piece = string | typeof STAR | typeof ONE | typeof SEGMENT_STAR | typeof SEGMENT_ONE;

interface VariableToken<C> {
  key: string;
  read: ContextReader<C> | undefined;
}

type Token<C> = Piece | VariableToken<C>;

const ESCAPES: Record<string, string> = { '*': '*', '?': '?', $: '$' };
const COLON = 0x3a;
/** The colons before an ARN's resource part: `arn:partition:service:region:account:resource`. */
const ARN_SEGMENT_COLONS = 5;

export interface TemplateOptions<C> {
  /** `*` and `?` are wildcards (Resource, Action, StringLike, ArnLike); otherwise literal. */
  wildcards: boolean;
  /**
   * The keys `${…}` may name (policy language 2012-10-17); absent, `${…}` is literal text
   * (2008-10-17, or an element that takes no variables).
   */
  variables?: ContextKeys<C> | undefined;
  ignoreCase?: boolean;
  /** Wildcards stay within their ARN segment (the Resource element, Arn operators). */
  arnSegments?: boolean;
}

function isVariable<C>(token: Token<C>): token is VariableToken<C> {
  return typeof token === 'object';
}

/** Adds literal text, merged into the previous literal run. */
function pushLiteral<C>(tokens: Token<C>[], text: string): void {
  if (text.length === 0) return;
  const last = tokens[tokens.length - 1];
  if (typeof last === 'string') tokens[tokens.length - 1] = last + text;
  else tokens.push(text);
}

function tokenize<C>(text: string, options: TemplateOptions<C>): Token<C>[] {
  const tokens: Token<C>[] = [];
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
          tokens.push({ key: inner, read: options.variables(inner) });
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
  return options.arnSegments ? confineToSegments(tokens) : tokens;
}

function colonsIn(text: string): number {
  let count = 0;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === COLON) count++;
  return count;
}

/**
 * Marks the wildcards of the first five ARN segments as confined to their segment. Segments are
 * counted by the pattern's literal colons (a variable's value is taken to hold none).
 */
function confineToSegments<C>(tokens: Token<C>[]): Token<C>[] {
  const colons = tokens.reduce(
    (sum, token) => sum + (typeof token === 'string' ? colonsIn(token) : 0),
    0,
  );
  // `*`, `arn:aws:iot:*`: a short pattern ending in `*` lets its last segment cover the rest.
  const openEnded = colons < ARN_SEGMENT_COLONS && tokens[tokens.length - 1] === STAR;
  let segment = 0;
  return tokens.map((token) => {
    if (typeof token === 'string') segment += colonsIn(token);
    if ((token !== STAR && token !== ONE) || segment >= ARN_SEGMENT_COLONS) return token;
    if (openEnded && segment === colons) return token;
    return token === STAR ? SEGMENT_STAR : SEGMENT_ONE;
  });
}

/**
 * Whether `text` matches the pieces as a whole. Greedy with backtracking to the last `*`: the
 * classic linear-space glob match, exact for any mix of literal runs, `*` and `?`. A confined `*`
 * that would have to swallow a colon fails the match outright: every earlier `*` is confined too
 * (confined ones all precede free ones), to a segment whose end that colon or an earlier one fixes.
 */
function globMatch(pieces: readonly Piece[], text: string): boolean {
  let p = 0;
  let t = 0;
  let resumePiece = -1;
  let resumeText = 0;
  let resumeConfined = false;
  while (p < pieces.length || t < text.length) {
    if (p < pieces.length) {
      const piece = pieces[p] as Piece;
      if (piece === STAR || piece === SEGMENT_STAR) {
        p++;
        resumePiece = p;
        resumeText = t;
        resumeConfined = piece === SEGMENT_STAR;
        continue;
      }
      if (piece === ONE || piece === SEGMENT_ONE) {
        if (t < text.length && (piece === ONE || text.charCodeAt(t) !== COLON)) {
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
    if (resumeConfined && text.charCodeAt(resumeText) === COLON) return false;
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
export class Template<C> {
  readonly source: string;
  /** The variable keys the template reads, for missingContextValues. */
  readonly variables: readonly string[];
  /** The text itself when it has neither variables nor wildcards. */
  readonly constant: string | undefined;
  private readonly tokens: readonly Token<C>[];
  private readonly ignoreCase: boolean;
  private readonly fixed: ((text: string) => boolean) | undefined;
  private readonly scratch: Piece[];

  constructor(source: string, options: TemplateOptions<C>) {
    this.source = source;
    this.ignoreCase = options.ignoreCase ?? false;
    this.tokens = tokenize(source, options);
    this.scratch = new Array<Piece>(this.tokens.length);
    this.variables = this.tokens.filter(isVariable).map((token) => token.key);
    const literalOnly = this.tokens.every((token) => typeof token === 'string');
    this.constant = literalOnly ? this.tokens.join('') : undefined;
    this.fixed =
      this.variables.length === 0 ? fixedMatcher(this.tokens as readonly Piece[]) : undefined;
  }

  /**
   * The pieces with every variable's value, or undefined when one has none. Written into one
   * array per template and reused: evaluation is synchronous, so no two calls overlap.
   */
  private resolvePieces(context: C): Piece[] | undefined {
    const pieces = this.scratch;
    for (let i = 0; i < this.tokens.length; i++) {
      const token = this.tokens[i] as Token<C>;
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
  matches(text: string, context: C): boolean | undefined {
    const subject = this.ignoreCase ? text.toLowerCase() : text;
    if (this.fixed) return this.fixed(subject);
    const pieces = this.resolvePieces(context);
    return pieces === undefined ? undefined : globMatch(pieces, subject);
  }

  /** The literal text with variables substituted (templates without wildcards). */
  resolve(context: C): string | undefined {
    if (this.constant !== undefined) return this.constant;
    const pieces = this.resolvePieces(context);
    if (pieces === undefined) return undefined;
    return pieces.map((piece) => (typeof piece === 'string' ? piece : '')).join('');
  }
}
