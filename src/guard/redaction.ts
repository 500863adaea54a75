import type { DetectorSet } from './detector-set.js';
import { redactUrlCredentials } from './url-guard.js';

/**
 * Redaction of Bulwark's own logs and audit events (`guard.redaction`): a detector's match
 * becomes `[REDACTED:<detector id>]`, and the value of a credential query parameter in a URL
 * (`X-Amz-Signature=…`) becomes `REDACTED`. An empty set (redaction off) changes nothing.
 */

/** One serialised JSON line (an operational or device log entry), still valid JSON afterwards. */
export function redactLogLine(line: string, redaction: DetectorSet): string {
  if (redaction.detectors.length === 0) return line;
  return redaction.redactJsonLine(redactUrlCredentials(line));
}

/**
 * A JSON value with every match inside its strings, keys included, redacted. The detectors run
 * once over the value's JSON text, where a key stands just before its value and so counts as a
 * nearby keyword (`"aws_secret_access_key":"…"`); the value comes back as it was when nothing
 * matched, which is the common case and costs one serialisation.
 */
export function redactJsonValue<T>(value: T, redaction: DetectorSet): T {
  if (redaction.detectors.length === 0 || value === undefined) return value;
  const text = JSON.stringify(value);
  const redacted = redaction.redactJsonLine(text);
  return redacted === text ? value : (JSON.parse(redacted) as T);
}
