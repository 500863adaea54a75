import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { configSchema, type ConfigInput } from '../../src/config/index.js';
import { Guard, redactionMarker, type CandidateContext } from '../../src/guard/index.js';
import { governingKey, keywordBefore } from '../../src/guard/detectors/context.js';
import {
  base64urlJsonObject,
  basicCredentials,
  derSequence,
  elevenProof,
  estimatedEntropy,
  franceNir,
  highEntropy,
  iso7064Mod97,
  italyFiscalCode,
  luhn,
  mod97,
  shannonEntropy,
  spainDni,
  spainNie,
  strictBase64,
  ukNationalInsuranceNumber,
  usaSocialSecurityNumber,
  verhoeff,
} from '../../src/guard/detectors/validators.js';
import { corpus } from './corpus.js';

function guardOf(guard: NonNullable<ConfigInput['guard']> = {}): Guard {
  return new Guard(configSchema.parse({ guard }).guard);
}

function ids(guard: Guard, text: string, field?: string): string[] {
  return guard.detectors.detect(text, field).map((detection) => detection.detector.id);
}

function at(text: string, candidate: string, field?: string): CandidateContext {
  const start = text.indexOf(candidate);
  return { text, start, end: start + candidate.length, ...(field ? { field } : {}) };
}

test('Luhn: card test numbers pass, a changed digit fails', () => {
  for (const number of ['4111111111111111', '378282246310005', '79927398713', '6011000990139424'])
    assert.ok(luhn(number), number);
  for (const number of ['4111111111111112', '79927398710', '1', '', '4111-1111'])
    assert.ok(!luhn(number), number);
});

test('mod 97: remainders and the IBAN form of ISO 7064', () => {
  assert.equal(mod97('97'), 0);
  assert.equal(mod97('3214282912345698765432161182'), 1);
  assert.ok(iso7064Mod97('GB82WEST12345698765432'));
  assert.ok(iso7064Mod97('DE89370400440532013000'));
  assert.ok(!iso7064Mod97('GB82WEST12345698765433'));
  assert.ok(!iso7064Mod97('gb82west12345698765432'), 'upper case only');
});

test('Shannon entropy and its bias-corrected estimate', () => {
  assert.equal(shannonEntropy(''), 0);
  assert.equal(shannonEntropy('aaaa'), 0);
  assert.equal(shannonEntropy('abab'), 1);
  assert.equal(shannonEntropy('abcdefgh'), 3);
  assert.ok(estimatedEntropy('abcdefgh') > shannonEntropy('abcdefgh'));
  assert.equal(estimatedEntropy('aaaa'), 0, 'one symbol needs no correction');
  const limits = { base64Limit: 4.5, hexLimit: 3 };
  assert.ok(highEntropy('Zk3pQ9xWm2LrT7vB4nY8sD1hJ6cFa0Qe', limits));
  assert.ok(highEntropy('8c5ba8f3e2d94f0b9a7c61d2e4f5a6b7', limits));
  assert.ok(!highEntropy('deviceShadowUpdateAcceptedHandler', limits));
  assert.ok(!highEntropy('0123012301230123012301230123', limits), 'all digits pay a penalty');
  assert.ok(!highEntropy('Zk3pQ9xWm2LrT7vB4nY8sD1hJ6cFa0Qe', { base64Limit: 5.8, hexLimit: 3 }));
});

test('US SSN area, group and serial rules', () => {
  assert.ok(usaSocialSecurityNumber('536228791'));
  for (const number of ['000228791', '666228791', '900228791', '536008791', '536220000'])
    assert.ok(!usaSocialSecurityNumber(number), number);
  assert.ok(!usaSocialSecurityNumber('078051120'), 'the Woolworth number');
  assert.ok(!usaSocialSecurityNumber('53622879'), 'eight digits');
});

test('UK National Insurance prefixes', () => {
  assert.ok(ukNationalInsuranceNumber('AB123456C'));
  assert.ok(ukNationalInsuranceNumber('JG103752A'));
  for (const nino of ['QQ123456C', 'DA123456A', 'AO123456A', 'BG123456A', 'ZZ123456A', 'AB123456E'])
    assert.ok(!ukNationalInsuranceNumber(nino), nino);
});

