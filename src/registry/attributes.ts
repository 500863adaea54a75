import { invalid } from './validation.js';

export type Attributes = Record<string, string>;

/** AttributePayload: the attributes given, and whether they merge into the stored ones. */
export interface AttributePayload {
  attributes?: Attributes;
  merge?: boolean;
}

/**
 * The attributes after a payload is applied. With `merge` the payload's attributes are merged
 * into `current`; without it they replace the whole map. Either way an empty value removes that
 * attribute (AttributePayload: "To remove an attribute, call UpdateThing with an empty attribute
 * value"), so an attribute with an empty value is never stored. No payload attributes: unchanged.
 */
export function applyAttributePayload(current: Attributes, payload: AttributePayload): Attributes {
  if (payload.attributes === undefined) return current;
  const next = new Map(payload.merge ? Object.entries(current) : []);
  for (const [name, value] of Object.entries(payload.attributes)) {
    if (value === '') next.delete(name);
    else next.set(name, value);
  }
  return Object.fromEntries(next);
}

export function sameAttributes(a: Attributes, b: Attributes): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => b[key] === a[key]);
}

export function checkAttributeCount(attributes: Attributes, max: number, owner: string): void {
  const count = Object.keys(attributes).length;
  if (count > max)
    throw invalid(
      `${owner} can have at most ${max} attributes; the request would give it ${count}`,
    );
}
