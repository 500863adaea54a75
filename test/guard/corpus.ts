/**
 * The labelled corpus for the built-in detectors: true positives for every detector and near
 * misses (numbers failing their checksum, look-alike addresses, UUIDs and hashes beside keys,
 * version strings beside IPs…), plus the ordinary values of Bulwark's own logs and APIs that no
 * detector may match.
 *
 * No value comes from a real source. Card numbers are the networks' published test numbers, IBANs
 * the registry's examples, national ids invented with their check digit computed. Keys, tokens
 * and passwords are derived here from a hash of a label (`fake`), and private keys are generated
 * when the corpus loads, so nothing secret-looking is committed.
 */
import { createHash, createHmac, generateKeyPairSync, type KeyObject } from 'node:crypto';

export interface CorpusEntry {
  text: string;
  /** Detector ids expected in `text`; empty for a negative. */
  expect: string[];
  /** The field name the text comes from (a JSON key, an attribute name), when it matters. */
  field?: string;
  note?: string;
}

const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const DIGITS = '0123456789';
const ALNUM = UPPER + LOWER + DIGITS;
const BASE64 = ALNUM + '+/';
const BASE64URL = ALNUM + '-_';
const BASE32 = UPPER + '234567';
const HEX = '0123456789abcdef';

/** A deterministic string of `length` characters from `alphabet`, derived from `label`. */
function fake(label: string, length: number, alphabet: string): string {
  let out = '';
  for (let counter = 0; out.length < length; counter += 1) {
    const digest = createHash('sha256').update(`${label}#${counter}`).digest();
    for (const byte of digest) {
      // Rejection sampling keeps every character equally likely.
      if (out.length < length && byte < 256 - (256 % alphabet.length))
        out += alphabet[byte % alphabet.length];
    }
  }
  return out;
}

function base64url(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString(
    'base64url',
  );
}

function jwt(header: unknown, payload: unknown, key = 'corpus'): string {
  const signingInput = `${base64url(header)}.${base64url(payload)}`;
  return `${signingInput}.${createHmac('sha256', key).update(signingInput).digest('base64url')}`;
}

function basic(credentials: string): string {
  return Buffer.from(credentials).toString('base64');
}

/** PEM text with lines of `width` characters, as OpenSSH and GnuPG write them. */
function armor(label: string, body: Buffer, width = 64, headers: string[] = []): string {
  const base64 = body.toString('base64');
  const lines = base64.match(new RegExp(`.{1,${width}}`, 'g')) ?? [];
  const head = headers.length > 0 ? [...headers, ''] : [];
  return [`-----BEGIN ${label}-----`, ...head, ...lines, `-----END ${label}-----`].join('\n');
}

function pem(key: KeyObject, type: 'pkcs8' | 'pkcs1' | 'sec1', passphrase?: string): string {
  return key.export({
    type,
    format: 'pem',
    ...(passphrase ? { cipher: 'aes-256-cbc', passphrase } : {}),
  }) as string;
}

const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
const ed25519 = generateKeyPairSync('ed25519');

const PKCS8_EC = pem(ec.privateKey, 'pkcs8');
const SEC1_EC = pem(ec.privateKey, 'sec1');
const PKCS1_RSA = pem(rsa.privateKey, 'pkcs1');
const PKCS8_RSA = pem(rsa.privateKey, 'pkcs8');
const ENCRYPTED_PKCS8 = pem(ed25519.privateKey, 'pkcs8', 'corpus passphrase');
const LEGACY_ENCRYPTED_RSA = pem(rsa.privateKey, 'pkcs1', 'corpus passphrase');
const OPENSSH = armor(
  'OPENSSH PRIVATE KEY',
  Buffer.concat([
    Buffer.from('openssh-key-v1\0', 'latin1'),
    Buffer.from(fake('openssh', 200, ALNUM)),
  ]),
  70,
);
const PGP = armor(
  'PGP PRIVATE KEY BLOCK',
  Buffer.concat([Buffer.from([0x95, 0x01, 0xd8]), Buffer.from(fake('pgp', 160, ALNUM))]),
  64,
  ['Version: GnuPG v2'],
).replace('\n-----END', `\n=${fake('pgp-crc', 4, BASE64)}\n-----END`);
const PUTTY = [
  'PuTTY-User-Key-File-3: ssh-ed25519',
  'Encryption: none',
  'Comment: corpus-key',
  'Public-Lines: 2',
  fake('putty-public-1', 64, BASE64),
  fake('putty-public-2', 4, BASE64),
  'Private-Lines: 1',
  fake('putty-private', 44, BASE64),
  `Private-MAC: ${fake('putty-mac', 64, HEX)}`,
].join('\n');
const PUBLIC_KEY = ec.publicKey.export({ type: 'spki', format: 'pem' }) as string;

/** The bytes of a PEM body, with the first DER length byte changed (a corrupted key). */
function truncated(text: string): string {
  const lines = text.trim().split('\n');
  return [...lines.slice(0, 2), ...lines.slice(3)].join('\n');
}

const awsKeyId = (label: string, prefix = 'AKIA') => prefix + fake(label, 16, BASE32);
const awsSecret = (label: string) => fake(label, 40, BASE64);

const JWT_HS256 = jwt({ alg: 'HS256', typ: 'JWT' }, { sub: 'device-17', iat: 1705312200 });
const JWT_RS256 = jwt(
  { alg: 'RS256', kid: fake('kid', 12, ALNUM) },
  { iss: 'https://auth.example.com', aud: 'bulwark', exp: 1705315800, scope: 'iot:publish' },
);
const JWT_NONE = `${base64url({ alg: 'none' })}.${base64url({ sub: 'admin', role: 'owner' })}.`;

const SHA256 = createHash('sha256').update('certificate').digest('hex');
const SHA1 = createHash('sha1').update('commit').digest('hex');
const NEXT_TOKEN = Buffer.from(
  JSON.stringify({ v: 1, offset: 200, after: 'thing-0199', at: 1705312200123 }),
).toString('base64');