test('national-id checksums against published examples', () => {
  assert.ok(spainDni('12345678Z'));
  assert.ok(!spainDni('12345678A'));
  assert.ok(spainNie('X1234567L'));
  assert.ok(!spainNie('X1234567A'));
  assert.ok(italyFiscalCode('RSSMRA85T10A562S'));
  assert.ok(!italyFiscalCode('RSSMRA85T10A562T'));
  assert.ok(franceNir('255081416802538'));
  assert.ok(!franceNir('255081416802539'));
  assert.ok(franceNir('180122A00100242'), 'Corsica counts 2A as 19');
  assert.ok(elevenProof('123456782'));
  assert.ok(elevenProof('111222333'));
  assert.ok(!elevenProof('111222334'));
  assert.ok(!elevenProof('000000000'));
  assert.ok(verhoeff('2363'), 'the Verhoeff example: 236 has check digit 3');
  assert.ok(!verhoeff('2364'));
  assert.ok(verhoeff('234123412346'));
});

test('decoders: JWT parts, strict base64, Basic credentials, DER', () => {
  const header = Buffer.from('{"alg":"HS256"}').toString('base64url');
  assert.deepEqual(base64urlJsonObject(header), { alg: 'HS256' });
  assert.equal(base64urlJsonObject(Buffer.from('[1,2]').toString('base64url')), undefined);
  assert.equal(base64urlJsonObject(Buffer.from('{"alg"').toString('base64url')), undefined);
  assert.equal(base64urlJsonObject('not*base64'), undefined);

  assert.deepEqual(strictBase64('aGk='), Buffer.from('hi'));
  assert.equal(strictBase64('aGk'), undefined, 'unpadded');
  assert.equal(strictBase64('a=Gk'), undefined);

  assert.ok(basicCredentials(Buffer.from('admin:hunter2').toString('base64')));
  assert.ok(!basicCredentials(Buffer.from('admin').toString('base64')));
  assert.ok(!basicCredentials(Buffer.from(':hunter2').toString('base64')));
  assert.ok(!basicCredentials(Buffer.from('admin:').toString('base64')));

  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const der = privateKey.export({ type: 'pkcs8', format: 'der' });
  assert.ok(derSequence(der));
  assert.ok(!derSequence(der.subarray(0, der.length - 1)));
  assert.ok(!derSequence(Buffer.concat([der, Buffer.from([0])])));
});

test('keyword context: the key a value belongs to, keywords in identifiers', () => {
  const json = '{"nextToken":"abc"}';
  assert.equal(governingKey(at(json, 'abc')), 'nextToken');
  assert.equal(governingKey(at('--auth-token abc', 'abc')), 'auth-token');
  assert.equal(governingKey(at('{\\"apiKey\\":\\"abc\\"}', 'abc')), 'apiKey', 'escaped JSON');
  assert.equal(governingKey(at('abc', 'abc', 'password')), 'password');
  assert.equal(governingKey(at('(abc)', 'abc', 'password')), undefined);

  const ssn = /\bssn\b/i;
  assert.ok(keywordBefore(ssn, 50, at('536228791', '536228791', 'employeeSsn')));
  assert.ok(keywordBefore(ssn, 50, at('{"employee_ssn":"536228791"}', '536228791')));
  assert.ok(!keywordBefore(ssn, 50, at('classname 536228791', '536228791')));
  assert.ok(!keywordBefore(ssn, 5, at('ssn is 536228791', '536228791')), 'too far');
});

test('every built-in detector has a stable id, a category, a severity and one line of description', () => {
  const guard = guardOf();
  const builtin = guard.detectors.detectors;
  assert.ok(builtin.length >= 20);
  for (const detector of builtin) {
    assert.match(detector.id, /^[A-Z][A-Z0-9_]{1,63}$/);
    assert.ok(detector.description.length > 20 && detector.description.length <= 200);
    assert.ok(!detector.description.includes('\n'));
    assert.ok(detector.pattern.global);
  }
  for (const detector of builtin.filter((each) => each.category === 'CREDENTIALS'))
    assert.equal(detector.severity, 'HIGH', `${detector.id}: credentials are HIGH`);
});

