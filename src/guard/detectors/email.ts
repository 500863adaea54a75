import type { Detector } from '../detector.js';

/**
 * Top-level "domains" that are file extensions (`icon@2x.png`, `logo@3x.jpg`): none is a TLD.
 * `.md`, `.so` and `.zip` are TLDs and are not listed.
 */
const FILE_EXTENSIONS = new Set([
  'png',
  'jpg',
  'jpeg',
  'gif',
  'svg',
  'webp',
  'bmp',
  'ico',
  'js',
  'mjs',
  'cjs',
  'ts',
  'json',
  'yaml',
  'yml',
  'txt',
  'log',
  'csv',
  'html',
  'htm',
  'css',
  'xml',
  'pdf',
  'bin',
  'tar',
  'gz',
  'tgz',
  'exe',
  'dll',
]);

/** Inside a URL's authority (`https://user@host`, `amqp://user:pass@host`): user-info, no e-mail. */
const URL_AUTHORITY_BEFORE = /:\/\/[^\s/@]*$/;

/**
 * The local part is the common dot-atom (letters, digits, `._%+-`); a match starts only where a
 * run of those characters starts, so a long run is scanned once (leading dots are skipped, not
 * part of the address). RFC 5321's limits: local part ≤ 64 octets, domain ≤ 255.
 */
export const emailAddress: Detector = {
  id: 'EMAIL_ADDRESS',
  category: 'PERSONAL',
  severity: 'MEDIUM',
  description:
    'E-mail addresses: RFC 5321 shape and length limits, a domain with an alphabetic top-level label.',
  pattern:
    /(?<![A-Za-z0-9._%+-])\.*([A-Za-z0-9_%+-][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})(?![A-Za-z0-9-])/g,
  prefilter: (text) => text.includes('@'),
  validate: (candidate, where) => {
    const at = candidate.lastIndexOf('@');
    const local = candidate.slice(0, at);
    const domain = candidate.slice(at + 1);
    if (local.includes('..') || local.endsWith('.') || domain.length > 255) return false;
    const topLevel = domain.slice(domain.lastIndexOf('.') + 1).toLowerCase();
    if (FILE_EXTENSIONS.has(topLevel)) return false;
    return !URL_AUTHORITY_BEFORE.test(
      where.text.slice(Math.max(0, where.start - 200), where.start),
    );
  },
};
