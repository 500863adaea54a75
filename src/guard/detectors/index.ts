import type { Detector } from '../detector.js';
import type { GuardSettings } from '../schema.js';
import { awsAccessKeyId, awsCredentials } from './aws.js';
import { connectionStringPassword } from './connection-string.js';
import { emailAddress } from './email.js';
import { highEntropySecret } from './high-entropy.js';
import { httpBasicAuthHeader, httpBearerToken } from './http-auth.js';
import { iban } from './iban.js';
import { jsonWebToken } from './jwt.js';
import { nationalIdDetectors } from './national-ids.js';
import { ipAddress } from './network.js';
import { creditCardNumber } from './payment-card.js';
import { phoneNumber } from './phone.js';
import { privateKey } from './private-key.js';

/**
 * Every built-in detector, in the order they run. Specific detectors come before generic ones:
 * where two claim the same characters with the same severity, the DetectorSet keeps the earlier
 * (a JWT after `Bearer` is reported as JSON_WEB_TOKEN, a key under `"secret":` as AWS_CREDENTIALS,
 * not HIGH_ENTROPY_SECRET).
 */
export function builtinDetectors(settings: GuardSettings['detectors']): Detector[] {
  return [
    privateKey,
    jsonWebToken,
    awsAccessKeyId,
    awsCredentials,
    httpBasicAuthHeader,
    httpBearerToken,
    connectionStringPassword,
    creditCardNumber,
    iban,
    ...nationalIdDetectors,
    phoneNumber,
    emailAddress,
    ipAddress,
    highEntropySecret(settings.entropy),
  ];
}
