import type { Detector } from '../detector.js';
import type { GuardSettings } from '../schema.js';
import { asciiTable, governingKey, hasRun } from './context.js';
import { highEntropy } from './validators.js';

/** Key names whose values are secrets. */
const SECRET_KEY =
  /secret|token|passw(?:or)?d|pwd|api[_-]?key|auth(?!or)|credential|private[_-]?key|access[_-]?key|signing[_-]?key|session[_-]?key|bearer/i;

/**
 * Key names that contain a secret word but hold no secret: pagination and idempotency tokens
 * (AWS's `nextToken`, `clientToken`), token metadata, the names or ids of secrets, and SigV4's
 * `Credential=` (an access key id and a scope).
 */
const NOT_SECRET_KEY =
  /next[_-]?token|continuation|paginat|page[_-]?token|idempot|client[_-]?token|token[_-]?(?:type|count|usage|limit|expir|ttl|endpoint|url|uri)|secret[_-]?(?:arn|name|id)\b|key[_-]?(?:id|name|arn)\b|public|csrf|^(?:x-amz-)?credential$/i;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Characters of tokens and generated passwords: base64, base64url, hex and a few symbols (not `&`,
 * which ends a value in a query string).
 */
const TOKEN_CHARS = String.raw`A-Za-z0-9+/_~.!#$%*@^-`;

const TOKEN_TABLE = asciiTable(new RegExp(`[${TOKEN_CHARS}]`));

/** Hex strings, or strings using at least two of upper case, lower case and digits. */
function mixedEnough(candidate: string): boolean {
  if (/^[0-9a-fA-F]+$/.test(candidate)) return true;
  const classes = [/[a-z]/, /[A-Z]/, /\d/].filter((kind) => kind.test(candidate)).length;
  return classes >= 2;
}

/**
 * File and URL paths (`/var/lib/…`, `./data/admin-credentials.json`): a key such as
 * `adminCredentials` names where a secret is kept, not the secret.
 */
function pathLike(candidate: string): boolean {
  return /^(?:\/|\.{1,2}\/|~\/)/.test(candidate) || /\/[^/]+\.[A-Za-z0-9]{1,8}$/.test(candidate);
}

/**
 * Generic secrets in detect-secrets' manner: a base64 or hex string assigned to a key named like a
 * secret (`"token": "…"`, `password=…`, `--api-key …`, or the field name), long enough and random
 * enough (`guard.detectors.entropy`, measured with `estimatedEntropy`). Pagination and
 * idempotency tokens are not secrets; nor are UUIDs, documentation examples, paths and words.
 */
export function highEntropySecret(entropy: GuardSettings['detectors']['entropy']): Detector {
  // A value is tied to a key in the text or, when it opens the text, to the field name.
  const leadingToken = new RegExp(`^["'\\\\\\s:=>]*[${TOKEN_CHARS}]{${entropy.minLength}}`);
  return {
    id: 'HIGH_ENTROPY_SECRET',
    category: 'CREDENTIALS',
    severity: 'HIGH',
    description: `High-entropy strings (base64 ≥ ${entropy.base64Limit}, hex ≥ ${entropy.hexLimit} bits per character, ≥ ${entropy.minLength} characters) assigned to a secret-like key.`,
    pattern: new RegExp(
      `(?:^|[^${TOKEN_CHARS}])([${TOKEN_CHARS}]{${entropy.minLength},512}={0,2})(?![=${TOKEN_CHARS}])`,
      'g',
    ),
    prefilter: (text) =>
      hasRun(text, TOKEN_TABLE, entropy.minLength, 512) &&
      (SECRET_KEY.test(text) || leadingToken.test(text)),
    validate: (candidate, where) => {
      const key = governingKey(where);
      if (key === undefined || !SECRET_KEY.test(key) || NOT_SECRET_KEY.test(key)) return false;
      const body = candidate.replace(/=+$/, '');
      // AWS documentation's placeholders (…EXAMPLEKEY) are published, as Macie treats them.
      if (UUID.test(body) || body.includes('EXAMPLE') || pathLike(body)) return false;
      return mixedEnough(body) && highEntropy(body, entropy);
    },
  };
}
