import type { Detector } from '../detector.js';
import type { CustomDetectorSetting } from '../schema.js';
import type { EntropyLimits } from './validators.js';
import { highEntropy, iso7064Mod97, luhn } from './validators.js';

/**
 * The validators an operator may name, applied to the match (group 1 when the pattern has one):
 * `luhn` to its digits (separators ignored), `mod97` as IBANs use it (ISO 7064 MOD 97-10 over
 * letters and digits, separators ignored), `entropy` against `guard.detectors.entropy`'s limits.
 */
function validatorFor(
  name: NonNullable<CustomDetectorSetting['validator']>,
  entropy: EntropyLimits,
): (value: string) => boolean {
  switch (name) {
    case 'luhn':
      return (value) => luhn(value.replace(/[\s-]/g, ''));
    case 'mod97':
      return (value) => iso7064Mod97(value.replace(/[\s-]/g, '').toUpperCase());
    case 'entropy':
      return (value) => highEntropy(value, entropy);
  }
}

/** An operator's detector from `guard.detectors.custom`. */
export function customDetector(setting: CustomDetectorSetting, entropy: EntropyLimits): Detector {
  const validator =
    setting.validator === undefined ? undefined : validatorFor(setting.validator, entropy);
  return {
    id: setting.id,
    category: setting.category,
    severity: setting.severity,
    description: setting.description,
    pattern: new RegExp(setting.pattern, 'gu'),
    ...(setting.keywords.length > 0
      ? {
          keywords: {
            pattern: new RegExp(setting.keywords.map(escapeRegExp).join('|'), 'iu'),
            distance: setting.keywordDistance,
          },
        }
      : {}),
    ...(validator ? { validate: (candidate: string) => validator(candidate) } : {}),
  };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
