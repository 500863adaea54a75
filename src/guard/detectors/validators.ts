/**
 * The validation steps detectors run after their pattern: checksums, number-range rules and
 * decodes. Each takes the candidate as matched (separators already removed where noted) and
 * answers yes or no; none keeps or reports the value.
 */

/** The Luhn (mod 10) check of payment cards, IMEIs and many other numbers; digits only. */
export function luhn(digits: string): boolean {
  if (!/^\d{2,}$/.test(digits)) return false;
  let sum = 0;
  let double = false;
  for (let index = digits.length - 1; index >= 0; index -= 1) {
    let digit = digits.charCodeAt(index) - 48;
    if (double) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
    double = !double;
  }
  return sum % 10 === 0;
}

/** The remainder of a decimal digit string divided by 97, without big-integer arithmetic. */
export function mod97(digits: string): number {
  let remainder = 0;
  for (let index = 0; index < digits.length; index += 1)
    remainder = (remainder * 10 + digits.charCodeAt(index) - 48) % 97;
  return remainder;
}

/**
 * ISO 7064 MOD 97-10 as IBANs (ISO 13616) use it: the first four characters moved to the end,
 * letters read as 10–35, and the number must leave remainder 1. Upper-case letters and digits only.
 */
export function iso7064Mod97(text: string): boolean {
  if (!/^[A-Z0-9]{5,}$/.test(text)) return false;
  const rearranged = text.slice(4) + text.slice(0, 4);
  let digits = '';
  for (const char of rearranged) digits += /\d/.test(char) ? char : String(char.charCodeAt(0) - 55);
  return mod97(digits) === 1;
}

/** Shannon entropy of the characters of `text`, in bits per character (the plug-in estimate). */
export function shannonEntropy(text: string): number {
  if (text.length === 0) return 0;
  const counts = new Map<string, number>();
  for (const char of text) counts.set(char, (counts.get(char) ?? 0) + 1);
  let entropy = 0;
  for (const count of counts.values()) {
    const p = count / text.length;
    entropy -= p * Math.log2(p);
  }
  return entropy;
}

/**
 * Shannon entropy with the Miller–Madow bias correction, (K − 1) / (2n ln 2) bits for K distinct
 * characters in n. The plain estimate is biased low on short strings: a uniformly random
 * 24-character base64 token measures about 4.3 bits, under detect-secrets' 4.5 limit, and could
 * never be found; corrected, random tokens of 20 characters and more clear it while words and
 * identifiers stay well below.
 */
export function estimatedEntropy(text: string): number {
  if (text.length === 0) return 0;
  const distinct = new Set(text).size;
  return shannonEntropy(text) + (distinct - 1) / (2 * text.length * Math.LN2);
}

/** Where a string of base64 or hex characters stands against the entropy limits. */
export interface EntropyLimits {
  base64Limit: number;
  hexLimit: number;
}

/** The schema's defaults (detect-secrets' limits), for custom detectors. */
export const DEFAULT_ENTROPY_LIMITS: EntropyLimits = { base64Limit: 4.5, hexLimit: 3.0 };

/**
 * True when `text` looks random enough for a secret: hex strings against the hex limit (an
 * all-digit string pays detect-secrets' penalty of 1.2 / log2(length), digits being common in
 * ids), everything else against the base64 limit.
 */
export function highEntropy(text: string, limits: EntropyLimits): boolean {
  if (text.length < 2) return false;
  if (/^[0-9a-fA-F]+$/.test(text)) {
    let entropy = estimatedEntropy(text);
    if (/^\d+$/.test(text)) entropy -= 1.2 / Math.log2(text.length);
    return entropy >= limits.hexLimit;
  }
  return estimatedEntropy(text) >= limits.base64Limit;
}

/**
 * US Social Security numbers (nine digits): no area 000, 666 or 900–999, no group 00, no serial
 * 0000, and not the numbers famously misused in advertising and examples (SSA; Presidio's list).
 */
export function usaSocialSecurityNumber(digits: string): boolean {
  if (!/^\d{9}$/.test(digits)) return false;
  const area = digits.slice(0, 3);
  if (area === '000' || area === '666' || area[0] === '9') return false;
  if (digits.slice(3, 5) === '00' || digits.slice(5) === '0000') return false;
  return !['078051120', '219099999', '123456789'].includes(digits);
}

/**
 * UK National Insurance number prefixes (HMRC): the first letter not D, F, I, Q, U or V; the
 * second not D, F, I, O, Q, U or V; and not the unallocated BG, GB, KN, NK, NT, TN or ZZ.
 * `nino` is compact: two letters, six digits, a suffix A–D.
 */
