import {
  isValidPhoneNumber,
  parsePhoneNumberFromString,
  type CountryCode,
} from 'libphonenumber-js/max';
import type { Detector } from '../detector.js';
import { keywordBefore } from './context.js';

/** Words that make a number without `+` a phone number. */
const PHONE_KEYWORDS = /phone|\btel\b|mobile|\bcell|\bcall\b|\bfax\b|\bsms\b|whatsapp|\bmsisdn\b/i;

/**
 * Countries whose national formats are tried when a keyword is near; a number valid in one counts.
 * A national number starting with 0 is read in countries that dial a trunk 0; any other in the
 * NANP and in countries without a trunk prefix. Trying every country at once would accept almost
 * any run of digits (555-123-4567 is valid somewhere in Europe).
 */
const TRUNK_ZERO_COUNTRIES: readonly CountryCode[] = [
  'GB',
  'DE',
  'FR',
  'IT',
  'NL',
  'BE',
  'CH',
  'AT',
  'IE',
  'IN',
  'AU',
  'JP',
  'BR',
  'CN',
];
const NO_TRUNK_COUNTRIES: readonly CountryCode[] = ['US', 'CA', 'ES', 'IN'];

const DATE_LIKE = /^\d{4}[-./]\d{1,2}[-./]\d{1,2}/;

/**
 * E.164 numbers (`+` and a country code) anywhere; national forms (`(202) 456-1111`,
 * `020 7946 0958`) only with a phone keyword nearby or in the field name. Validity comes from
 * libphonenumber-js with full metadata: the number's length and prefix must belong to a real
 * numbering plan, not just look like digits.
 */
export const phoneNumber: Detector = {
  id: 'PHONE_NUMBER',
  category: 'PERSONAL',
  severity: 'MEDIUM',
  description:
    'Phone numbers: E.164 anywhere, national forms near a keyword; validated against numbering plans (libphonenumber).',
  pattern: /(?<![\w+.\-/])(\+?\(?\d(?:[ ().-]{0,2}\d){6,16})(?![\w+]|[.-]\d)/g,
  validate: (candidate, where) => {
    const digits = candidate.replace(/\D/g, '');
    if (digits.length < 7 || digits.length > 15 || DATE_LIKE.test(candidate)) return false;
    if (candidate.startsWith('+')) return parsePhoneNumberFromString(candidate)?.isValid() ?? false;
    if (!keywordBefore(PHONE_KEYWORDS, 40, where)) return false;
    if (digits.startsWith('00')) return isValidPhoneNumber(`+${digits.slice(2)}`);
    const countries = digits.startsWith('0') ? TRUNK_ZERO_COUNTRIES : NO_TRUNK_COUNTRIES;
    return countries.some((country) => isValidPhoneNumber(candidate, country));
  },
};