test('a custom detector from config: keywords and the luhn, mod97 and entropy validators', () => {
  const guard = guardOf({
    detectors: {
      custom: [
        {
          id: 'LOYALTY_CARD',
          description: 'Loyalty card numbers (Luhn) near the word loyalty.',
          pattern: '\\b(\\d{4} ?\\d{4} ?\\d{4} ?\\d{4})\\b',
          keywords: ['loyalty', 'member no'],
          validator: 'luhn',
        },
        {
          id: 'ACME_ACCOUNT',
          description: 'ACME account numbers with ISO 7064 check digits.',
          pattern: 'ACME-([A-Z]{2}\\d{2}[A-Z0-9]{12})',
          validator: 'mod97',
          severity: 'HIGH',
        },
        {
          id: 'ACME_API_KEY',
          description: 'ACME API keys: acme_ and a random body.',
          pattern: 'acme_([A-Za-z0-9]{32})',
          validator: 'entropy',
          category: 'CREDENTIALS',
        },
      ],
    },
  });
  assert.ok(guard.detectors.get('LOYALTY_CARD'));
  // 9999 9999 9999 9995 passes Luhn and belongs to no card network.
  assert.deepEqual(ids(guard, 'loyalty 9999 9999 9999 9995'), ['LOYALTY_CARD']);
  assert.deepEqual(ids(guard, 'Member No. 9999999999999995'), ['LOYALTY_CARD']);
  assert.deepEqual(ids(guard, 'loyalty 9999 9999 9999 9996'), [], 'fails Luhn');
  assert.deepEqual(ids(guard, 'ticket 9999 9999 9999 9995'), [], 'no keyword');
  assert.deepEqual(ids(guard, '9999999999999995', 'loyaltyNumber'), ['LOYALTY_CARD']);

  // GB11WEST12345698 leaves remainder 1 under ISO 7064 MOD 97-10; GB12… does not.
  assert.deepEqual(ids(guard, 'ref ACME-GB11WEST12345698'), ['ACME_ACCOUNT']);
  assert.deepEqual(ids(guard, 'ref ACME-GB12WEST12345698'), []);

  assert.deepEqual(ids(guard, 'acme_Zk3pQ9xWm2LrT7vB4nY8sD1hJ6cFa0Qe'), ['ACME_API_KEY']);
  assert.deepEqual(ids(guard, `acme_${'ab'.repeat(16)}`), [], 'not random');
});

test('guard.detectors.disabled turns a built-in detector off; an unknown id is a config error', () => {
  const guard = guardOf({ detectors: { disabled: ['IP_ADDRESS', 'EMAIL_ADDRESS'] } });
  assert.equal(guard.detectors.get('IP_ADDRESS'), undefined);
  assert.equal(guard.detectors.get('EMAIL_ADDRESS'), undefined);
  assert.deepEqual(ids(guard, 'alice@example.com from 203.0.113.7'), []);
  assert.deepEqual(ids(guardOf(), 'alice@example.com from 203.0.113.7'), [
    'EMAIL_ADDRESS',
    'IP_ADDRESS',
  ]);
  const parsed = configSchema.safeParse({
    guard: { detectors: { disabled: ['NO_SUCH_DETECTOR'] } },
  });
  assert.ok(!parsed.success);
  assert.match(JSON.stringify(parsed.error.issues), /NO_SUCH_DETECTOR/);
});

test('the entropy settings shape HIGH_ENTROPY_SECRET', () => {
  const token = 'token=Zk3pQ9xWm2LrT7vB4nY8sD1hJ6cFa0Qe';
  assert.deepEqual(ids(guardOf(), token), ['HIGH_ENTROPY_SECRET']);
  assert.deepEqual(ids(guardOf({ detectors: { entropy: { minLength: 40 } } }), token), []);
  assert.deepEqual(ids(guardOf({ detectors: { entropy: { base64Limit: 5.8 } } }), token), []);
});

test('redact() replaces each match with [REDACTED:<detector>] and keeps the rest', () => {
  const guard = guardOf();
  const text =
    'alice@example.com paid with 4111 1111 1111 1111 from postgres://app:s3cr3tP4ss@db.example.com/x';
  assert.equal(
    guard.detectors.redact(text),
    `${redactionMarker('EMAIL_ADDRESS')} paid with ${redactionMarker('CREDIT_CARD_NUMBER')} from postgres://app:${redactionMarker('CONNECTION_STRING_PASSWORD')}@db.example.com/x`,
  );
  assert.equal(
    guard.detectors.redact('Authorization: Basic YWRtaW46aHVudGVyMg=='),
    'Authorization: Basic [REDACTED:HTTP_BASIC_AUTH_HEADER]',
  );
  const redacted = guard.detectors.redact(text);
  assert.equal(guard.detectors.redact(redacted), redacted, 'redacting twice changes nothing');
});

