import type { Detector } from '../detector.js';
import { asciiTable, hasRun } from './context.js';
import { estimatedEntropy } from './validators.js';

/**
 * Access key ids: gitleaks' `aws-access-token` prefixes (long-term AKIA, temporary ASIA, ABIA,
 * ACCA, A3T…) and a base32 body. Ids ending in `EXAMPLE` are AWS documentation placeholders
 * (`AKIAIOSFODNN7EXAMPLE`) and are ignored, as Macie ignores the documentation's secret keys: they
 * are published, and they fill tutorials and test fixtures.
 */
export const awsAccessKeyId: Detector = {
  id: 'AWS_ACCESS_KEY_ID',
  category: 'CREDENTIALS',
  severity: 'HIGH',
  description:
    'AWS access key ids (AKIA, ASIA, ABIA, ACCA, A3T prefixes and a base32 body); documentation examples ignored.',
  pattern: /(?<![A-Za-z0-9])((?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})(?![A-Za-z0-9])/g,
  prefilter: (text) => /A(?:KIA|SIA|BIA|CCA|3T)/.test(text),
  validate: (candidate) => !candidate.endsWith('EXAMPLE'),
};

/** The two secret access keys of AWS's documentation, ignored as Macie ignores them. */
const DOCUMENTATION_SECRETS = new Set([
  'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  'je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY',
]);

const SECRET_KEY_CHARS = asciiTable(/[A-Za-z0-9/+]/);

/**
 * Secret access keys: 40 base64 characters near a keyword (Macie's `AWS_CREDENTIALS`: within 50
 * characters before, or the field name), with upper and lower case as random keys have (a
 * 40-digit hex SHA-1 never passes; a digit is not required, one random key in a thousand has none).
 */
export const awsCredentials: Detector = {
  id: 'AWS_CREDENTIALS',
  category: 'CREDENTIALS',
  severity: 'HIGH',
  description:
    'AWS secret access keys: 40 base64 characters near a keyword such as aws_secret_access_key; documentation examples ignored.',
  pattern: /(?:^|[^A-Za-z0-9/+])([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])/g,
  prefilter: (text) => hasRun(text, SECRET_KEY_CHARS, 40, 40),
  keywords: {
    pattern:
      /secret[ _-]?access[ _-]?key|aws[ _-]?secret|secret[ _-]?key|credentials?|set-awscredential/i,
    distance: 50,
  },
  validate: (candidate) =>
    /[a-z]/.test(candidate) &&
    /[A-Z]/.test(candidate) &&
    estimatedEntropy(candidate) >= 4 &&
    !DOCUMENTATION_SECRETS.has(candidate),
};
