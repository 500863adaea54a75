// Stored shadow documents for discovery-scan tests and the scan benchmark: a data dir holding
// many ordinary device states, with sensitive values planted in known documents at known paths.
// The documents are written through the shadow capability's own store (ShadowStore.replace,
// which commits the writes asked for in one turn of the event loop together), in the test
// process: one HTTP or MQTT update per document would take far longer than the scan.
import { generateKeyPairSync, randomBytes, randomInt, randomUUID } from 'node:crypto';
import { openDataDir } from '../../src/app/data-dir.js';
import { loadConfig } from '../../src/config/index.js';
import type { JsonObject, Sections, ShadowDocument } from '../../src/shadow/document.js';
import { ShadowStore } from '../../src/shadow/shadow-store.js';

export const ACCOUNT_ARN_PREFIX = 'arn:aws:iot:us-east-1:123456789012:';

/** A sensitive value planted in one document, and where a scan must report it. */
export interface Plant {
  /** The document (see shadowOfDocument) holding it. */
  index: number;
  detector: string;
  jsonPath: string;
  /** Every form of the value that must appear in no output (the value, its digits…). */
  secrets: string[];
  /** The document's state, holding the value. */
  state: Sections;
}

/**
 * Documents per thing: a classic shadow and named ones. Each thing's shadows are sealed under
 * the thing's own key, made (and written to the key store) on its first write; a hundred shadows
 * a thing keeps that to a thousand keys for 100,000 documents.
 */
export const SHADOWS_PER_THING = 100;

/** Which shadow document `index` is: thing `sensor-000042`, classic or named `s01`…`s99`. */
export function shadowOfDocument(index: number): { thingName: string; shadowName?: string } {
  const thingName = `sensor-${String(Math.floor(index / SHADOWS_PER_THING)).padStart(6, '0')}`;
  const slot = index % SHADOWS_PER_THING;
  return slot === 0
    ? { thingName }
    : { thingName, shadowName: `s${String(slot).padStart(2, '0')}` };
}

/** An ordinary device state: telemetry, ids, timestamps, settings; nothing sensitive. */
export function cleanState(index: number): Sections {
  return {
    reported: {
      temperature: 18 + (index % 70) / 10,
      humidity: 30 + (index % 40),
      battery: 100 - (index % 60),
      firmware: `2.${index % 7}.${index % 13}`,
      mode: index % 3 === 0 ? 'eco' : 'comfort',
      online: index % 11 !== 0,
      serial: `SN-${String(index * 7919).padStart(9, '0')}`,
      deviceId: randomUUID(),
      location: { site: `plant-${index % 5}`, room: `B${index % 40}`, floor: index % 4 },
      // Milliseconds since the epoch: 13 digits, as a card number may have.
      lastSeen: 1_732_800_000_000 + index * 1000,
      readings: [20.1 + (index % 3), 20.4, 21.0],
      uptimeSeconds: 86_400 + index,
      rssi: -40 - (index % 50),
      owner: 'maintenance-team',
    },
    desired: { mode: index % 3 === 0 ? 'eco' : 'comfort', reportIntervalSeconds: 60 },
  };
}

/** A 16-digit card number that passes Luhn, made up now: Visa's range unless `prefix` says another. */
export function cardNumber(prefix: number[] = [4]): string {
  const digits = [...prefix, ...Array.from({ length: 15 - prefix.length }, () => randomInt(10))];
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    // Doubling applies to every second digit counting from the check digit, which follows.
    let digit = digits[digits.length - 1 - i] as number;
    if (i % 2 === 0) digit = digit * 2 > 9 ? digit * 2 - 9 : digit * 2;
    sum += digit;
  }
  return digits.join('') + String((10 - (sum % 10)) % 10);
}

/** A secret access key's shape: 40 base64 characters with upper, lower case and digits. */
function secretAccessKey(): string {
  for (;;) {
    const key = randomBytes(30).toString('base64');
    if (/[a-z]/.test(key) && /[A-Z]/.test(key) && /\d/.test(key)) return key;
  }
}

function emailAddress(): string {
  return `jane.${randomBytes(3).toString('hex')}@contoso-mail.com`;
}

function withReported(index: number, extra: JsonObject): Sections {
  const state = cleanState(index);
  return { ...state, reported: { ...state.reported, ...extra } };
}

/**
 * The planted values, made up for this run, in documents spread over `count` (none on the
 * first page; `count` at least 200): e-mails (a value, an array element, a key), card numbers as a string and as
 * a JSON number, an AWS secret access key under `secretAccessKey`, a PEM private key.
 */