test('certificates in JSON lines (as CreateKeysAndCertificate answers): nothing found, the line stays valid', () => {
  // A PEM body is random base64; its line breaks are escapes in a JSON line. Each line once
  // passed for a secret (the tail of the line before taken for its key) and its redaction cut
  // the escape, so that the audit record no longer parsed.
  const guard = guardOf();
  for (let round = 0; round < 2000; round += 1) {
    const body = randomBytes(600)
      .toString('base64')
      .replace(/(.{64})/g, '$1\n');
    const line = JSON.stringify({
      responseElements: {
        certificatePem: `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`,
      },
    });
    assert.deepEqual(ids(guard, line), [], `round ${round}`);
    assert.equal(guard.detectors.redactJsonLine(line), line);
  }
  const secret = 'Zq3Xk9PwT2mLr8VbN4cYh7JsD1fGa6EoUi5KtW0n';
  const escaped = JSON.stringify({ detail: `first line\naws_secret_access_key\n${secret}` });
  const redacted = guard.detectors.redactJsonLine(escaped);
  assert.deepEqual(JSON.parse(redacted), {
    detail: 'first line\naws_secret_access_key\n[REDACTED:AWS_CREDENTIALS]',
  });
});

test('redactJsonLine keeps JSON valid for every true positive of the corpus, PEM keys included', () => {
  const guard = guardOf();
  const positives = corpus.filter((entry) => entry.expect.length > 0);
  for (const entry of positives) {
    const line = JSON.stringify({
      level: 30,
      msg: 'attribute written',
      ...(entry.field ? { [entry.field]: entry.text } : { value: entry.text }),
    });
    const redacted = guard.detectors.redactJsonLine(line);
    const parsed = JSON.parse(redacted) as Record<string, string>;
    const value = parsed[entry.field ?? 'value'] ?? '';
    for (const id of entry.expect)
      assert.ok(value.includes(redactionMarker(id)), `${id} redacted in ${entry.note ?? id}`);
    assert.deepEqual(
      guard.detectors
        .detect(redacted)
        .filter((detection) => entry.expect.includes(detection.detector.id)),
      [],
      `nothing left to find in ${entry.note ?? entry.expect.join(', ')}`,
    );
  }
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const line = JSON.stringify({ msg: 'rejected', detail: `key was ${pem}` });
  assert.ok(line.includes('\\n'), 'newlines are escaped in the line');
  assert.deepEqual(JSON.parse(guard.detectors.redactJsonLine(line)), {
    msg: 'rejected',
    detail: 'key was [REDACTED:PRIVATE_KEY]\n',
  });
});

test(
  'adversarial 100 kB inputs are processed without catastrophic backtracking',
  { timeout: 10_000 },
  () => {
    // Each input stresses a pattern's repetition: runs of its own characters, its separators, or
    // a prefix with no end. Linear patterns take milliseconds; a backtracking one would not finish.
    const guard = guardOf();
    const inputs = [
      'a'.repeat(100_000),
      '1 '.repeat(50_000),
      '1-'.repeat(50_000),
      '@'.repeat(100_000),
      'a@'.repeat(50_000),
      `${'a.'.repeat(50_000)}@`,
      `x@${'a.'.repeat(50_000)}`,
      `${'a'.repeat(50_000)}@${'b'.repeat(50_000)}.com`,
      '-----BEGIN PRIVATE KEY-----'.repeat(3_700),
      `-----BEGIN PRIVATE KEY-----${'A'.repeat(100_000)}`,
      `-----BEGIN PRIVATE KEY-----\\n${'QUFB\\n'.repeat(16_000)}`,
      `PuTTY-User-Key-File-3: ssh-ed25519\n${'x\n'.repeat(50_000)}`,
      'eyJhbGciOiJIUzI1NiJ9.'.repeat(4_700),
      '1.'.repeat(50_000),
      '1:'.repeat(50_000),
      'a:'.repeat(50_000),
      'fe80::'.repeat(16_000),
      'Bearer '.repeat(14_000),
      'Basic '.repeat(16_000),
      'password='.repeat(11_000),
      'x://a:'.repeat(16_000),
      `a://b:${'c'.repeat(100_000)}`,
      'AKIA'.repeat(25_000),
      '+1'.repeat(50_000),
      '(1) '.repeat(25_000),
      '0'.repeat(100_000),
      `token: ${'Ab3+'.repeat(25_000)}`,
      'token=abc '.repeat(10_000),
      'DE89 '.repeat(20_000),
      'AB 12 '.repeat(16_000),
    ];
    for (const input of inputs) {
      guard.detectors.detect(input);
      guard.detectors.redactJsonLine(JSON.stringify({ msg: input }));
    }
  },
);
