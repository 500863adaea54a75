import { BulwarkError } from '../errors.js';
import type { Detector, Severity } from './detector.js';
import type { Guard } from './guard.js';
import type { FieldMode } from './schema.js';

/**
 * The free-form field guard: the names, tags, descriptions and attributes a create, update or
 * tag call would store are run through the detectors before the call is performed. Per class of
 * field the operator chooses `deny` (the call is refused, naming the field and the detector,
 * never the value), `warn` (performed, with a warning header and an audit record) or `off`.
 */

/** The classes of free-form field, each with its own mode (`guard.fields`). */
export type FieldClass = 'names' | 'tags' | 'descriptions' | 'attributes';

export interface FreeFormField {
  /**
   * The member path in AWS's words: `thingName`, `tags[1].Value`,
   * `attributePayload.attributes.owner`, IAM's `UserName`, `Tags.member.2.Value`.
   */
  field: string;
  kind: FieldClass;
  value: string;
  /**
   * The name the value is stored under (a tag's key, an attribute's name), which counts as a
   * nearby keyword for the detectors: a tag `password` holding a random string is a secret.
   */
  context?: string;
}

/** A match accepted in warn mode: which field, which detector, how severe. Never the value. */
export interface FieldWarning {
  field: string;
  detector: string;
  severity: Severity;
}

/** The response header that lists a call's warnings: `thingName=EMAIL_ADDRESS, …`. */
export const SENSITIVE_DATA_WARNING_HEADER = 'x-bulwark-sensitive-data-warning';

/** What each class of field is for, and so what to do instead of writing personal data in it. */
const INSTEAD: Record<FieldClass, string> = {
  names:
    'Name resources with an opaque identifier (a serial number, a UUID) and keep personal data in your own system of record, keyed by that identifier.',
  tags: 'Tags classify resources: use values that identify no person and hold no secret.',
  descriptions: 'Describe what the resource is for, not whom it belongs to.',
  attributes:
    'Keep attributes to device facts (model, firmware, location class) and store personal data elsewhere, keyed by the thing name.',
};

const WHY =
  'Keep personal data and secrets out of names, tags, descriptions and attributes: they are stored and logged unencrypted and shown to everyone who may list or describe the resource.';

const CREDENTIAL_ADVICE =
  'A credential in a free-form field can be read by anyone who may describe the resource: leave it out, pass secrets only where an API takes them, and rotate this one if it is real.';

/**
 * A call refused by the field guard: InvalidRequest (restJson1 InvalidRequestException, IAM
 * ValidationError) whose message names the field and the detector. `refused` is what the
 * audit event records.
 */
export class SensitiveFieldError extends BulwarkError {
  constructor(
    message: string,
    readonly refused: { field: string; detector: string },
  ) {
    super('InvalidRequest', message);
  }
}

/** Runs the detectors over a call's free-form fields as `guard.fields` configures. */
export class FieldGuard {
  private readonly modes: Readonly<Record<FieldClass, FieldMode>>;
  private readonly denyCredentials: boolean;

  constructor(private readonly guard: Guard) {
    const { names, tags, descriptions, attributes, denyCredentials } = guard.settings.fields;
    this.modes = { names, tags, descriptions, attributes };
    this.denyCredentials = denyCredentials;
  }

  /**
   * The warnings for `fields` (empty when nothing matched); throws SensitiveFieldError for the
   * first match in a `deny` class, or of a credentials detector in any class not `off`.
   */
  check(fields: readonly FreeFormField[]): FieldWarning[] {
    const warnings: FieldWarning[] = [];
    for (const { field, kind, value, context } of fields) {
      const mode = this.modes[kind];
      if (mode === 'off') continue;
      const reported = new Set<string>();
      for (const { detector } of this.guard.detectors.detect(value, context)) {
        if (mode === 'deny' || (this.denyCredentials && detector.category === 'CREDENTIALS'))
          throw this.refusal(this.shown(field, context), kind, detector);
        if (reported.has(detector.id)) continue;
        reported.add(detector.id);
        warnings.push({
          field: this.shown(field, context),
          detector: detector.id,
          severity: detector.severity,
        });
      }
    }
    return warnings;
  }

