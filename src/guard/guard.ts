import { DetectorSet } from './detector-set.js';
import { builtinDetectors } from './detectors/index.js';
import { customDetector } from './detectors/custom.js';
import type { GuardSettings } from './schema.js';
import { BulwarkError } from '../errors.js';

/**
 * The sensitive-data guard as configured: one detector set for what users write and store
 * (field guard, scans, inline MQTT checks), and the subset applied to Bulwark's own logs and
 * audit events. Built once at start from `guard` in the config.
 */
export class Guard {
  /** Every enabled detector: built-in ones not disabled, then the operator's own. */
  readonly detectors: DetectorSet;
  /** The detectors logs and audit events are redacted with; empty when redaction is off. */
  readonly redaction: DetectorSet;

  constructor(readonly settings: GuardSettings) {
    const disabled = new Set(settings.detectors.disabled);
    const builtin = builtinDetectors(settings.detectors);
    const known = new Set(builtin.map((detector) => detector.id));
    for (const id of disabled)
      if (!known.has(id))
        throw configInvalid(`guard.detectors.disabled names ${id}, which is no built-in detector`);
    for (const custom of settings.detectors.custom) {
      if (known.has(custom.id))
        throw configInvalid(
          `guard.detectors.custom: ${custom.id} is already a detector's id; choose another`,
        );
      known.add(custom.id);
    }
    this.detectors = new DetectorSet([
      ...builtin.filter((detector) => !disabled.has(detector.id)),
      ...settings.detectors.custom.map((custom) =>
        customDetector(custom, settings.detectors.entropy),
      ),
    ]);
    const skipped = new Set(settings.redaction.skip);
    this.redaction = settings.redaction.enabled
      ? this.detectors.filter((detector) => !skipped.has(detector.id))
      : new DetectorSet([]);
  }
}

function configInvalid(problem: string): BulwarkError {
  return new BulwarkError('ConfigInvalid', `invalid configuration: ${problem}`);
}
