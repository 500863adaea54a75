import { isValidIBAN } from 'ibantools';
import type { Detector } from '../detector.js';

/**
 * IBANs, electronic (`DE89370400440532013000`) or printed in groups of four
 * (`DE89 3704 0044 0532 0130 00`): ibantools checks the country's length and BBAN format and the
 * ISO 7064 mod-97 check digits.
 */
export const iban: Detector = {
  id: 'IBAN',
  category: 'FINANCIAL',
  severity: 'HIGH',
  description:
    'International bank account numbers: per-country length and format, mod-97 check digits (ibantools).',
  pattern:
    /(?<![A-Za-z0-9])([A-Z]{2}\d{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,4})?))(?![A-Za-z0-9])/g,
  validate: (candidate) => isValidIBAN(candidate.replace(/ /g, '')),
};
