import {
  constraintError,
  optionalObject,
  requiredString,
  violation,
  type StringRule,
} from '../api/validation.js';

/** The registry's own request rules; the shared ones are the API's (src/api/validation.ts). */
export * from '../api/validation.js';

export const ATTRIBUTE_NAME: StringRule = { max: 128, pattern: '[a-zA-Z0-9_.,@/:#-]+' };
export const ATTRIBUTE_VALUE: StringRule = { max: 800, pattern: '[a-zA-Z0-9_.,@/:#=\\[\\]-]*' };
/** Java's \p{Graph} is printable ASCII without space; AWS adds the space itself. */
export const DESCRIPTION: StringRule = { max: 2028, pattern: '[\\x21-\\x7e\\x20]*' };
export const TAG_KEY: StringRule = {
  min: 1,
  max: 128,
  pattern: '[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*',
  unicode: true,
};
export const TAG_VALUE: StringRule = { min: 0, max: 256 };

/**
 * An attribute map (AttributePayload.attributes): names and values checked against AWS's
 * patterns. An error names the map for a bad name, and the map and name for a bad value.
 */
export function attributeMap(value: unknown, field: string): Record<string, string> | undefined {
  const map = optionalObject(value, field);
  if (map === undefined) return undefined;
  const entries: [string, string][] = [];
  for (const [name, attributeValue] of Object.entries(map)) {
    const brokenName = violation(name, ATTRIBUTE_NAME);
    if (brokenName)
      throw constraintError(field, `Map keys must satisfy constraint: [${brokenName}]`);
    entries.push([name, requiredString(attributeValue, `${field}.${name}`, ATTRIBUTE_VALUE)]);
  }
  // fromEntries defines own properties, so a name like __proto__ stays an ordinary attribute.
  return Object.fromEntries(entries);
}
