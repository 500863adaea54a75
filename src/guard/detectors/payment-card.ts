import type { Detector } from '../detector.js';
import { governingKey } from './context.js';
import { luhn } from './validators.js';

/** A card network: the IIN prefixes it was assigned and the lengths its numbers have. */
interface CardNetwork {
  prefixes: readonly (string | readonly [number, number])[];
  lengths: readonly number[];
}

/**
 * Issuer identification ranges of the networks in use (ISO/IEC 7812 registrations as the networks
 * publish them). Nothing starts with 1 here (UATP is left out), so epoch-millisecond and
 * microsecond timestamps never pass; nor with 89, so SIM ICCIDs (which use Luhn) never do.
 */
const CARD_NETWORKS: readonly CardNetwork[] = [
  { prefixes: ['4'], lengths: [13, 16, 19] }, // Visa
  {
    prefixes: [
      [51, 55],
      [2221, 2720],
    ],
    lengths: [16],
  }, // Mastercard
  { prefixes: ['34', '37'], lengths: [15] }, // American Express
  { prefixes: ['6011', [644, 649], '65', [622126, 622925]], lengths: [16, 17, 18, 19] }, // Discover
  { prefixes: [[3528, 3589]], lengths: [16, 17, 18, 19] }, // JCB
  { prefixes: [[300, 305], '3095', '36', '38', '39'], lengths: [14, 15, 16, 17, 18, 19] }, // Diners
  { prefixes: ['62', '81'], lengths: [16, 17, 18, 19] }, // UnionPay
  { prefixes: [[2200, 2204]], lengths: [16, 17, 18, 19] }, // Mir
  {
    prefixes: ['5018', '5020', '5038', '5893', '6304', '6759', '6761', '6762', '6763'],
    lengths: [13, 14, 15, 16, 17, 18, 19],
  }, // Maestro
];

function issuedRange(digits: string): boolean {
  return CARD_NETWORKS.some(
    (network) =>
      network.lengths.includes(digits.length) &&
      network.prefixes.some((prefix) => {
        if (typeof prefix === 'string') return digits.startsWith(prefix);
        const [low, high] = prefix;
        const head = Number(digits.slice(0, String(low).length));
        return head >= low && head <= high;
      }),
  );
}

/** Printed groupings: 4-4-4-4 (with a last group of 1–3 for 13–19 digits), 4-6-5, 4-6-4. */
const PRINTED_GROUPS = /^(?:\d{4}([ -])\d{4}\1\d{4}(?:\1\d{1,4}){0,2}|\d{4}([ -])\d{6}\2\d{4,5})$/;

/**
 * Keys whose numbers are identifiers, not card numbers: Presidio's "uid" suppression, widened to
 * the counters, serials and device numbers (IMEIs are Luhn-checked too) that IoT data carries.
 */
const IDENTIFIER_KEY =
  /(?:^|[^a-z]|[a-z](?=[A-Z]))(?:id|uid|uuid|guid|serial|seq|sequence|counter|nonce|imei|iccid|timestamp|ts)$/i;

/**
 * Payment card numbers, 13–19 digits, bare or printed in groups with spaces or dashes: the
 * grouping must be one cards use, the number must pass Luhn and start with a real network's IIN
 * for its length, and it must not be the value of an identifier key (`id`, `serial`, `imei`…).
 */
export const creditCardNumber: Detector = {
  id: 'CREDIT_CARD_NUMBER',
  category: 'FINANCIAL',
  severity: 'HIGH',
  description:
    'Payment card numbers (13–19 digits, grouped or not): Luhn check and a card network’s IIN range for the length.',
  pattern: /(?<![A-Za-z0-9.+_]|\d[ -])(\d(?:[ -]?\d){12,18})(?![A-Za-z0-9_]|[.,]\d)/g,
  validate: (candidate, where) => {
    const digits = candidate.replace(/[ -]/g, '');
    if (digits.length !== candidate.length && !PRINTED_GROUPS.test(candidate)) return false;
    if (digits.length < 13 || /^(\d)\1+$/.test(digits)) return false;
    if (!luhn(digits) || !issuedRange(digits)) return false;
    return !IDENTIFIER_KEY.test(governingKey(where) ?? '');
  },
};