export function ukNationalInsuranceNumber(nino: string): boolean {
  if (!/^[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\d{6}[A-D]$/.test(nino)) return false;
  return !['BG', 'GB', 'KN', 'NK', 'NT', 'TN', 'ZZ'].includes(nino.slice(0, 2));
}

const SPAIN_CHECK_LETTERS = 'TRWAGMYFPDXBNJZSQVHLCKE';

/** Spanish DNI: eight digits and the letter of their value mod 23. Compact form. */
export function spainDni(dni: string): boolean {
  if (!/^\d{8}[A-Z]$/.test(dni)) return false;
  return SPAIN_CHECK_LETTERS[Number(dni.slice(0, 8)) % 23] === dni[8];
}

/** Spanish NIE: X, Y or Z (read as 0, 1, 2), seven digits, and the DNI's mod-23 letter. */
export function spainNie(nie: string): boolean {
  if (!/^[XYZ]\d{7}[A-Z]$/.test(nie)) return false;
  const number = Number('XYZ'.indexOf(nie[0] ?? '') + nie.slice(1, 8));
  return SPAIN_CHECK_LETTERS[number % 23] === nie[8];
}

/** Values of characters in odd positions (1st, 3rd, …) of an Italian fiscal code, 0–9 then A–Z. */
const ITALY_ODD_VALUES = [
  1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8,
  12, 14, 16, 10, 22, 25, 24, 23,
];

/** Italian codice fiscale: sixteen characters whose last is the check character of the first 15. */
export function italyFiscalCode(code: string): boolean {
  if (!/^[A-Z0-9]{16}$/.test(code)) return false;
  let sum = 0;
  for (let index = 0; index < 15; index += 1) {
    const char = code.charCodeAt(index);
    const ordinal = char <= 57 ? char - 48 : char - 55;
    // Positions count from 1: index 0 is the first, an odd position.
    if (index % 2 === 0) sum += ITALY_ODD_VALUES[ordinal] ?? 0;
    else sum += char <= 57 ? char - 48 : char - 65;
  }
  return String.fromCharCode(65 + (sum % 26)) === code[15];
}

/**
 * French NIR (numéro de sécurité sociale, INSEE): 13 characters and a two-digit key, 97 minus the
 * number mod 97. Corsican départements 2A and 2B count as 19 and 18. Compact form.
 */
export function franceNir(nir: string): boolean {
  if (!/^[12]\d{4}(?:\d{2}|2[AB])\d{8}$/.test(nir)) return false;
  const department = nir.slice(5, 7);
  const body =
    nir.slice(0, 5) +
    (department === '2A' ? '19' : department === '2B' ? '18' : department) +
    nir.slice(7, 13);
  return 97 - mod97(body) === Number(nir.slice(13));
}

/** The Dutch "elfproef" of BSNs: digits weighted 9…2 and the last −1 sum to a multiple of 11. */
export function elevenProof(digits: string): boolean {
  if (!/^\d{9}$/.test(digits) || /^0+$/.test(digits)) return false;
  let sum = 0;
  for (let index = 0; index < 8; index += 1) sum += (digits.charCodeAt(index) - 48) * (9 - index);
  sum -= digits.charCodeAt(8) - 48;
  return sum % 11 === 0;
}

const VERHOEFF_MULTIPLY = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
  [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
  [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
  [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
  [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
  [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
  [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
  [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
  [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];
const VERHOEFF_PERMUTE = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
  [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
  [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
  [9, 4, 5, 3, 1, 2, 8, 7, 6, 0],
  [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
  [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
  [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
];

/** The Verhoeff check (Aadhaar's): true when the digits, check digit last, are consistent. */
export function verhoeff(digits: string): boolean {
  if (!/^\d{2,}$/.test(digits)) return false;
  let check = 0;
  for (let position = 0; position < digits.length; position += 1) {
    const digit = digits.charCodeAt(digits.length - 1 - position) - 48;
    const permuted = VERHOEFF_PERMUTE[position % 8]?.[digit] ?? 0;
    check = VERHOEFF_MULTIPLY[check]?.[permuted] ?? 0;
  }
  return check === 0;
}

/** The JSON object a base64url segment (a JWT part) decodes to, if it is one. */
export function base64urlJsonObject(segment: string): Record<string, unknown> | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(segment) || segment.length % 4 === 1) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** The bytes of standard, padded base64 text (RFC 4648 §4), or undefined when it is not that. */
export function strictBase64(text: string): Buffer | undefined {
  if (text.length === 0 || text.length % 4 !== 0) return undefined;
  if (!/^[A-Za-z0-9+/]*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})$/.test(text))
    return undefined;
  return Buffer.from(text, 'base64');
}

/** True when base64 text decodes to `user:password`, printable ASCII, neither part empty. */
export function basicCredentials(text: string): boolean {
  const bytes = strictBase64(text);
  if (!bytes) return false;
  return /^[\x21-\x39\x3b-\x7e][\x20-\x39\x3b-\x7e]*:[\x20-\x7e]+$/.test(bytes.toString('latin1'));
}

/**
 * True when `bytes` is exactly one DER SEQUENCE (PKCS #1, #8, SEC 1 and DSA private keys all
 * are): tag 0x30 and a definite length that accounts for every byte.
 */
export function derSequence(bytes: Buffer): boolean {
  if (bytes.length < 2 || bytes[0] !== 0x30) return false;
  const first = bytes[1] ?? 0;
  if (first < 0x80) return 2 + first === bytes.length;
  const lengthBytes = first & 0x7f;
  if (lengthBytes === 0 || lengthBytes > 4 || bytes.length < 2 + lengthBytes) return false;
  let length = 0;
  for (let index = 0; index < lengthBytes; index += 1)
    length = length * 256 + (bytes[2 + index] ?? 0);
  return 2 + lengthBytes + length === bytes.length;
}
