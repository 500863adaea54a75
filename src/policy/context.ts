import type { ContextReader } from './context-keys.js';

/**
 * What an IoT policy can know about a request: the facts the caller (broker, TestAuthorization)
 * fills in, and the condition keys and policy variables that read them.
 */

/** Subject or issuer distinguished-name fields, by AWS's names, each with every value it has. */
export type NameFields = Readonly<Partial<Record<NameField, readonly string[]>>>;

/** Subject or issuer alternative names, by AWS's names. */
export type AlternativeNameFields = Readonly<
  Partial<Record<AlternativeNameField, readonly string[]>>
>;

export const NAME_FIELDS = [
  'CommonName',
  'Country',
  'Organization',
  'OrganizationalUnit',
  'State',
  'DistinguishedNameQualifier',
  'SerialNumber',
  'Title',
  'Surname',
  'GivenName',
  'Initials',
  'Pseudonym',
  'GenerationQualifier',
] as const;
export type NameField = (typeof NAME_FIELDS)[number];

export const ALTERNATIVE_NAME_FIELDS = [
  'RFC822Name',
  'DNSName',
  'DirectoryName',
  'UniformResourceIdentifier',
  'IPAddress',
] as const;
export type AlternativeNameField = (typeof ALTERNATIVE_NAME_FIELDS)[number];

/** The X.509 client certificate's attributes (cert-policy-variables). */
export interface CertificateFields {
  subject: NameFields;
  issuer: NameFields;
  subjectAlternativeName: AlternativeNameFields;
  issuerAlternativeName: AlternativeNameFields;
  serialNumber?: string;
}

/** The registry thing the connection acts as. */
export interface ConnectedThing {
  name: string;
  typeName?: string;
  attributes: Readonly<Record<string, string>>;
}

/**
 * The facts of one authorization request. Every member is optional: what is absent leaves the
 * variables and condition keys that read it unresolved.
 */
export interface AuthorizationContext {
  /** The MQTT client id (`iot:ClientId`). */
  clientId?: string;
  /**
   * The thing whose name equals the client id, only when that thing is attached to the
   * authenticated principal (thing-policy-variables): its presence is what makes
   * `iot:Connection.Thing.*` resolve. Absent: `IsAttached` is "false", the others unresolved.
   */
  thing?: ConnectedThing;
  certificate?: CertificateFields;
  /** The client's address (`aws:SourceIp`). */
  sourceIp?: string;
  /** `iot:ConnectAttributes` on CONNECT: `PersistentConnect` (clean session off), `LastWill`. */
  connectAttributes?: readonly string[];
  /** `iot:LastWillTopic` on CONNECT with a will. */
  lastWillTopic?: string;
}

/** Reads one key from an IoT request. */
type IotReader = ContextReader<AuthorizationContext>;

const firstOf = (values: readonly string[] | undefined): string | undefined => values?.[0];

function nameReader(
  pick: (certificate: CertificateFields) => Readonly<Record<string, readonly string[]>>,
  field: string,
  list: boolean,
): IotReader {
  return (context) => {
    const certificate = context.certificate;
    if (!certificate) return undefined;
    const values = pick(certificate)[field];
    return list ? values : firstOf(values);
  };
}

function availableKeys(certificate: CertificateFields): string[] {
  const keys: string[] = [];
  const add = (prefix: string, fields: Readonly<Record<string, readonly string[]>>) => {
    for (const [field, values] of Object.entries(fields))
      if (values.length > 0) keys.push(`${prefix}.${field}`);
  };
  add('iot:Certificate.Subject', certificate.subject);
  add('iot:Certificate.Issuer', certificate.issuer);
  add('iot:Certificate.Subject.AlternativeName', certificate.subjectAlternativeName);
  add('iot:Certificate.Issuer.AlternativeName', certificate.issuerAlternativeName);
  if (certificate.serialNumber !== undefined) keys.push('iot:Certificate.SerialNumber');
  return keys;
}

/** Keys are matched case-insensitively, as IAM matches condition key names. */
const FIXED_KEYS = new Map<string, IotReader>([
  ['iot:clientid', (context) => context.clientId],
  ['aws:sourceip', (context) => context.sourceIp],
  ['iot:connectattributes', (context) => context.connectAttributes],
  ['iot:lastwilltopic', (context) => context.lastWillTopic],
  ['iot:connection.thing.thingname', (context) => context.thing?.name],
  ['iot:connection.thing.thingtypename', (context) => context.thing?.typeName],
  ['iot:connection.thing.isattached', (context) => (context.thing ? 'true' : 'false')],
  ['iot:certificate.serialnumber', (context) => context.certificate?.serialNumber],
  [
    'iot:certificate.availablekeys',
    (context) => (context.certificate ? availableKeys(context.certificate) : undefined),
  ],
]);

const THING_ATTRIBUTE = /^iot:connection\.thing\.attributes\[(.+)\]$/i;
const CERTIFICATE_NAME =
  /^iot:certificate\.(subject|issuer)(\.alternativename)?\.([a-z0-9]+)(\.list)?$/i;

function certificateReader(key: string): IotReader | undefined {
  const match = CERTIFICATE_NAME.exec(key);
  if (!match) return undefined;
  const [, side = '', alternative, fieldName = '', list] = match;
  const fields: readonly string[] = alternative ? ALTERNATIVE_NAME_FIELDS : NAME_FIELDS;
  const field = fields.find((name) => name.toLowerCase() === fieldName.toLowerCase());
  if (!field) return undefined;
  const subject = side.toLowerCase() === 'subject';
  const pick = alternative
    ? (certificate: CertificateFields) =>
        subject ? certificate.subjectAlternativeName : certificate.issuerAlternativeName
    : (certificate: CertificateFields) => (subject ? certificate.subject : certificate.issuer);
  return nameReader(pick, field, list !== undefined);
}

/** The IoT policy language's context keys (a ContextKeys<AuthorizationContext>). */
export function contextReader(key: string): IotReader | undefined {
  const fixed = FIXED_KEYS.get(key.toLowerCase());
  if (fixed) return fixed;
  // The attribute name keeps its case: thing attribute names are case-sensitive.
  const attribute = THING_ATTRIBUTE.exec(key);
  if (attribute) {
    const name = attribute[1] as string;
    return (context) =>
      context.thing && Object.hasOwn(context.thing.attributes, name)
        ? context.thing.attributes[name]
        : undefined;
  }
  return certificateReader(key);
}
