import { ShadowError } from './errors.js';

/** Which shadow: a thing's classic shadow (no shadow name) or one of its named shadows. */
export interface ShadowId {
  thingName: string;
  shadowName?: string;
}

export type ShadowOperation = 'get' | 'update' | 'delete';

const NAME = /^[a-zA-Z0-9:_-]+$/;
const MAX_THING_NAME_BYTES = 128;
const MAX_SHADOW_NAME_BYTES = 64;

export function isValidThingName(name: string): boolean {
  return name.length > 0 && name.length <= MAX_THING_NAME_BYTES && NAME.test(name);
}

export function isValidShadowName(name: string): boolean {
  return name.length > 0 && name.length <= MAX_SHADOW_NAME_BYTES && NAME.test(name);
}

/** The shadow an HTTPS request names, checked as AWS checks it (400 otherwise). */
export function shadowIdOf(thingName: string, shadowName: string | undefined): ShadowId {
  if (!isValidThingName(thingName))
    throw new ShadowError(
      400,
      `Invalid thing name: it must be 1 to ${MAX_THING_NAME_BYTES} characters of a-z, A-Z, 0-9, ':', '_' and '-'`,
    );
  if (shadowName === undefined) return { thingName };
  if (!isValidShadowName(shadowName))
    throw new ShadowError(
      400,
      `Invalid shadow name: it must be 1 to ${MAX_SHADOW_NAME_BYTES} characters of a-z, A-Z, 0-9, ':', '_' and '-'`,
    );
  return { thingName, shadowName };
}

/** `$aws/things/{thing}/shadow` or `$aws/things/{thing}/shadow/name/{shadow}`. */
export function topicPrefix(id: ShadowId): string {
  return id.shadowName === undefined
    ? `$aws/things/${id.thingName}/shadow`
    : `$aws/things/${id.thingName}/shadow/name/${id.shadowName}`;
}

const OPERATIONS = new Set<string>(['get', 'update', 'delete']);

/** The request a PUBLISH on a reserved shadow topic makes, or undefined for any other topic. */
export function parseRequestTopic(
  topic: string,
): { id: ShadowId; operation: ShadowOperation } | undefined {
  if (!topic.startsWith('$aws/things/')) return undefined;
  const levels = topic.split('/');
  if (levels[3] !== 'shadow') return undefined;
  const thingName = levels[2] as string;
  if (!isValidThingName(thingName)) return undefined;
  if (levels.length === 5 && OPERATIONS.has(levels[4] as string))
    return { id: { thingName }, operation: levels[4] as ShadowOperation };
  if (levels.length === 7 && levels[4] === 'name' && OPERATIONS.has(levels[6] as string)) {
    const shadowName = levels[5] as string;
    if (!isValidShadowName(shadowName)) return undefined;
    return { id: { thingName, shadowName }, operation: levels[6] as ShadowOperation };
  }
  return undefined;
}
