/**
 * How the policy language reads a request, whichever language uses it: IoT policies read an
 * MQTT connection's facts (`context.ts`), IAM policies an API call's (`src/iam/policy`). A
 * condition key or policy variable name is turned into a reader once, when a document is
 * compiled, so evaluation never parses a key name.
 */

/** A key's value in a request: one string, a list (multivalued keys), or nothing. */
export type ContextValue = string | readonly string[] | undefined;

export type ContextReader<C> = (context: C) => ContextValue;

/**
 * The reader for a condition key or policy variable name; undefined for a key the language does
 * not know, which therefore never has a value (an unknown key is absent from the request, as in
 * IAM).
 */
export type ContextKeys<C> = (key: string) => ContextReader<C> | undefined;