  private refusal(shown: string, kind: FieldClass, detector: Detector): SensitiveFieldError {
    const advice =
      detector.category === 'CREDENTIALS' ? CREDENTIAL_ADVICE : `${WHY} ${INSTEAD[kind]}`;
    return new SensitiveFieldError(
      `${shown} was refused: it holds data the ${detector.id} detector flags (${detector.description.replace(/\.$/, '')}). ${advice}`,
      { field: shown, detector: detector.id },
    );
  }

  /**
   * A field path fit to show: an attribute value's path ends with the attribute's name (its
   * `context`), which may itself hold what the detectors flag.
   */
  private shown(field: string, context: string | undefined): string {
    if (context === undefined || !field.endsWith(`.${context}`)) return field;
    return field.slice(0, field.length - context.length) + this.guard.detectors.redact(context);
  }
}

/**
 * The header value listing `warnings` (`thingName=EMAIL_ADDRESS, tags[0].Value=…`): field paths
 * and detector ids only, with anything outside printable ASCII, and the separators, escaped.
 */
export function sensitiveDataWarningHeader(warnings: readonly FieldWarning[]): string {
  const escape = (text: string) =>
    text.replace(/[^\x21-\x7e]|[%,=]/gu, (char) =>
      [...Buffer.from(char, 'utf8')]
        .map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`)
        .join(''),
    );
  return warnings.map(({ field, detector }) => `${escape(field)}=${detector}`).join(', ');
}

/** What a call's audit event carries about the guard: its warnings, or what it refused. */
export function sensitiveDataEventData(
  warnings: readonly FieldWarning[] | undefined,
  refused: SensitiveFieldError['refused'] | undefined,
): Record<string, unknown> | undefined {
  if (refused) return { sensitiveDataRefused: refused };
  if (warnings && warnings.length > 0) return { sensitiveDataWarnings: warnings };
  return undefined;
}

// ---- building the list from a request ----

/** A member of a parsed JSON body, when `value` is an object that has it. */
export function memberOf(value: unknown, name: string): unknown {
  return typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.hasOwn(value, name)
    ? (value as Record<string, unknown>)[name]
    : undefined;
}

/**
 * One field, when `value` is a string; anything else is left to the operation's own
 * validation, which runs after the guard and refuses it in AWS's words.
 */
export function textField(field: string, kind: FieldClass, value: unknown): FreeFormField[] {
  return typeof value === 'string' ? [{ field, kind, value }] : [];
}

/** A list of strings (`searchableAttributes`): `field[i]` each. */
export function textListFields(field: string, kind: FieldClass, list: unknown): FreeFormField[] {
  if (!Array.isArray(list)) return [];
  return list.flatMap((item, index) => textField(`${field}[${index}]`, kind, item));
}

/** A restJson1 TagList (`[{Key, Value}]`): `tags[i].Key`, and `tags[i].Value` read with its key. */
export function tagListFields(list: unknown, field = 'tags'): FreeFormField[] {
  if (!Array.isArray(list)) return [];
  return list.flatMap((tag, index) => {
    const key = memberOf(tag, 'Key');
    const value = memberOf(tag, 'Value');
    return [
      ...textField(`${field}[${index}].Key`, 'tags', key),
      ...(typeof value === 'string'
        ? [
            {
              field: `${field}[${index}].Value`,
              kind: 'tags' as const,
              value,
              ...(typeof key === 'string' ? { context: key } : {}),
            },
          ]
        : []),
    ];
  });
}

/**
 * An attribute map (`{name: value}`): each name as `field` itself (a name is no path), and each
 * value as `field.name`, read with its name.
 */
export function attributeMapFields(map: unknown, field: string): FreeFormField[] {
  if (typeof map !== 'object' || map === null || Array.isArray(map)) return [];
  return Object.entries(map as Record<string, unknown>).flatMap(([name, value]) => [
    { field, kind: 'attributes' as const, value: name },
    ...(typeof value === 'string'
      ? [{ field: `${field}.${name}`, kind: 'attributes' as const, value, context: name }]
      : []),
  ]);
}

/** A Query parameter (`UserName`, `Description`), when given. */
export function queryField(
  params: Readonly<Record<string, string>>,
  name: string,
  kind: FieldClass,
): FreeFormField[] {
  return textField(name, kind, params[name]);
}
