import { createHash } from 'node:crypto';
import {
  LOOKUP_ATTRIBUTE_COLUMNS,
  lookupEvents,
  type AuditRecord,
  type LookupAttributeKey,
} from '../audit/index.js';
import type { StoreReader } from '../store/index.js';
import { decodeToken, encodeToken } from './validation.js';

/**
 * CloudTrail's LookupEvents over AWS's JSON 1.1 protocol, as `aws cloudtrail lookup-events` and
 * the SDKs call it: `POST /`, `Content-Type: application/x-amz-json-1.1`, `X-Amz-Target:
 * …CloudTrail_20131101.LookupEvents`, SigV4-signed as `cloudtrail`; errors as `{"__type", "message"}`
 * with CloudTrail's exception names. It reads the audit trail: newest first, one lookup attribute
 * per call as CloudTrail takes it, MaxResults 1 to 50, a time range, opaque NextTokens bound to
 * the query they continue.
 */

export const LOOKUP_EVENTS_ACTION = 'cloudtrail:LookupEvents';
export const JSON_1_1 = 'application/x-amz-json-1.1';

/**
 * The X-Amz-Target prefixes of CloudTrail 2013-11-01: the model's full target prefix (what the
 * AWS CLI and the SDKs send) and its short form.
 */
const TARGET_PREFIXES = [
  'com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.',
  'CloudTrail_20131101.',
];

const MAX_RESULTS = 50;
const MAX_ATTRIBUTE_VALUE = 2000;
const ATTRIBUTE_KEYS = Object.keys(LOOKUP_ATTRIBUTE_COLUMNS) as LookupAttributeKey[];

/** An error in the JSON protocol's form: CloudTrail's exception name, a message, a status. */
export class JsonApiError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = 'JsonApiError';
  }
}

/** The operation an X-Amz-Target names, or UnknownOperationException. */
export function cloudTrailOperationOf(target: string): 'LookupEvents' {
  for (const prefix of TARGET_PREFIXES)
    if (target.startsWith(prefix) && target.slice(prefix.length) === 'LookupEvents')
      return 'LookupEvents';
  throw new JsonApiError(
    'UnknownOperationException',
    `No operation is served for X-Amz-Target ${JSON.stringify(target.slice(0, 200))}.`,
  );
}

/** A lookup as asked, checked. */
export interface LookupEventsInput {
  attributes: { key: LookupAttributeKey; value: string }[];
  /** Epoch ms, inclusive, whole seconds (the records' eventTime is to the second). */
  startTime?: number;
  endTime?: number;
  maxResults: number;
  nextToken?: string;
  /** `EventCategory: insight`: Insights events only, of which Bulwark has none. */
  insightsOnly: boolean;
}

function serialization(member: string, expected: string): JsonApiError {
  return new JsonApiError(
    'SerializationException',
    `${member} must be ${expected}; the request could not be read.`,
  );
}

function timeOf(value: unknown, member: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw serialization(member, 'a timestamp (epoch seconds)');
  return Math.floor(value) * 1000;
}

function lookupAttributesOf(value: unknown): LookupEventsInput['attributes'] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw serialization('LookupAttributes', 'a list');
  if (value.length > 1)
    throw new JsonApiError(
      'InvalidLookupAttributesException',
      'LookupAttributes can contain only one item.',
    );
  return value.map((item: unknown) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item))
      throw serialization('LookupAttributes member', 'a structure');
    const { AttributeKey: key, AttributeValue: attributeValue } = item as Record<string, unknown>;
    if (typeof key !== 'string' || !ATTRIBUTE_KEYS.includes(key as LookupAttributeKey))
      throw new JsonApiError(
        'InvalidLookupAttributesException',
        `AttributeKey must be one of ${ATTRIBUTE_KEYS.join(', ')}.`,
      );
    if (
      typeof attributeValue !== 'string' ||
      attributeValue.length < 1 ||
      attributeValue.length > MAX_ATTRIBUTE_VALUE
    )
      throw new JsonApiError(
        'InvalidLookupAttributesException',
        `AttributeValue must be a string of 1 to ${MAX_ATTRIBUTE_VALUE} characters.`,
      );
    if (key === 'ReadOnly' && !['true', 'false'].includes(attributeValue.toLowerCase()))
      throw new JsonApiError(
        'InvalidLookupAttributesException',
        'The AttributeValue of ReadOnly must be true or false.',
      );
    return { key: key as LookupAttributeKey, value: attributeValue };
  });
}

