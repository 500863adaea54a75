import type { Detector } from '../detector.js';
import { keywordBefore } from './context.js';
import {
  elevenProof,
  franceNir,
  italyFiscalCode,
  spainDni,
  spainNie,
  ukNationalInsuranceNumber,
  usaSocialSecurityNumber,
  verhoeff,
} from './validators.js';

/*
 * National identity numbers and passports. Where the number carries a check (mod 23, mod 97,
 * 11-proof, Verhoeff) it is verified; where its shape is common (nine or twelve bare digits) a
 * keyword is required as well, as Macie's identifiers for these types require one.
 */

const SSN_KEYWORDS = /\bssns?\b|\bss ?#|social ?security|\bsoc\.? ?sec/i;

export const usaSocialSecurityNumberDetector: Detector = {
  id: 'USA_SOCIAL_SECURITY_NUMBER',
  category: 'PERSONAL',
  severity: 'HIGH',
  description:
    'US Social Security numbers: area, group and serial rules; the undashed form only near a keyword such as SSN.',
  pattern: /(?<![\w-])(\d{3}([- ]?)\d{2}\2\d{4})(?![\w-])/g,
  validate: (candidate, where) => {
    if (!usaSocialSecurityNumber(candidate.replace(/[- ]/g, ''))) return false;
    return candidate[3] === '-' || keywordBefore(SSN_KEYWORDS, 50, where);
  },
};

