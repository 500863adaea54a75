import type { CandidateContext } from '../detector.js';

/**
 * Keyword proximity inside a validator, for detectors whose keyword is needed only for some
 * forms (a national phone number, an undashed SSN): true when `keywords` matches the field name
 * or the `distance` characters before the candidate, both read as words. `keywords` must not be
 * global.
 */
export function keywordBefore(
  keywords: RegExp,
  distance: number,
  where: CandidateContext,
): boolean {
  if (where.field !== undefined && keywords.test(spacedWords(where.field))) return true;
  return keywords.test(
    spacedWords(where.text.slice(Math.max(0, where.start - distance), where.start)),
  );
}

/**
 * Identifiers split into words, so that `\bssn\b` finds `employee_ssn`, `employeeSsn` and
 * `EMPLOYEE-SSN` as it finds `SSN:`.
 */
function spacedWords(text: string): string {
  return text.replace(/([a-z])([A-Z])/g, '$1 $2').replace(/[_-]+/g, ' ');
}

/** Characters between a key and its value: quotes (JSON-escaped too), `:`, `=`, `=>`, spaces. */
const KEY_VALUE_SEPARATOR = /["'\\\s:=>]/;
const IDENTIFIER_CHAR = /[A-Za-z0-9_.-]/;
/** Longer identifiers before a value are taken for data, not for the value's key. */
const MAX_KEY_CHARS = 48;

/**
 * The name a value is assigned to: `secret` in `"secret": "…"`, `secret=…`, `secret: …` or
 * `--secret …`; the field name when the value opens the text. In prose it is the word before the
 * value (`my secret is …` gives `is`), so a value is tied to a keyword only when it follows it
 * directly. Undefined when no word and separator precede the value within `window` characters.
 */
export function governingKey(where: CandidateContext, window = 80): string | undefined {
  const { text, start } = where;
  const limit = Math.max(0, start - window);
  let index = start;
  while (index > limit && KEY_VALUE_SEPARATOR.test(text[index - 1] ?? '')) index -= 1;
  if (index === start) return start === 0 ? where.field : undefined;
  if (index === 0) return where.field;
  const end = index;
  while (index > limit && IDENTIFIER_CHAR.test(text[index - 1] ?? '')) index -= 1;
  // The tail of a base64 run (the line before, in a PEM body) names nothing: keys are short
  // and follow a quote, a blank or punctuation, not `+` or `/`.
  if (end - index > MAX_KEY_CHARS || /[+/]/.test(text[index - 1] ?? '')) return undefined;
  // `--token` and `.secret` name `token` and `secret`.
  while (index < end && (text[index] === '-' || text[index] === '.')) index += 1;
  if (index === end || !/[A-Za-z_]/.test(text[index] ?? '')) return undefined;
  return text.slice(index, end);
}

/** The ASCII characters a one-character class matches, as a lookup table for `hasRun`. */
export function asciiTable(charClass: RegExp): Uint8Array {
  const table = new Uint8Array(128);
  for (let code = 0; code < 128; code += 1)
    if (charClass.test(String.fromCharCode(code))) table[code] = 1;
  return table;
}

/**
 * True when `text` holds a maximal run of `table`'s characters whose length lies in
 * [min, max]: a prefilter for token detectors, a plain loop being far cheaper than a regex that
 * must try every position.
 */
export function hasRun(text: string, table: Uint8Array, min: number, max = Infinity): boolean {
  let run = 0;
  for (let index = 0; index <= text.length; index += 1) {
    const code = index < text.length ? text.charCodeAt(index) : 128;
    if (code < 128 && table[code] === 1) run += 1;
    else {
      if (run >= min && run <= max) return true;
      run = 0;
    }
  }
  return false;
}