const positives: CorpusEntry[] = [
  // EMAIL_ADDRESS
  { text: 'alice@example.com', expect: ['EMAIL_ADDRESS'], note: 'a thing name' },
  { text: 'Contact Bob.Smith+iot@mail.example.co.uk for access', expect: ['EMAIL_ADDRESS'] },
  { text: '{"owner":"ops_team@bulwark.io","floor":3}', expect: ['EMAIL_ADDRESS'] },
  { text: 'mailto:carol@example.org', expect: ['EMAIL_ADDRESS'] },
  { text: 'From: "Dave" <dave@example.net>', expect: ['EMAIL_ADDRESS'] },
  { text: 'first.last@sub.domain.travel', expect: ['EMAIL_ADDRESS'] },
  { text: 'user%tag@example.com', expect: ['EMAIL_ADDRESS'] },
  { text: 'jo@ex.io', expect: ['EMAIL_ADDRESS'] },
  { text: 'email=erin.o-neil@example.com&x=1', expect: ['EMAIL_ADDRESS'] },
  { text: 'owner:FRANK@EXAMPLE.COM', expect: ['EMAIL_ADDRESS'] },
  { text: 'escalate to grace@example.com.', expect: ['EMAIL_ADDRESS'] },
  { text: 'heidi@xn--bcher-kva.example', expect: ['EMAIL_ADDRESS'], note: 'IDN domain' },

  // PHONE_NUMBER
  { text: 'call +1 415 555 2671 now', expect: ['PHONE_NUMBER'] },
  { text: '+44 20 7946 0958', expect: ['PHONE_NUMBER'] },
  { text: '{"contact":"+4930901820"}', expect: ['PHONE_NUMBER'] },
  { text: 'Büro: +33 1 42 68 53 00', expect: ['PHONE_NUMBER'] },
  { text: 'Tokyo office +81 3-1234-5678', expect: ['PHONE_NUMBER'] },
  { text: '+61 2 9876 5432', expect: ['PHONE_NUMBER'] },
  { text: 'escalation +1 (202) 456-1111', expect: ['PHONE_NUMBER'] },
  { text: '+91 98765 43210', expect: ['PHONE_NUMBER'] },
  { text: 'tel: (202) 456-1111', expect: ['PHONE_NUMBER'], note: 'national, keyword' },
  { text: 'Phone: 020 7946 0958', expect: ['PHONE_NUMBER'] },
  { text: 'mobile 0612345678', expect: ['PHONE_NUMBER'], note: 'Dutch mobile' },
  { text: 'Fax 030 901820', expect: ['PHONE_NUMBER'] },
  { text: '0044 20 7946 0958', expect: ['PHONE_NUMBER'], field: 'phoneNumber' },
  { text: '415-555-2671', expect: ['PHONE_NUMBER'], field: 'phone' },
  { text: 'call me on 06 1234 5678', expect: ['PHONE_NUMBER'] },

  // CREDIT_CARD_NUMBER
  { text: '4111111111111111', expect: ['CREDIT_CARD_NUMBER'] },
  { text: 'card 4111 1111 1111 1111 exp 12/27', expect: ['CREDIT_CARD_NUMBER'] },
  { text: '4012-8888-8888-1881', expect: ['CREDIT_CARD_NUMBER'] },
  { text: '5555555555554444', expect: ['CREDIT_CARD_NUMBER'] },
  { text: '{"pan":"5105105105105100"}', expect: ['CREDIT_CARD_NUMBER'] },
  { text: '2223003122003222', expect: ['CREDIT_CARD_NUMBER'], note: 'Mastercard 2-series' },
  { text: 'amex 3782 822463 10005', expect: ['CREDIT_CARD_NUMBER'] },
  { text: '371449635398431', expect: ['CREDIT_CARD_NUMBER'] },
  { text: '6011 1111 1111 1117', expect: ['CREDIT_CARD_NUMBER'] },
  { text: '6011000990139424', expect: ['CREDIT_CARD_NUMBER'] },
  { text: '3530111333300000', expect: ['CREDIT_CARD_NUMBER'], note: 'JCB' },
  { text: '3566002020360505', expect: ['CREDIT_CARD_NUMBER'] },
  { text: 'diners 30569309025904', expect: ['CREDIT_CARD_NUMBER'] },
  { text: '38520000023237', expect: ['CREDIT_CARD_NUMBER'] },
  { text: '6200000000000005', expect: ['CREDIT_CARD_NUMBER'], note: 'UnionPay' },
  { text: '6205500000000000004', expect: ['CREDIT_CARD_NUMBER'], note: 'UnionPay, 19 digits' },
  { text: 'tag value 4242424242424242', expect: ['CREDIT_CARD_NUMBER'] },
  { text: '4000056655665556', expect: ['CREDIT_CARD_NUMBER'] },
  { text: '4222222222222', expect: ['CREDIT_CARD_NUMBER'], note: 'Visa, 13 digits' },
  { text: 'paid with 6555900000604105.', expect: ['CREDIT_CARD_NUMBER'] },

  // IBAN
  { text: 'GB82WEST12345698765432', expect: ['IBAN'] },
  { text: 'IBAN: DE89 3704 0044 0532 0130 00', expect: ['IBAN'] },
  { text: 'FR1420041010050500013M02606', expect: ['IBAN'] },
  { text: 'FR14 2004 1010 0505 0001 3M02 606', expect: ['IBAN'] },
  { text: '{"iban":"ES9121000418450200051332"}', expect: ['IBAN'] },
  { text: 'IT60X0542811101000000123456', expect: ['IBAN'] },
  { text: 'NL91 ABNA 0417 1643 00', expect: ['IBAN'] },
  { text: 'BE68539007547034', expect: ['IBAN'] },
  { text: 'CH9300762011623852957', expect: ['IBAN'] },
  { text: 'AT611904300234573201', expect: ['IBAN'] },
  { text: 'pay to PL61109010140000071219812874', expect: ['IBAN'] },
  { text: 'SE4550000000058398257466', expect: ['IBAN'] },
  { text: 'NO9386011117947', expect: ['IBAN'] },
  { text: 'DK5000400440116243', expect: ['IBAN'] },
  { text: 'IE29 AIBK 9311 5212 3456 78', expect: ['IBAN'] },
  { text: 'PT50000201231234567890154', expect: ['IBAN'] },
  { text: 'GB82 WEST 1234 5698 7654 32', expect: ['IBAN'] },
  { text: 'SA0380000000608010167519', expect: ['IBAN'] },

  // USA_SOCIAL_SECURITY_NUMBER
  { text: 'SSN: 536-22-8791', expect: ['USA_SOCIAL_SECURITY_NUMBER'] },
  { text: '536-22-8791', expect: ['USA_SOCIAL_SECURITY_NUMBER'] },
  { text: 'social security number 412557890', expect: ['USA_SOCIAL_SECURITY_NUMBER'] },
  { text: 'ssn=287 65 4321', expect: ['USA_SOCIAL_SECURITY_NUMBER'] },
  { text: '{"ssn":"219-45-6789"}', expect: ['USA_SOCIAL_SECURITY_NUMBER'] },
  { text: '536228791', expect: ['USA_SOCIAL_SECURITY_NUMBER'], field: 'employee_ssn' },
  { text: 'applicant 772-01-4410 approved', expect: ['USA_SOCIAL_SECURITY_NUMBER'] },
  { text: 'SS# 665123456', expect: ['USA_SOCIAL_SECURITY_NUMBER'] },

  // UK_NATIONAL_INSURANCE_NUMBER
  { text: 'NI number: AB123456C', expect: ['UK_NATIONAL_INSURANCE_NUMBER'] },
  { text: 'National Insurance JG 10 37 52 A', expect: ['UK_NATIONAL_INSURANCE_NUMBER'] },
  { text: 'nino=CE123456D', expect: ['UK_NATIONAL_INSURANCE_NUMBER'] },
  { text: 'AB 12 34 56 C', expect: ['UK_NATIONAL_INSURANCE_NUMBER'], note: 'printed form' },
  { text: 'TW998877B', expect: ['UK_NATIONAL_INSURANCE_NUMBER'], field: 'nationalInsuranceNumber' },

  // Spain
  { text: 'DNI: 12345678Z', expect: ['SPAIN_DNI_NUMBER'] },
  { text: 'NIF 87654321X', expect: ['SPAIN_DNI_NUMBER'] },
  { text: '{"dni":"45678912-S"}', expect: ['SPAIN_DNI_NUMBER'] },
  { text: '00000023T', expect: ['SPAIN_DNI_NUMBER'], field: 'titularDni' },
  { text: 'Documento Nacional de Identidad 73829104R', expect: ['SPAIN_DNI_NUMBER'] },
  { text: 'NIE X1234567L', expect: ['SPAIN_NIE_NUMBER'] },
  { text: 'nie: Y1234567X', expect: ['SPAIN_NIE_NUMBER'] },
  { text: 'Z7654321H', expect: ['SPAIN_NIE_NUMBER'], field: 'nie' },
  { text: 'número de extranjero X9876543K', expect: ['SPAIN_NIE_NUMBER'] },

  // ITALY_FISCAL_CODE
  { text: 'RSSMRA85T10A562S', expect: ['ITALY_FISCAL_CODE'] },
  { text: 'codice fiscale: BNCGVN70A01H501H', expect: ['ITALY_FISCAL_CODE'] },
  { text: '{"cf":"VRDLGU80R52F205K"}', expect: ['ITALY_FISCAL_CODE'] },
  { text: 'FRRCHR90E15L219A', expect: ['ITALY_FISCAL_CODE'] },

  // FRANCE_NIR
  { text: '2 55 08 14 168 025 38', expect: ['FRANCE_NIR'] },
  { text: 'NIR 185057800608491', expect: ['FRANCE_NIR'] },
  { text: 'n° sécurité sociale : 2 93 03 75 120 012 36', expect: ['FRANCE_NIR'] },
  { text: '1 80 12 2A 001 002 42', expect: ['FRANCE_NIR'], note: 'Corsica' },

  // NETHERLANDS_BSN
  { text: 'BSN: 111222333', expect: ['NETHERLANDS_BSN'] },
  { text: 'burgerservicenummer 123456782', expect: ['NETHERLANDS_BSN'] },
  { text: 'bsn=2345.67.892', expect: ['NETHERLANDS_BSN'] },
  { text: '987654329', expect: ['NETHERLANDS_BSN'], field: 'bsn' },

  // INDIA_AADHAAR_NUMBER
  { text: 'Aadhaar: 2341 2341 2346', expect: ['INDIA_AADHAAR_NUMBER'] },
  { text: 'aadhaar no 4567-8912-3451', expect: ['INDIA_AADHAAR_NUMBER'] },
  { text: '987654321096', expect: ['INDIA_AADHAAR_NUMBER'], field: 'aadhaarNumber' },
  { text: 'UIDAI 5678 1234 5678', expect: ['INDIA_AADHAAR_NUMBER'] },

  // Passports
  { text: 'passport no. 912345678', expect: ['USA_PASSPORT_NUMBER'] },
  { text: 'Passport Number: A12345678', expect: ['USA_PASSPORT_NUMBER'] },
  { text: '{"passport":"530123489"}', expect: ['USA_PASSPORT_NUMBER'] },
  { text: 'US passport 487239165', expect: ['USA_PASSPORT_NUMBER'] },
  { text: 'UK passport number 123456789', expect: ['UK_PASSPORT_NUMBER'] },
  { text: 'British passport: 987654321', expect: ['UK_PASSPORT_NUMBER'] },
  { text: 'HM Passport Office ref, passport 512348796', expect: ['UK_PASSPORT_NUMBER'] },
  { text: 'passport (GBR) 704512398', expect: ['UK_PASSPORT_NUMBER'] },

  // IP_ADDRESS
  { text: 'client 203.0.113.7 connected', expect: ['IP_ADDRESS'] },
  { text: '10.0.0.1:8883', expect: ['IP_ADDRESS'] },
  { text: '{"remoteAddress":"198.51.100.23"}', expect: ['IP_ADDRESS'] },
  { text: '[2001:db8::1]:443', expect: ['IP_ADDRESS'] },
  { text: 'peer ::1', expect: ['IP_ADDRESS'] },
  { text: 'fe80::1ff:fe23:4567:890a%eth0', expect: ['IP_ADDRESS'] },
  { text: '2001:0db8:85a3:0000:0000:8a2e:0370:7334', expect: ['IP_ADDRESS'] },
  { text: '::ffff:192.0.2.128', expect: ['IP_ADDRESS'] },
  { text: 'X-Forwarded-For: 192.0.2.1, 198.51.100.2', expect: ['IP_ADDRESS'] },
  { text: 'gateway=192.168.1.254', expect: ['IP_ADDRESS'] },
  { text: 'ip:172.16.254.1', expect: ['IP_ADDRESS'] },
  { text: 'host 2606:4700:4700::1111 resolved', expect: ['IP_ADDRESS'] },
  { text: 'FE80::0202:B3FF:FE1E:8329', expect: ['IP_ADDRESS'] },
  { text: 'broadcast to 255.255.255.255', expect: ['IP_ADDRESS'] },
  { text: 'from 8.8.8.8.', expect: ['IP_ADDRESS'], note: 'sentence full stop' },

  // AWS_ACCESS_KEY_ID
  { text: awsKeyId('key-1'), expect: ['AWS_ACCESS_KEY_ID'] },
  { text: `aws_access_key_id = ${awsKeyId('key-2')}`, expect: ['AWS_ACCESS_KEY_ID'] },
  { text: `{"AccessKeyId":"${awsKeyId('key-3', 'ASIA')}"}`, expect: ['AWS_ACCESS_KEY_ID'] },
  {
    text: `Credential=${awsKeyId('key-4')}/20240115/us-east-1/iotdata/aws4_request`,
    expect: ['AWS_ACCESS_KEY_ID'],
  },
  { text: `export AWS_ACCESS_KEY_ID=${awsKeyId('key-5')}`, expect: ['AWS_ACCESS_KEY_ID'] },
  { text: awsKeyId('key-6', 'ABIA'), expect: ['AWS_ACCESS_KEY_ID'] },
  { text: awsKeyId('key-7', 'ACCA'), expect: ['AWS_ACCESS_KEY_ID'] },
  { text: `clientId=${awsKeyId('key-8', 'A3TX')}`, expect: ['AWS_ACCESS_KEY_ID'] },

  // AWS_CREDENTIALS
  { text: `aws_secret_access_key = ${awsSecret('secret-1')}`, expect: ['AWS_CREDENTIALS'] },
  { text: `{"SecretAccessKey": "${awsSecret('secret-2')}"}`, expect: ['AWS_CREDENTIALS'] },
  { text: `AWS_SECRET_ACCESS_KEY=${awsSecret('secret-3')}`, expect: ['AWS_CREDENTIALS'] },
  {
    text: `Set-AWSCredential -AccessKey ${awsKeyId('key-9')} -SecretKey ${awsSecret('secret-4')}`,
    expect: ['AWS_ACCESS_KEY_ID', 'AWS_CREDENTIALS'],
  },
  { text: `credentials: ${awsSecret('secret-5')}`, expect: ['AWS_CREDENTIALS'] },
  { text: awsSecret('secret-6'), expect: ['AWS_CREDENTIALS'], field: 'aws_secret_access_key' },
  { text: `secret key ${awsSecret('secret-7')}`, expect: ['AWS_CREDENTIALS'] },
  {
    text: `mqtt client sensor-${awsSecret('secret-8')} credentials rejected`,
    expect: [],
    note: 'a keyword after the value does not count',
  },
  {
    text: `[default]\naws_access_key_id = ${awsKeyId('key-10')}\naws_secret_access_key = ${awsSecret('secret-9')}`,
    expect: ['AWS_ACCESS_KEY_ID', 'AWS_CREDENTIALS'],
  },

  // PRIVATE_KEY
  { text: PKCS8_EC, expect: ['PRIVATE_KEY'], note: 'PKCS #8 EC' },
  { text: SEC1_EC, expect: ['PRIVATE_KEY'], note: 'SEC 1' },
  { text: PKCS1_RSA, expect: ['PRIVATE_KEY'], note: 'PKCS #1' },
  { text: `key material follows ${PKCS8_RSA} end`, expect: ['PRIVATE_KEY'] },
  { text: ENCRYPTED_PKCS8, expect: ['PRIVATE_KEY'], note: 'encrypted PKCS #8' },
  { text: LEGACY_ENCRYPTED_RSA, expect: ['PRIVATE_KEY'], note: 'Proc-Type: 4,ENCRYPTED' },
  { text: OPENSSH, expect: ['PRIVATE_KEY'] },
  { text: PGP, expect: ['PRIVATE_KEY'] },
  { text: PUTTY, expect: ['PRIVATE_KEY'] },
  {
    text: JSON.stringify({ msg: 'attribute set', value: PKCS8_EC }),
    expect: ['PRIVATE_KEY'],
    note: 'a JSON line: newlines as \\n escapes',
  },
  {
    text: JSON.stringify({ event: JSON.stringify({ value: SEC1_EC }) }),
    expect: ['PRIVATE_KEY'],
    note: 'JSON within JSON: \\\\n escapes',
  },
  { text: PKCS1_RSA.replace(/\n/g, '\r\n'), expect: ['PRIVATE_KEY'], note: 'CRLF' },
  { text: JSON.stringify({ ppk: PUTTY }), expect: ['PRIVATE_KEY'] },

  // JSON_WEB_TOKEN
  { text: JWT_HS256, expect: ['JSON_WEB_TOKEN'] },
  { text: `Authorization: Bearer ${JWT_RS256}`, expect: ['JSON_WEB_TOKEN'] },
  { text: `{"id_token":"${JWT_RS256}"}`, expect: ['JSON_WEB_TOKEN'] },
  { text: `wss://iot.example.com/mqtt?token=${JWT_HS256}&x=1`, expect: ['JSON_WEB_TOKEN'] },
  { text: JWT_NONE, expect: ['JSON_WEB_TOKEN'], note: 'alg none, empty signature' },
  {
    text: jwt({ typ: 'JWT', alg: 'ES256' }, { sub: fake('sub', 10, ALNUM), n: [1, 2] }),
    expect: ['JSON_WEB_TOKEN'],
  },
  {
    text: `${base64url('{\n  "alg": "HS512"\n}')}.${base64url({ a: 1 })}.${fake('sig', 43, BASE64URL)}`,
    expect: ['JSON_WEB_TOKEN'],
    note: 'pretty-printed header (ewog…)',
  },

  // HTTP_BEARER_TOKEN
  {
    text: `Authorization: Bearer ${fake('bearer-1', 40, BASE64URL)}`,
    expect: ['HTTP_BEARER_TOKEN'],
  },
  {
    text: `curl -H "Authorization: Bearer ${fake('bearer-2', 32, HEX)}" https://api.example.com`,
    expect: ['HTTP_BEARER_TOKEN'],
  },
  { text: `bearer ${fake('bearer-3', 24, ALNUM)}`, expect: ['HTTP_BEARER_TOKEN'] },
  { text: `BEARER ${fake('bearer-4', 48, BASE64)}==`, expect: ['HTTP_BEARER_TOKEN'] },
  {
    text: `{"headers":{"authorization":"Bearer ghp_${fake('bearer-5', 36, ALNUM)}"}}`,
    expect: ['HTTP_BEARER_TOKEN'],
  },
  { text: `sent Bearer ${fake('bearer-6', 20, ALNUM)}.`, expect: ['HTTP_BEARER_TOKEN'] },

  // HTTP_BASIC_AUTH_HEADER
  {
    text: `Authorization: Basic ${basic('device-7:Sup3rS3cret!')}`,
    expect: ['HTTP_BASIC_AUTH_HEADER'],
  },
  { text: `basic ${basic('admin:hunter2')}`, expect: ['HTTP_BASIC_AUTH_HEADER'] },
  {
    text: `{"authorization":"Basic ${basic('ingest@example:pa ss')}"}`,
    expect: ['HTTP_BASIC_AUTH_HEADER'],
  },
  { text: `Basic ${basic('u:pw')}`, expect: ['HTTP_BASIC_AUTH_HEADER'] },
  {
    text: `proxy-authorization: Basic ${basic(`svc:${fake('basic-pw', 18, ALNUM)}`)}`,
    expect: ['HTTP_BASIC_AUTH_HEADER'],
  },

  // CONNECTION_STRING_PASSWORD
  {
    text: 'postgres://app:s3cr3tP4ss@db.example.com:5432/bulwark',
    expect: ['CONNECTION_STRING_PASSWORD'],
  },
  {
    text: 'mysql://root:Tr0ub4dor&3@10.0.0.5/telemetry',
    expect: ['CONNECTION_STRING_PASSWORD', 'IP_ADDRESS'],
  },
  {
    text: `mongodb+srv://ingest:${fake('mongo', 16, ALNUM)}@cluster0.example.net/?retryWrites=true`,
    expect: ['CONNECTION_STRING_PASSWORD'],
  },
  { text: 'redis://:hunter2@cache:6379/0', expect: ['CONNECTION_STRING_PASSWORD'] },
  { text: 'amqps://bridge:Qz9!x7@mq.example.com', expect: ['CONNECTION_STRING_PASSWORD'] },
  {
    text: 'Server=tcp:db.example.com,1433;Database=app;User Id=sa;Password=Pa55w0rd!;',
    expect: ['CONNECTION_STRING_PASSWORD'],
  },
  {
    text: 'jdbc:sqlserver://db:1433;databaseName=app;user=sa;password=Xk9#mQ2v;',
    expect: ['CONNECTION_STRING_PASSWORD'],
  },
  {
    text: 'Driver={ODBC Driver 18 for SQL Server};Server=db;Uid=app;Pwd=winter2024;',
    expect: ['CONNECTION_STRING_PASSWORD'],
  },
  {
    text: 'jdbc:mysql://db.example.com/app?user=app&password=letmein42',
    expect: ['CONNECTION_STRING_PASSWORD'],
  },
  {
    text: '{"dsn":"postgresql://reporter:hunter2@pg.internal/metrics"}',
    expect: ['CONNECTION_STRING_PASSWORD'],
  },
  {
    text: 'Data Source=sql01;Initial Catalog=iot;PASSWORD = qwerty123 ;',
    expect: ['CONNECTION_STRING_PASSWORD'],
  },

  // HIGH_ENTROPY_SECRET
  { text: `{"apiKey":"${fake('he-1', 32, ALNUM)}"}`, expect: ['HIGH_ENTROPY_SECRET'] },
  { text: `token=${fake('he-2', 40, HEX)}`, expect: ['HIGH_ENTROPY_SECRET'] },
  {
    text: `"client_secret": "${fake('he-3', 40, BASE64URL)}"`,
    expect: ['HIGH_ENTROPY_SECRET'],
  },
  { text: `X-Api-Key: ${fake('he-4', 32, ALNUM)}`, expect: ['HIGH_ENTROPY_SECRET'] },
  {
    text: `bulwark-agent --auth-token ${fake('he-5', 36, BASE64)}`,
    expect: ['HIGH_ENTROPY_SECRET'],
  },
  { text: `secret: ${fake('he-6', 64, HEX)}`, expect: ['HIGH_ENTROPY_SECRET'] },
  {
    text: `{"password":"${fake('he-7', 24, ALNUM + '!#$%*@^')}"}`,
    expect: ['HIGH_ENTROPY_SECRET'],
  },
  {
    text: `{"sessionToken":"${fake('he-8', 64, BASE64)}"}`,
    expect: ['HIGH_ENTROPY_SECRET'],
    note: 'STS session token',
  },
  { text: fake('he-9', 32, ALNUM), field: 'apiToken', expect: ['HIGH_ENTROPY_SECRET'] },
  { text: `GITHUB_TOKEN=ghp_${fake('he-10', 36, ALNUM)}`, expect: ['HIGH_ENTROPY_SECRET'] },
  { text: `private_key: ${fake('he-11', 44, BASE64)}`, expect: ['HIGH_ENTROPY_SECRET'] },
  { text: `webhook_secret='${fake('he-12', 28, ALNUM)}'`, expect: ['HIGH_ENTROPY_SECRET'] },
  {
    text: `{"credentials":{"signingKey":"${fake('he-13', 43, BASE64URL)}="}}`,
    expect: ['HIGH_ENTROPY_SECRET'],
  },
  { text: `passwd ${fake('he-14', 22, ALNUM)}`, expect: ['HIGH_ENTROPY_SECRET'] },

  // Several detectors in one text.
  {
    text: 'alice@example.com called from +1 202 456 1111 at 203.0.113.9',
    expect: ['EMAIL_ADDRESS', 'PHONE_NUMBER', 'IP_ADDRESS'],
  },
  {
    text: JSON.stringify({
      name: 'pump-7',
      attributes: {
        owner: 'bob@example.org',
        card: '4111111111111111',
        iban: 'DE89370400440532013000',
      },
    }),
    expect: ['EMAIL_ADDRESS', 'CREDIT_CARD_NUMBER', 'IBAN'],
  },
];