const NINO_KEYWORDS = /national ?insurance|\bnino\b|\bni ?(?:no|number|#)|insurance ?number/i;

export const ukNationalInsuranceNumberDetector: Detector = {
  id: 'UK_NATIONAL_INSURANCE_NUMBER',
  category: 'PERSONAL',
  severity: 'HIGH',
  description:
    'UK National Insurance numbers: HMRC prefix rules and suffix A–D; the unspaced form only near a keyword.',
  pattern: /(?<![A-Za-z0-9])([A-Z]{2}( ?)\d{2}\2\d{2}\2\d{2}\2[A-D])(?![A-Za-z0-9])/g,
  validate: (candidate, where) => {
    if (!ukNationalInsuranceNumber(candidate.replace(/ /g, ''))) return false;
    return candidate[2] === ' ' || keywordBefore(NINO_KEYWORDS, 50, where);
  },
};

/*
 * The mod-23 letter lets one random "eight digits and a letter" in 23 through, and serial numbers
 * have that shape: a keyword is required, as Macie requires one.
 */
const DNI_KEYWORDS = /\bdni\b|\bnif\b|documento nacional|identidad|national id|\bid card/i;
const NIE_KEYWORDS = /\bnie\b|\bnif\b|extranjer|foreigner|residen/i;

export const spainDniDetector: Detector = {
  id: 'SPAIN_DNI_NUMBER',
  category: 'PERSONAL',
  severity: 'HIGH',
  description:
    'Spanish DNI numbers: eight digits and their mod-23 check letter, near a keyword such as DNI or NIF.',
  pattern: /(?<![A-Za-z0-9-])(\d{8}-?[A-Z])(?![A-Za-z0-9]|-\w)/g,
  validate: (candidate, where) =>
    spainDni(candidate.replace('-', '')) && keywordBefore(DNI_KEYWORDS, 50, where),
};

export const spainNieDetector: Detector = {
  id: 'SPAIN_NIE_NUMBER',
  category: 'PERSONAL',
  severity: 'HIGH',
  description:
    'Spanish foreigner numbers (NIE): X, Y or Z, seven digits and the mod-23 check letter, near a keyword such as NIE.',
  pattern: /(?<![A-Za-z0-9-])([XYZ]-?\d{7}-?[A-Z])(?![A-Za-z0-9]|-\w)/g,
  validate: (candidate, where) =>
    spainNie(candidate.replace(/-/g, '')) && keywordBefore(NIE_KEYWORDS, 50, where),
};

export const italyFiscalCodeDetector: Detector = {
  id: 'ITALY_FISCAL_CODE',
  category: 'PERSONAL',
  severity: 'HIGH',
  description:
    'Italian fiscal codes (codice fiscale): the 16-character layout, omocodia included, and its check character.',
  pattern:
    /(?<![A-Za-z0-9])([A-Z]{6}[0-9LMNP-V]{2}[ABCDEHLMPRST][0-9LMNP-V]{2}[A-Z][0-9LMNP-V]{3}[A-Z])(?![A-Za-z0-9])/g,
  validate: (candidate) => italyFiscalCode(candidate),
};

const NIR_KEYWORDS =
  /\bnir\b|insee|s[ée]curit[ée] sociale|social security|carte vitale|\bn° ?ss\b/i;

export const franceNirDetector: Detector = {
  id: 'FRANCE_NIR',
  category: 'PERSONAL',
  severity: 'HIGH',
  description:
    'French social security numbers (NIR/INSEE): sex, birth month and département layout, mod-97 key; unspaced only near a keyword.',
  pattern:
    /(?<![A-Za-z0-9])([12]( ?)\d{2}\2(?:0[1-9]|1[0-2]|[2-9]\d)\2(?:\d{2}|2[AB])\2\d{3}\2\d{3}\2\d{2})(?![A-Za-z0-9])/g,
  validate: (candidate, where) => {
    if (!franceNir(candidate.replace(/ /g, ''))) return false;
    return candidate[1] === ' ' || keywordBefore(NIR_KEYWORDS, 50, where);
  },
};

export const netherlandsBsnDetector: Detector = {
  id: 'NETHERLANDS_BSN',
  category: 'PERSONAL',
  severity: 'HIGH',
  description:
    'Dutch citizen service numbers (BSN): nine digits passing the 11-proof, near a keyword such as BSN.',
  pattern: /(?<![A-Za-z0-9.-])(\d{9}|\d{4}\.\d{2}\.\d{3})(?![A-Za-z0-9]|[.-]\d)/g,
  keywords: { pattern: /bsn|burgerservicenummer|sofi-?nummer/i, distance: 50 },
  validate: (candidate) => elevenProof(candidate.replace(/\./g, '')),
};

export const indiaAadhaarDetector: Detector = {
  id: 'INDIA_AADHAAR_NUMBER',
  category: 'PERSONAL',
  severity: 'HIGH',
  description:
    'Indian Aadhaar numbers: twelve digits not starting 0 or 1, Verhoeff check digit, near a keyword such as Aadhaar.',
  pattern: /(?<![A-Za-z0-9-])([2-9]\d{3}([ -]?)\d{4}\2\d{4})(?![A-Za-z0-9]|[ -]\d)/g,
  keywords: { pattern: /aadh?aa?r|uidai|आधार/i, distance: 50 },
  validate: (candidate) => verhoeff(candidate.replace(/[ -]/g, '')),
};

const PASSPORT_KEYWORDS = { pattern: /passport/i, distance: 50 };
/** Words that place a passport number in the UK; without them a passport number counts as US. */
const UK_CONTEXT = /\b(?:uk|u\.k\.|gbr?|british|united kingdom|hm ?passport|hmpo)\b/i;

export const usaPassportNumberDetector: Detector = {
  id: 'USA_PASSPORT_NUMBER',
  category: 'PERSONAL',
  severity: 'HIGH',
  description:
    'US passport numbers: nine digits or a letter and eight digits, near the keyword "passport" (no UK context).',
  pattern: /(?<![A-Za-z0-9-])([A-Z]\d{8}|\d{9})(?![A-Za-z0-9]|-\w)/g,
  keywords: PASSPORT_KEYWORDS,
  validate: (candidate, where) =>
    !/^0+$/.test(candidate.slice(-8)) && !keywordBefore(UK_CONTEXT, 60, where),
};

export const ukPassportNumberDetector: Detector = {
  id: 'UK_PASSPORT_NUMBER',
  category: 'PERSONAL',
  severity: 'HIGH',
  description:
    'UK passport numbers: nine digits near the keyword "passport" and a UK word (UK, British, HMPO…).',
  pattern: /(?<![A-Za-z0-9-])(\d{9})(?![A-Za-z0-9]|-\w)/g,
  keywords: PASSPORT_KEYWORDS,
  validate: (candidate, where) => !/^0+$/.test(candidate) && keywordBefore(UK_CONTEXT, 60, where),
};

/** In the order they run. */
export const nationalIdDetectors: readonly Detector[] = [
  usaSocialSecurityNumberDetector,
  ukNationalInsuranceNumberDetector,
  spainDniDetector,
  spainNieDetector,
  italyFiscalCodeDetector,
  franceNirDetector,
  netherlandsBsnDetector,
  indiaAadhaarDetector,
  usaPassportNumberDetector,
  ukPassportNumberDetector,
];
