import type { Detector } from '../detector.js';
import type { DetectorSet } from '../detector-set.js';
import { MAX_OCCURRENCES, type Occurrence, type ScannedItem } from './types.js';

/** What one detector found in one item. */
export interface ItemDetection {
  detector: Detector;
  count: number;
  occurrences: Occurrence[];
}

export interface ItemResult {
  /** The item's size: its JSON text's length (characters), or its payload's bytes. */
  bytes: number;
  /** By detector id; empty when nothing was found. */
  detections: Map<string, ItemDetection>;
}

/**
 * Keys repeat across documents (`reported`, `temperature`): each is judged once per parent key,
 * for up to this many parents and this many keys under each.
 */
const MAX_REMEMBERED_KEYS = 10_000;

/** RFC 9535's member-name shorthand (ASCII part): other names are written in brackets. */
const SHORTHAND = /^[A-Za-z_][A-Za-z0-9_]*$/;

function quotedMember(name: string): string {
  let out = "['";
  for (const character of name) {
    const code = character.codePointAt(0) as number;
    if (character === "'" || character === '\\') out += `\\${character}`;
    else if (code < 0x20) {
      const named = { 8: '\\b', 9: '\\t', 10: '\\n', 12: '\\f', 13: '\\r' }[code];
      out += named ?? `\\u${code.toString(16).padStart(4, '0')}`;
    } else out += character;
  }
  return `${out}']`;
}

function memberSegment(name: string): string {
  return SHORTHAND.test(name) ? `.${name}` : quotedMember(name);
}

const JSON_WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);

