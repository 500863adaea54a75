import type { Detection, Detector } from './detector.js';

const SEVERITY_RANK = { LOW: 0, MEDIUM: 1, HIGH: 2 } as const;

/** The marker a redacted match is replaced with. */
export function redactionMarker(detectorId: string): string {
  return `[REDACTED:${detectorId}]`;
}

/**
 * An ordered set of detectors run together over text. Detections never overlap: where two
 * detectors claim the same characters, the earlier start wins, then the longer match, then the
 * higher severity (a connection string's password is reported once, not also as entropy).
 */
export class DetectorSet {
  readonly detectors: readonly Detector[];
  private readonly byIdMap: ReadonlyMap<string, Detector>;

  constructor(detectors: readonly Detector[]) {
    const byId = new Map<string, Detector>();
    for (const detector of detectors) {
      if (byId.has(detector.id)) throw new Error(`two detectors share the id ${detector.id}`);
      if (!detector.pattern.global)
        throw new Error(`detector ${detector.id}: its pattern needs the g flag`);
      if (
        detector.keywords &&
        (detector.keywords.pattern.global || detector.keywords.pattern.sticky)
      )
        throw new Error(`detector ${detector.id}: its keyword pattern must not be global`);
      byId.set(detector.id, detector);
    }
    this.detectors = [...detectors];
    this.byIdMap = byId;
  }

  get(id: string): Detector | undefined {
    return this.byIdMap.get(id);
  }

  /** The detectors whose ids `keep` accepts, in the same order. */
  filter(keep: (detector: Detector) => boolean): DetectorSet {
    return new DetectorSet(this.detectors.filter(keep));
  }

  /**
   * Every validated match in `text`, by position. `field` is the name the text came from (a JSON
   * key, a tag key), which counts as a nearby keyword.
   */
  detect(text: string, field?: string): Detection[] {
    if (text.length === 0) return [];
    const found: Detection[] = [];
    for (const detector of this.detectors) {
      if (detector.prefilter && !detector.prefilter(text)) continue;
      const pattern = detector.pattern;
      pattern.lastIndex = 0;
      for (let match = pattern.exec(text); match; match = pattern.exec(text)) {
        if (match[0].length === 0) {
          pattern.lastIndex += 1;
          continue;
        }
        const part = match[1] ?? match[0];
        const start = match.index + (match[1] === undefined ? 0 : match[0].indexOf(part));
        const end = start + part.length;
        if (detector.keywords && !keywordNear(detector.keywords, text, start, field)) continue;
        if (
          detector.validate &&
          !detector.validate(part, { text, start, end, ...(field ? { field } : {}) })
        )
          continue;
        found.push({ detector, start, end });
      }
    }
    return withoutOverlaps(found);
  }

  /** True when `text` holds at least one validated match. */
  matches(text: string, field?: string): boolean {
    return this.detect(text, field).length > 0;
  }

  /** `text` with each match replaced by `[REDACTED:<detector id>]`. */
  redact(text: string, field?: string): string {
    return replaceDetections(text, this.detect(text, field));
  }

  /**
   * One serialised JSON line with each match inside its strings replaced. The detectors read the
   * line with its line-break and tab escapes (`\\n`) seen as the blanks they stand for, so a value
   * after a line break starts where it does in the decoded text; matches that would cut through
   * a quote or another escape are left out (no detector's value spans a JSON string boundary), so
   * the line stays valid JSON.
   */
  redactJsonLine(line: string): string {
    const readable = line.includes('\\') ? line.replace(JSON_ESCAPE, blankedEscape) : line;
    const detections = this.detect(readable).filter((detection) => {
      const value = readable.slice(detection.start, detection.end);
      return !value.includes('"') && !cutsEscape(line, detection.start, detection.end);
    });
    return replaceDetections(line, detections);
  }
}

/** One escape of a JSON string: a backslash and what it escapes. */
const JSON_ESCAPE = /\\(?:u[0-9a-fA-F]{4}|.)/g;

/** `\\n`, `\\r` and `\\t` become two blanks (the text keeps its length); other escapes stay. */
function blankedEscape(escape: string): string {
  return escape === '\\n' || escape === '\\r' || escape === '\\t' ? '  ' : escape;
}

/** True when replacing text[start, end) would split an escape sequence. */
function cutsEscape(text: string, start: number, end: number): boolean {
  // From the start: only reading left to right tells an escaped backslash from an escape.
  JSON_ESCAPE.lastIndex = 0;
  for (let match = JSON_ESCAPE.exec(text); match; match = JSON_ESCAPE.exec(text)) {
    const escapeStart = match.index;
    const escapeEnd = escapeStart + match[0].length;
    if (escapeStart >= end) return false;
    if ((escapeStart < start && escapeEnd > start) || (escapeStart < end && escapeEnd > end))
      return true;
  }
  return false;
}

function keywordNear(
  keywords: NonNullable<Detector['keywords']>,
  text: string,
  start: number,
  field: string | undefined,
): boolean {
  if (field !== undefined && keywords.pattern.test(field)) return true;
  return keywords.pattern.test(text.slice(Math.max(0, start - keywords.distance), start));
}

function withoutOverlaps(found: Detection[]): Detection[] {
  if (found.length < 2) return found;
  found.sort(
    (a, b) =>
      a.start - b.start ||
      b.end - b.start - (a.end - a.start) ||
      SEVERITY_RANK[b.detector.severity] - SEVERITY_RANK[a.detector.severity],
  );
  const kept: Detection[] = [];
  let reached = -1;
  for (const detection of found) {
    if (detection.start < reached) continue;
    kept.push(detection);
    reached = detection.end;
  }
  return kept;
}

function replaceDetections(text: string, detections: readonly Detection[]): string {
  if (detections.length === 0) return text;
  let out = '';
  let from = 0;
  for (const { detector, start, end } of detections) {
    out += text.slice(from, start) + redactionMarker(detector.id);
    from = end;
  }
  return out + text.slice(from);
}
