import type { Detector } from '../detector.js';
import { basicCredentials, estimatedEntropy } from './validators.js';

/**
 * Bearer tokens (RFC 6750 `b64token`) after the word Bearer, as in an `Authorization` header or a
 * curl command line. A token needs 16 characters and a digit, or mixed case and some entropy, so
 * that placeholders (`Bearer YOUR_ACCESS_TOKEN`) and prose are not taken. A trailing full stop
 * ends a sentence, not the token.
 */
export const httpBearerToken: Detector = {
  id: 'HTTP_BEARER_TOKEN',
  category: 'CREDENTIALS',
  severity: 'HIGH',
  description:
    'Bearer tokens after "Bearer" (Authorization headers): at least 16 token characters that look random.',
  pattern:
    /\b(?:[Bb]earer|BEARER)[ \t]+([A-Za-z0-9._~+/-]{15,}[A-Za-z0-9_~+/-]=*)(?![A-Za-z0-9_~+/=-]|\.[A-Za-z0-9_~+/-])/g,
  prefilter: (text) => /bearer/i.test(text),
  validate: (candidate) =>
    /\d/.test(candidate) ||
    (/[a-z]/.test(candidate) && /[A-Z]/.test(candidate) && estimatedEntropy(candidate) >= 3.5),
};

/**
 * HTTP Basic credentials after the word Basic (`Authorization: Basic dXNlcjpwYXNz`): the value
 * must be strict base64 of `user:password` in printable ASCII.
 */
export const httpBasicAuthHeader: Detector = {
  id: 'HTTP_BASIC_AUTH_HEADER',
  category: 'CREDENTIALS',
  severity: 'HIGH',
  description:
    'HTTP Basic credentials after "Basic": the value decodes from base64 to user:password.',
  pattern: /\b(?:[Bb]asic|BASIC)[ \t]+([A-Za-z0-9+/]{6,}={0,2})(?![A-Za-z0-9+/=])/g,
  prefilter: (text) => /basic/i.test(text),
  validate: (candidate) => basicCredentials(candidate),
};
