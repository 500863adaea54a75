/**
 * A sensitive-data detector: a candidate pattern, then a validation step beyond the regex where
 * one exists (Luhn, mod 97, a parse), in the manner of Macie's managed data identifiers. Ids are
 * stable: they appear in API errors, findings, audit events and `[REDACTED:<id>]` markers.
 */

/** Macie's three levels; a finding takes the highest severity of its detections. */
export const SEVERITIES = ['LOW', 'MEDIUM', 'HIGH'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Macie's categories (Credentials, Financial, Personal), plus network addresses and custom. */
export const DETECTOR_CATEGORIES = [
  'CREDENTIALS',
  'FINANCIAL',
  'PERSONAL',
  'NETWORK',
  'CUSTOM',
] as const;
export type DetectorCategory = (typeof DETECTOR_CATEGORIES)[number];

export interface Detector {
  /** Upper-case, stable, e.g. `EMAIL_ADDRESS`, `CREDIT_CARD_NUMBER`. */
  id: string;
  category: DetectorCategory;
  severity: Severity;
  /** One short sentence for operators: what it finds and how it validates. */
  description: string;
  /** Candidates; must carry the `g` flag. Group 1, when present, is the sensitive part. */
  pattern: RegExp;
  /**
   * Cheap test run before the pattern: text failing it cannot hold a match. Keeps detectors that
   * rarely apply (PEM, JWT, connection strings) almost free on ordinary text.
   */
  prefilter?: (text: string) => boolean;
  /** The validation step: false rejects the candidate (a number failing Luhn, a bad IBAN…). */
  validate?: (candidate: string, where: CandidateContext) => boolean;
  /**
   * Words one of which must appear within `distance` characters before the candidate, or in the
   * field name the text came from (a JSON key, an attribute name); Macie's keyword proximity.
   */
  keywords?: { pattern: RegExp; distance: number };
}

/** What a validator may look at besides the candidate. */
export interface CandidateContext {
  /** The whole text the candidate was found in. */
  text: string;
  /** Where the candidate starts and ends in `text`. */
  start: number;
  end: number;
  /** The field name or JSON key the text came from, when known. */
  field?: string;
}

/** One validated match: where it lies in the text; the value itself is never kept. */
export interface Detection {
  detector: Detector;
  start: number;
  end: number;
}