const nearMisses: CorpusEntry[] = [
  // E-mail look-alikes
  { text: 'user@localhost', expect: [], note: 'no top-level domain' },
  { text: 'a@b', expect: [] },
  { text: 'icon@2x.png', expect: [], note: 'retina asset name' },
  { text: 'npm i @aws-sdk/client-iot@3.1169.0', expect: [] },
  { text: 'john..doe@example.com', expect: [], note: 'consecutive dots' },
  { text: 'foo@bar.c', expect: [], note: 'one-letter TLD' },
  { text: 'ping @channel about the outage', expect: [] },
  { text: 'support at example dot com', expect: [] },
  { text: 'user@@example.com', expect: [] },
  { text: 'name@domain', expect: [] },
  { text: 'logo@3x.jpg', expect: [] },

  // Phone look-alikes
  { text: 'serial 4155552671', expect: [], note: 'no keyword, no +' },
  { text: 'order 02079460958 shipped', expect: [] },
  { text: 'tel: 12345', expect: [], note: 'too short' },
  { text: '+1 000 000 0000', expect: [], note: 'invalid numbering plan' },
  { text: 'call at 2024-01-15 10:30', expect: [], note: 'a date near a keyword' },
  { text: '+0 123 456 7890', expect: [], note: 'no country code 0' },
  { text: 'build 2.0.0+20240115', expect: [], note: 'semver build metadata' },
  { text: 'offset +0100', expect: [] },
  { text: 'firmware-7 batch 3141592653', expect: [] },
  { text: 'phone: 999999999999999', expect: [] },
  { text: '1e+10 operations', expect: [] },

  // Card look-alikes
  { text: '4111111111111112', expect: [], note: 'fails Luhn' },
  { text: '5555 5555 5555 4445', expect: [], note: 'fails Luhn' },
  { text: '1700000000000', expect: [], note: 'epoch ms' },
  { text: '1705312200123456', expect: [], note: 'epoch µs' },
  { text: '8944500102198304826', expect: [], note: 'SIM ICCID (Luhn-valid)' },
  { text: 'IMEI 490154203237518', expect: [], note: 'Luhn-valid, no network of that length' },
  { text: 'imei 343939910379309', expect: [], note: 'Luhn-valid, Amex-shaped IMEI' },
  { text: '{"id":6274397770345417}', expect: [], note: 'UnionPay-shaped numeric id' },
  { text: '{"deviceSerial":"4036728274286927"}', expect: [], note: 'Visa-shaped serial' },
  { text: '1234567890123456', expect: [] },
  { text: '4111 1111 1111', expect: [], note: '12 digits' },
  { text: '12345678-1234-5678-1234-567812345678', expect: [], note: 'all-digit UUID' },
  { text: '0000 0000 0000 0000', expect: [] },
  { text: '4111 11111 111 1111', expect: [], note: 'no card grouping' },
  { text: '79927398713', expect: [], note: 'Luhn example, too short' },
  { text: 'v4111111111111111x', expect: [], note: 'inside a word' },
  { text: '3.14159265358979323846', expect: [] },
  { text: '9999999999999995', expect: [], note: 'Luhn-valid, no network' },

  // IBAN look-alikes
  { text: 'GB82WEST12345698765433', expect: [], note: 'wrong check digits' },
  { text: 'DE89370400440532013001', expect: [] },
  { text: 'XX89370400440532013000', expect: [], note: 'no such country' },
  { text: 'DE8937040044053201300', expect: [], note: 'one digit short' },
  { text: 'NL91ABNA041716430', expect: [] },
  { text: 'GB82 WEST 1234 5698 7654 33', expect: [] },
  { text: 'US12345678901234567890', expect: [], note: 'no IBAN in the US' },
  { text: 'SN00ABCDEFGHIJKL', expect: [] },

  // SSN look-alikes
  { text: '000-12-3456', expect: [], note: 'area 000' },
  { text: '666-12-3456', expect: [], note: 'area 666' },
  { text: '912-34-5678', expect: [], note: 'area 9xx' },
  { text: '123-00-4567', expect: [], note: 'group 00' },
  { text: '123-45-0000', expect: [], note: 'serial 0000' },
  { text: '078-05-1120', expect: [], note: 'the Woolworth wallet number' },
  { text: 'ticket 536228791', expect: [], note: 'undashed, no keyword' },
  { text: 'call 555-123-4567', expect: [], note: 'phone layout, not a valid US number' },
  { text: '2024-01-1234', expect: [] },
  { text: 'ssn 666228791', expect: [] },

  // Other national ids
  { text: 'QQ 12 34 56 C', expect: [], note: 'Q is never a NINO prefix' },
  { text: 'NI number BG123456A', expect: [], note: 'unallocated prefix' },
  { text: 'NI number AB123456E', expect: [], note: 'suffix E' },
  { text: 'part AB123456C', expect: [], note: 'compact NINO shape, no keyword' },
  { text: 'DNI 12345678A', expect: [], note: 'DNI with the wrong letter' },
  { text: 'NIE X1234567A', expect: [], note: 'NIE with the wrong letter' },
  { text: 'lot 87654321X', expect: [], note: 'DNI-valid, no keyword' },
  { text: 'part X1234567L', expect: [], note: 'NIE-valid, no keyword' },
  { text: 'RSSMRA85T10A562T', expect: [], note: 'wrong check character' },
  { text: 'ABCDEFGHIJKLMNOP', expect: [] },
  { text: '2 55 08 14 168 025 39', expect: [], note: 'wrong NIR key' },
  { text: '185057800608491', expect: [], note: 'compact NIR shape, no keyword' },
  { text: 'BSN: 111222334', expect: [], note: 'fails the 11-proof' },
  { text: 'order 111222333', expect: [], note: 'BSN-valid, no keyword' },
  { text: 'Aadhaar: 2341 2341 2347', expect: [], note: 'fails Verhoeff' },
  { text: 'invoice 2341 2341 2346', expect: [], note: 'no keyword' },
  { text: 'Aadhaar: 1341 2341 2346', expect: [], note: 'starts with 1' },
  { text: 'flight 912345678', expect: [], note: 'no passport keyword' },
  { text: 'passport 000000000', expect: [] },
  { text: 'the passport office opens at 9', expect: [] },

  // IP look-alikes
  { text: '1.2.3.4.5', expect: [], note: 'dotted run of five' },
  { text: 'OID 1.3.6.1.4.1.311.21.7', expect: [] },
  { text: 'version 1.2.3.4', expect: [] },
  { text: '{"firmwareVersion":"4.1.0.12"}', expect: [] },
  { text: '256.1.1.1', expect: [] },
  { text: 'release 1.2.3', expect: [] },
  { text: '10:30:00', expect: [] },
  { text: 'mac 00:1A:2B:3C:4D:5E', expect: [] },
  { text: 'listen 0.0.0.0', expect: [], note: 'unspecified address' },
  { text: 'std::vector<int>', expect: [] },
  { text: 'v1.2.3.4', expect: [] },
  { text: '192.168.001.001', expect: [], note: 'leading zeros' },
  { text: 'a:b:c', expect: [] },
  { text: 'Add::Be', expect: [], note: 'mixed-case hex look-alike' },
  { text: 'bind [::]:8883', expect: [] },

  // AWS look-alikes
  { text: 'AKIAIOSFODNN7EXAMPLE', expect: [], note: 'AWS documentation example' },
  { text: `AKIA${fake('short', 15, BASE32)}`, expect: [], note: '15 characters' },
  { text: 'AKIA1234567890123456', expect: [], note: 'not base32' },
  { text: `AIDA${fake('user-id', 16, BASE32)}`, expect: [], note: 'an IAM user id' },
  { text: `akia${fake('lower', 16, BASE32).toLowerCase()}`, expect: [] },
  { text: `${awsKeyId('key-11')}X`, expect: [], note: 'inside a longer word' },
  {
    text: 'aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    expect: [],
    note: 'AWS documentation example',
  },
  { text: 'SecretAccessKey: je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY', expect: [] },
  { text: `credentials commit ${SHA1}`, expect: [], note: 'SHA-1, one case' },
  { text: `object ${fake('no-keyword', 40, BASE64)}`, expect: [], note: 'no keyword' },
  {
    text: 'secret key 550e8400-e29b-41d4-a716-446655440000',
    expect: [],
    note: 'a UUID, not a key',
  },
  {
    text: `credentials ${fake('all-letters', 40, UPPER + LOWER)}`,
    expect: ['AWS_CREDENTIALS'],
    note: 'no digit, as one random key in a thousand',
  },

  // Private-key look-alikes
  { text: PUBLIC_KEY, expect: [] },
  {
    text: armor('CERTIFICATE', Buffer.from(fake('cert', 300, ALNUM))),
    expect: [],
  },
  { text: '-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----', expect: [] },
  { text: truncated(PKCS8_EC), expect: [], note: 'a line missing: the DER does not parse' },
  {
    text: PKCS8_EC.replace('END PRIVATE KEY', 'END RSA PRIVATE KEY'),
    expect: [],
    note: 'BEGIN and END differ',
  },
  {
    text: '-----BEGIN RSA PRIVATE KEY-----\nnot base64 at all, just words in a test fixture!!\n-----END RSA PRIVATE KEY-----',
    expect: [],
  },
  { text: 'store the -----BEGIN PRIVATE KEY----- block in the KMS', expect: [] },
  { text: 'PuTTY-User-Key-File-3: ssh-ed25519 (truncated)', expect: [] },

  // JWT look-alikes
  {
    text: `${base64url('{"alg":"HS256"')}.${base64url({ sub: 'x' })}.${fake('sig-2', 43, BASE64URL)}`,
    expect: [],
    note: 'header not JSON',
  },
  {
    text: `${base64url({ typ: 'JWT' })}.${base64url({ sub: 'x' })}.${fake('sig-3', 43, BASE64URL)}`,
    expect: [],
    note: 'no alg',
  },
  {
    text: `${base64url({ alg: 'HS256' })}.${base64url('plain text payload')}.${fake('sig-4', 43, BASE64URL)}`,
    expect: [],
    note: 'payload not JSON',
  },
  { text: `${base64url({ alg: 'HS256' })}.${base64url({ a: 1 })}`, expect: [], note: 'two parts' },
  { text: 'eyJhbGciOiJIUzI1NiJ9.eyJ.x', expect: [] },
  { text: 'key.eyebrow.eyelid', expect: [] },

  // Bearer and Basic look-alikes
  { text: 'Authorization: Bearer YOUR_ACCESS_TOKEN_HERE', expect: [] },
  { text: 'send a Bearer token in the header', expect: [] },
  { text: 'Authorization: Bearer <token>', expect: [] },
  { text: 'bearer abcdefghijklmnopqrst', expect: [], note: 'one case, no digit' },
  { text: 'Bearer ${ACCESS_TOKEN}', expect: [] },
  { text: 'Basic auth is disabled on this listener', expect: [] },
  { text: `Basic ${basic('no colon here')}`, expect: [] },
  { text: `Basic ${basic('user')}`, expect: [] },
  { text: `Basic ${basic(':nouser')}`, expect: [] },
  { text: 'Basic Usage Guide', expect: [] },

  // Connection-string look-alikes
  { text: 'postgres://app@db.example.com/bulwark', expect: [], note: 'no password' },
  { text: 'postgres://app:${DB_PASSWORD}@db/app', expect: [] },
  { text: 'Server=db;User Id=sa;Password=****;', expect: [] },
  { text: 'Server=db;Password=<password>;', expect: [] },
  { text: 'the password = required field', expect: [], note: 'no connection keys' },
  { text: 'https://iot.example.com:8443/things?limit=10', expect: [] },
  {
    text: 'postgres://app:[REDACTED:CONNECTION_STRING_PASSWORD]@db/app',
    expect: [],
    note: 'already redacted',
  },
  { text: 'ftp://anonymous@ftp.example.org/pub', expect: [] },

  // High-entropy look-alikes
  { text: `{"nextToken":"${NEXT_TOKEN}"}`, expect: [], note: 'pagination token' },
  { text: NEXT_TOKEN, field: 'nextToken', expect: [] },
  { text: '{"clientToken":"3f2c1b7e-8a4d-4c1e-9b2a-7d6e5f4a3b2c"}', expect: [] },
  { text: '{"token":"3f2c1b7e-8a4d-4c1e-9b2a-7d6e5f4a3b2c"}', expect: [], note: 'a UUID' },
  { text: `{"idempotencyToken":"${fake('idem', 32, HEX)}"}`, expect: [] },
  { text: `{"sha256":"${SHA256}"}`, expect: [], note: 'hash, no secret key' },
  {
    text: '{"secretArn":"arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf"}',
    expect: [],
  },
  { text: '{"secret_name":"prod/bulwark/database-credentials"}', expect: [] },
  { text: '{"token_type":"Bearer","expires_in":3600}', expect: [] },
  { text: '{"tokenEndpoint":"https://auth.example.com/oauth2/token"}', expect: [] },
  { text: '{"token":"REPLACE_WITH_YOUR_TOKEN_VALUE"}', expect: [], note: 'placeholder' },
  { text: `{"publicKey":"${fake('public', 44, BASE64)}"}`, expect: [] },
  { text: `{"accessKeyId":"AKIAIOSFODNN7EXAMPLE"}`, expect: [] },
  { text: `{"authority":"${fake('authority', 30, ALNUM)}"}`, expect: [], note: 'auth…ority' },
  { text: 'token: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', expect: [] },
  { text: 'my secret is that the sensor firmware is unsigned', expect: [] },
  { text: `{"token":"${fake('short-token', 12, ALNUM)}"}`, expect: [], note: 'too short' },
  { text: `{"certificateId":"${SHA256}"}`, expect: [] },
];

