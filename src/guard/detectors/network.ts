import { isIP } from 'node:net';
import type { Detector } from '../detector.js';
import { governingKey } from './context.js';

/** A dotted quad after these words is a version number, not an address. */
const VERSION_BEFORE = /\b(?:version|ver|v|release|build|firmware|fw|sdk)[\s:=#]*$/i;
const VERSION_KEY = /version|release|build|firmware/i;

/**
 * IPv4 dotted quads and IPv6 addresses, confirmed by `net.isIP`. A quad inside a longer dotted
 * run (`1.2.3.4.5`, OIDs such as `1.3.6.1.4.1`) or after a version word is not taken; nor are the
 * unspecified addresses `0.0.0.0` and `::`, nor mixed-case IPv6 look-alikes (`Add::Be`).
 */
export const ipAddress: Detector = {
  id: 'IP_ADDRESS',
  category: 'NETWORK',
  severity: 'LOW',
  description:
    'IPv4 and IPv6 addresses (net.isIP), excluding version strings, OIDs and the unspecified address.',
  pattern:
    /(?:^|[^\w.])((?:\d{1,3}\.){3}\d{1,3}(?!\w|\.\d)|(?<!:)(?:[0-9A-Fa-f]{0,4}:){2,7}(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{1,4})?(?![\w:]|\.\d))/g,
  prefilter: (text) => /\d\.\d{1,3}\.\d|:[0-9A-Fa-f]{0,4}:/.test(text),
  validate: (candidate, where) => {
    const version = isIP(candidate);
    if (version === 0 || candidate === '0.0.0.0' || /^[0:]+$/.test(candidate)) return false;
    if (version === 6) return !(/[a-f]/.test(candidate) && /[A-F]/.test(candidate));
    if (VERSION_BEFORE.test(where.text.slice(Math.max(0, where.start - 20), where.start)))
      return false;
    return !VERSION_KEY.test(governingKey(where) ?? '');
  },
};