/** A payload is read as JSON when it looks like an object or array and parses. */
function parsedPayload(bytes: Buffer): unknown {
  let first = 0;
  while (first < bytes.length && JSON_WHITESPACE.has(bytes[first] as number)) first += 1;
  const opening = bytes[first];
  if (opening !== 0x7b && opening !== 0x5b) return undefined;
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

/** A value met in the walk; its path is spelled out only when something is found in it. */
interface Frame {
  value: unknown;
  parent: Frame | undefined;
  /** `.name`, `['name']`, `[3]`, or `.*` for a key that holds sensitive data. */
  segment: string;
  /** The nearest JSON key above the value: the detectors' `field` context. */
  field: string | undefined;
}

function pathOf(frame: Frame): string {
  let path = '';
  for (let at: Frame | undefined = frame; at; at = at.parent) path = at.segment + path;
  return `$${path}`;
}

/**
 * Runs the detectors over one stored item: every string leaf of its JSON (and every number, as
 * its text: card numbers are often stored as numbers), each with its key as the field context,
 * recorded by JSON path; a payload that is not JSON as UTF-8 text, recorded by byte offset.
 * Keys are checked too: one that holds sensitive data is reported, and written `*` in every path
 * (so a path never carries it). Nothing of a matched value is kept.
 */
export class ItemScanner {
  /** Keys already found clean (with their path segments), by their parent's key. */
  private readonly cleanKeys = new Map<string, Map<string, string>>();

  constructor(private readonly detectors: DetectorSet) {}

  scan(item: ScannedItem): ItemResult {
    const detections = new Map<string, ItemDetection>();
    const add = (detector: Detector, occurrence: Occurrence) => {
      let found = detections.get(detector.id);
      if (!found) {
        found = { detector, count: 0, occurrences: [] };
        detections.set(detector.id, found);
      }
      found.count += 1;
      if (found.occurrences.length < MAX_OCCURRENCES && !listed(found.occurrences, occurrence))
        found.occurrences.push(occurrence);
    };
    const record = item.recordIndex !== undefined ? { recordIndex: item.recordIndex } : {};
    const content = item.content;
    if (Buffer.isBuffer(content)) {
      const parsed = parsedPayload(content);
      if (parsed === undefined) {
        this.scanText(content, (detector, byteOffset) => add(detector, { byteOffset, ...record }));
        return { bytes: content.length, detections };
      }
      const bytes = content.length;
      this.walk(parsed, (detector, jsonPath) => add(detector, { jsonPath, ...record }));
      return { bytes, detections };
    }
    const bytes = this.walk(content, (detector, jsonPath) =>
      add(detector, { jsonPath, ...record }),
    );
    return { bytes, detections };
  }

  private scanText(payload: Buffer, found: (detector: Detector, byteOffset: number) => void): void {
    const text = payload.toString('utf8');
    // Byte offsets are counted incrementally, from one detection to the next (in text order).
    let chars = 0;
    let bytes = 0;
    for (const detection of this.detectors.detect(text)) {
      bytes += Buffer.byteLength(text.slice(chars, detection.start), 'utf8');
      chars = detection.start;
      found(detection.detector, bytes);
    }
  }

  /** Walks `root` depth-first in document order (no recursion: payloads may nest deeply). */
  private walk(root: unknown, found: (detector: Detector, jsonPath: string) => void): number {
    let bytes = 0;
    const stack: Frame[] = [{ value: root, parent: undefined, segment: '', field: undefined }];
    for (let frame = stack.pop(); frame; frame = stack.pop()) {
      const { value, field } = frame;
      if (typeof value === 'string' || typeof value === 'number') {
        const text = typeof value === 'string' ? value : String(value);
        bytes += typeof value === 'string' ? text.length + 2 : text.length;
        const detections = this.detectors.detect(text, field);
        if (detections.length === 0) continue;
        const path = pathOf(frame);
        for (const detection of detections) found(detection.detector, path);
      } else if (Array.isArray(value)) {
        bytes += 1 + Math.max(1, value.length);
        for (let index = value.length - 1; index >= 0; index--)
          stack.push({ value: value[index], parent: frame, segment: `[${index}]`, field });
      } else if (value !== null && typeof value === 'object') {
        const keys = Object.keys(value);
        bytes += 1 + Math.max(1, keys.length);
        for (let index = keys.length - 1; index >= 0; index--) {
          const key = keys[index] as string;
          bytes += key.length + 3;
          const judged = this.judgeKey(key, field);
          const member: Frame = {
            value: (value as Record<string, unknown>)[key],
            parent: frame,
            segment: typeof judged === 'string' ? judged : '.*',
            field: key,
          };
          if (typeof judged !== 'string') {
            const path = pathOf(member);
            for (const detector of judged) found(detector, path);
          }
          stack.push(member);
        }
      } else bytes += value === null ? 4 : value === true ? 4 : 5;
    }
    return bytes;
  }

  /**
   * A key judged with its parent's key as the field context: its path segment when it is clean,
   * else the detectors that match it.
   */
  private judgeKey(key: string, field: string | undefined): string | Detector[] {
    const parent = field ?? '';
    let clean = this.cleanKeys.get(parent);
    const known = clean?.get(key);
    if (known !== undefined) return known;
    const detections = this.detectors.detect(key, field);
    if (detections.length > 0) return detections.map((found) => found.detector);
    const segment = memberSegment(key);
    // Only clean keys are remembered: a sensitive one is not held on to.
    if (!clean) {
      if (this.cleanKeys.size >= MAX_REMEMBERED_KEYS) this.cleanKeys.clear();
      clean = new Map();
      this.cleanKeys.set(parent, clean);
    }
    if (clean.size < MAX_REMEMBERED_KEYS) clean.set(key, segment);
    return segment;
  }
}

function listed(occurrences: Occurrence[], occurrence: Occurrence): boolean {
  return occurrences.some(
    (known) =>
      known.recordIndex === occurrence.recordIndex &&
      ('jsonPath' in known
        ? 'jsonPath' in occurrence && known.jsonPath === occurrence.jsonPath
        : 'byteOffset' in occurrence && known.byteOffset === occurrence.byteOffset),
  );
}