/** What Bulwark's own logs, audit events and API names carry: nothing here is sensitive. */
const ordinary: CorpusEntry[] = [
  { text: '550e8400-e29b-41d4-a716-446655440000', expect: [], note: 'UUID' },
  { text: 'F47AC10B-58CC-4372-A567-0E02B2C3D479', expect: [], note: 'upper-case UUID' },
  { text: SHA256, expect: [], note: 'certificate id' },
  { text: `arn:aws:iot:us-east-1:123456789012:cert/${SHA256}`, expect: [] },
  { text: '2024-01-15T10:30:00.123Z', expect: [] },
  { text: '2024-01-15 10:30:00+01:00', expect: [] },
  { text: '20240115T103000Z', expect: [] },
  { text: '1705312200123', expect: [], note: 'epoch ms' },
  { text: '{"timestamp":1705312200123,"version":7}', expect: [] },
  { text: '1705312200', expect: [], note: 'epoch s' },
  { text: '1.2.3', expect: [] },
  { text: 'v10.20.30-beta.1+build.123', expect: [] },
  { text: '2.0.0-rc.1', expect: [] },
  { text: '$aws/things/sensor-1/shadow/name/config/update/accepted', expect: [] },
  { text: 'factory/line-3/+/temperature', expect: [] },
  { text: 'dt/plant1/4111/telemetry/#', expect: [] },
  { text: 'arn:aws:iot:us-east-1:000000000000:thing/x', expect: [] },
  { text: 'arn:aws:iam::123456789012:role/bulwark-rule', expect: [] },
  { text: 'arn:aws:iot:eu-west-1:123456789012:rule/forward_all', expect: [] },
  { text: '123456789012', expect: [], note: 'account id' },
  { text: 'account 000000000000', expect: [] },
  { text: 'x-amz-request-id: 4442587FB7D0A2F9', expect: [] },
  { text: '{"requestId":"a1b2c3d4-5678-90ab-cdef-EXAMPLE11111"}', expect: [] },
  { text: 'x-amz-id-2: Uuag1LuByRx9e6j5Onimru9pO4ZVKnJ2Qz7/C1NPcfTWAtRPfTaOFg==', expect: [] },
  { text: 'sensor-42', expect: [], note: 'thing name' },
  { text: 'building_7:floor_3:room-12', expect: [] },
  { text: 'The quick brown fox jumps over the lazy dog', expect: [] },
  { text: 'Temperature exceeded threshold; fan speed set to 80%', expect: [] },
  { text: 'thermostat', expect: [] },
  { text: 'CreateThing', expect: [] },
  { text: 'AttachPolicy denied: not authorized', expect: [] },
  {
    text: JSON.stringify({
      level: 30,
      time: 1705312200123,
      msg: 'client connected',
      clientId: 'sensor-42',
      topic: '$aws/things/sensor-42/shadow/update',
      requestId: '3f2c1b7e-8a4d-4c1e-9b2a-7d6e5f4a3b2c',
      certificateId: SHA256,
    }),
    expect: [],
    note: 'a log line',
  },
  {
    text: JSON.stringify({
      eventVersion: '1.09',
      eventTime: '2024-01-15T10:30:00Z',
      eventSource: 'iot.amazonaws.com',
      eventName: 'UpdateThingShadow',
      awsRegion: 'eu-central-1',
      recipientAccountId: '123456789012',
      requestParameters: { thingName: 'pump-7', shadowName: 'config' },
    }),
    expect: [],
    note: 'an audit event',
  },
  { text: '{"state":{"reported":{"temp":21.5,"humidity":40,"rssi":-67}}}', expect: [] },
  { text: '{"state":{"desired":{"color":"red","brightness":255}},"version":42}', expect: [] },
  { text: 'retained message on sensors/+/status (QoS 1, 128 bytes)', expect: [] },
  { text: 'thing-0199', expect: [] },
  { text: 'model ESP32-WROOM-32E rev 3', expect: [] },
  { text: 'MAC 24:6F:28:AB:CD:EF', expect: [] },
  { text: 'TLS_AES_128_GCM_SHA256', expect: [] },
  {
    text: 'SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8',
    expect: [],
    note: 'SSH fingerprint',
  },
  { text: 'us-east-1', expect: [] },
  { text: 'mqtts://iot.example.com:8883', expect: [] },
  { text: 'https://docs.example.com/guide#tokens', expect: [] },
  { text: 'duration 1234567ms', expect: [] },
  { text: 'serial SN-2024-000123', expect: [] },
  { text: 'lat 48.8566 lon 2.3522', expect: [] },
  { text: 'page 2 of 17, 200 items', expect: [] },
  { text: 'ffffffff-ffff-ffff-ffff-ffffffffffff', expect: [] },
  { text: 'AIDAJQABLZS4A3QDU576Q', expect: [], note: 'IAM user id' },
  { text: 'AROA3XFRBF535PLBIFPI4', expect: [], note: 'IAM role id' },
  { text: 'etag "33a64df551425fcc55e4d42a148795d9f25f89d4"', expect: [] },
];

export const corpus: readonly CorpusEntry[] = [...positives, ...nearMisses, ...ordinary];