export function plants(count: number): Plant[] {
  // Classic and named shadows alike (an offset of 0 is a thing's classic shadow).
  const at = (fraction: number, offset = 0) => Math.floor(count * fraction) + offset;
  const email = emailAddress();
  const cardText = cardNumber();
  const cardValue = cardNumber();
  const secret = secretAccessKey();
  const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    .privateKey.export({ type: 'pkcs8', format: 'pem' })
    .toString();
  const pemBody = pem.split('\n').filter((line) => line && !line.startsWith('-----'));
  const contact = emailAddress();
  const operator = emailAddress();
  return [
    {
      index: at(0.12),
      detector: 'EMAIL_ADDRESS',
      jsonPath: '$.state.reported.owner.email',
      secrets: [email],
      state: withReported(at(0.12), { owner: { email, team: 'field-service' } }),
    },
    {
      index: at(0.23, 7),
      detector: 'CREDIT_CARD_NUMBER',
      jsonPath: '$.state.reported.payment.cardNumber',
      secrets: [cardText],
      state: withReported(at(0.23, 7), { payment: { cardNumber: cardText, currency: 'EUR' } }),
    },
    {
      index: at(0.34),
      detector: 'CREDIT_CARD_NUMBER',
      jsonPath: '$.state.desired.billing.cardNumber',
      secrets: [cardValue],
      state: {
        ...cleanState(at(0.34)),
        desired: { mode: 'eco', billing: { cardNumber: Number(cardValue) } },
      },
    },
    {
      index: at(0.45, 33),
      detector: 'AWS_CREDENTIALS',
      jsonPath: '$.state.reported.cloud.secretAccessKey',
      secrets: [secret],
      state: withReported(at(0.45, 33), {
        cloud: { region: 'eu-west-1', secretAccessKey: secret },
      }),
    },
    {
      index: at(0.56),
      detector: 'PRIVATE_KEY',
      jsonPath: '$.state.reported.tls.privateKey',
      secrets: pemBody,
      state: withReported(at(0.56), { tls: { privateKey: pem } }),
    },
    {
      index: at(0.67, 51),
      detector: 'EMAIL_ADDRESS',
      jsonPath: '$.state.desired.contacts[1]',
      secrets: [contact],
      state: { desired: { contacts: ['ops-desk', contact], escalationMinutes: 15 } },
    },
    {
      index: at(0.78, 99),
      detector: 'EMAIL_ADDRESS',
      // The key itself is the address: the path never spells it.
      jsonPath: '$.state.reported.operators.*',
      secrets: [operator],
      state: withReported(at(0.78, 99), { operators: { [operator]: { role: 'admin' } } }),
    },
  ];
}

/** The metadata AWS keeps beside a state: each leaf's last update time. */
function metadataOf(value: unknown, timestamp: number): unknown {
  if (value !== null && typeof value === 'object' && !Array.isArray(value))
    return Object.fromEntries(
      Object.entries(value).map(([key, member]) => [key, metadataOf(member, timestamp)]),
    );
  return { timestamp };
}

function documentOf(state: Sections): ShadowDocument {
  const timestamp = Math.floor(Date.now() / 1000);
  return { state, metadata: metadataOf(state, timestamp) as Sections, version: 1 };
}

/**
 * Writes `count` shadow documents (see shadowOfDocument), the plants' in their places, into an
 * initialised data dir, a thousand per transaction.
 */
export async function writeShadowCorpus(
  dataDir: string,
  count: number,
  planted: readonly Plant[],
): Promise<void> {
  const config = loadConfig({ env: {}, flags: { dataDir } });
  const open = await openDataDir(config, {}, { create: false });
  try {
    const shadows = new ShadowStore(open.store);
    const byIndex = new Map(planted.map((plant) => [plant.index, plant]));
    const now = Date.now();
    const BATCH = 1000;
    for (let start = 0; start < count; start += BATCH) {
      const batch: Promise<boolean>[] = [];
      for (let index = start; index < Math.min(count, start + BATCH); index++) {
        const state = byIndex.get(index)?.state ?? cleanState(index);
        batch.push(
          shadows.replace(
            shadowOfDocument(index),
            undefined,
            { kind: 'document', document: documentOf(state) },
            now,
          ),
        );
      }
      await Promise.all(batch);
    }
  } finally {
    await open.close();
  }
}
