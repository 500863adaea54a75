import type { Detector } from '../detector.js';
import { base64urlJsonObject } from './validators.js';

/**
 * JSON Web Tokens in compact form: three base64url parts whose header decodes to a JSON object
 * with an `alg` and whose payload decodes to a JSON object (the claims). The signature may be
 * empty (`alg: none`), which leaks the claims all the same.
 */
export const jsonWebToken: Detector = {
  id: 'JSON_WEB_TOKEN',
  category: 'CREDENTIALS',
  severity: 'HIGH',
  description:
    'JSON Web Tokens: three base64url parts, the header a JSON object with "alg", the payload a JSON object.',
  pattern:
    /(?<![A-Za-z0-9_-])(e[wy][A-Za-z0-9_-]{8,}\.e[wy][A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*)(?![A-Za-z0-9_-])/g,
  prefilter: (text) => text.includes('.ey') || text.includes('.ew'),
  validate: (candidate) => {
    const [header, payload] = candidate.split('.');
    const decodedHeader = base64urlJsonObject(header ?? '');
    return (
      typeof decodedHeader?.alg === 'string' && base64urlJsonObject(payload ?? '') !== undefined
    );
  },
};