/** The request body checked as CloudTrail checks it. */
export function lookupEventsInputOf(body: Record<string, unknown>): LookupEventsInput {
  const attributes = lookupAttributesOf(body.LookupAttributes);
  const startTime = timeOf(body.StartTime, 'StartTime');
  const endTime = timeOf(body.EndTime, 'EndTime');
  if (startTime !== undefined && endTime !== undefined && startTime > endTime)
    throw new JsonApiError(
      'InvalidTimeRangeException',
      'Start time must be at or before end time.',
    );
  let maxResults = MAX_RESULTS;
  if (body.MaxResults !== undefined && body.MaxResults !== null) {
    if (typeof body.MaxResults !== 'number' || !Number.isInteger(body.MaxResults))
      throw serialization('MaxResults', 'an integer');
    if (body.MaxResults < 1 || body.MaxResults > MAX_RESULTS)
      throw new JsonApiError(
        'InvalidMaxResultsException',
        `MaxResults must be from 1 to ${MAX_RESULTS}.`,
      );
    maxResults = body.MaxResults;
  }
  let insightsOnly = false;
  if (body.EventCategory !== undefined && body.EventCategory !== null) {
    if (body.EventCategory !== 'insight')
      throw new JsonApiError(
        'InvalidEventCategoryException',
        'EventCategory must be insight, or be left out for management events.',
      );
    insightsOnly = true;
  }
  if (body.NextToken !== undefined && body.NextToken !== null && typeof body.NextToken !== 'string')
    throw serialization('NextToken', 'a string');
  return {
    attributes,
    ...(startTime !== undefined ? { startTime } : {}),
    ...(endTime !== undefined ? { endTime: endTime + 999 } : {}),
    maxResults,
    ...(typeof body.NextToken === 'string' ? { nextToken: body.NextToken } : {}),
    insightsOnly,
  };
}

/**
 * The list a NextToken belongs to: the query it continues, so that a token given with other
 * attributes or another time range is refused, as CloudTrail refuses it.
 */
function tokenListOf(input: LookupEventsInput): string {
  const query = JSON.stringify([input.attributes, input.startTime, input.endTime]);
  return `LookupEvents/${createHash('sha256').update(query).digest('hex').slice(0, 32)}`;
}

function positionOf(input: LookupEventsInput): { stream: string; seq: number } | undefined {
  if (input.nextToken === undefined) return undefined;
  let position: unknown;
  try {
    position = JSON.parse(decodeToken(input.nextToken, tokenListOf(input)) as string);
  } catch {
    position = undefined;
  }
  if (
    !Array.isArray(position) ||
    position.length !== 2 ||
    typeof position[0] !== 'string' ||
    !Number.isSafeInteger(position[1])
  )
    throw new JsonApiError(
      'InvalidNextTokenException',
      'The NextToken is not valid, or was given with other parameters than the call it came from.',
    );
  return { stream: position[0], seq: position[1] as number };
}

/** One event in LookupEvents' form, the record itself as the CloudTrailEvent string. */
export function lookupEventOf(record: AuditRecord) {
  const { userIdentity } = record;
  return {
    EventId: record.eventID,
    EventName: record.eventName,
    ReadOnly: String(record.readOnly),
    ...(userIdentity.accessKeyId ? { AccessKeyId: userIdentity.accessKeyId } : {}),
    EventTime: Date.parse(record.eventTime) / 1000,
    EventSource: record.eventSource,
    ...(userIdentity.userName ? { Username: userIdentity.userName } : {}),
    Resources: (record.resources ?? []).map((resource) => ({
      ...(resource.type !== undefined ? { ResourceType: resource.type } : {}),
      ResourceName: resource.ARN,
    })),
    CloudTrailEvent: JSON.stringify(record),
  };
}

/** The response to a checked lookup: a page of events, newest first, and where the next starts. */
export async function lookupEventsPage(store: StoreReader, input: LookupEventsInput) {
  const after = positionOf(input);
  if (input.insightsOnly) return { Events: [] };
  const page = await lookupEvents(store, {
    attributes: input.attributes,
    ...(input.startTime !== undefined ? { startTime: input.startTime } : {}),
    ...(input.endTime !== undefined ? { endTime: input.endTime } : {}),
    maxResults: input.maxResults,
    ...(after ? { after } : {}),
  });
  return {
    Events: page.records.map(lookupEventOf),
    ...(page.next
      ? {
          NextToken: encodeToken(
            tokenListOf(input),
            JSON.stringify([page.next.stream, page.next.seq]),
          ),
        }
      : {}),
  };
}
