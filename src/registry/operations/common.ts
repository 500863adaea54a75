import type { OperationRequest, OperationResult } from '../../api/operation.js';
import type { AttributePayload } from '../attributes.js';
import { pageRequest, type Page, type PageRequest } from '../pagination.js';
import type { Tag } from '../tags.js';
import {
  attributeMap,
  NEXT_TOKEN,
  optionalArray,
  optionalBoolean,
  optionalObject,
  optionalQueryString,
  optionalString,
  queryInteger,
  requiredString,
  RESOURCE_NAME,
  type StringRule,
  TAG_KEY,
  TAG_VALUE,
} from '../validation.js';

export { controlOperation, epochSeconds } from '../../api/operation.js';

/** A resource name from the path (thingName, thingTypeName, thingGroupName). */
export function pathName(request: OperationRequest, param: string): string {
  return requiredString(request.params[param], param, RESOURCE_NAME);
}

/** nextToken and maxResults from the query, for the list named `list`. */
export function pageFromQuery(request: OperationRequest, list: string): PageRequest {
  return pageRequest(
    list,
    optionalQueryString(request.query, 'nextToken', NEXT_TOKEN),
    queryInteger(request.query, 'maxResults'),
  );
}

/** A list response: the items under `member`, and nextToken when more follow. */
export function listResult<T>(member: string, page: Page<T>): OperationResult {
  return {
    body: { [member]: page.items, ...(page.nextToken ? { nextToken: page.nextToken } : {}) },
  };
}

export function attributePayload(value: unknown, field: string): AttributePayload | undefined {
  const payload = optionalObject(value, field);
  if (payload === undefined) return undefined;
  const attributes = attributeMap(payload.attributes, `${field}.attributes`);
  const merge = optionalBoolean(payload.merge, `${field}.merge`);
  return {
    ...(attributes !== undefined ? { attributes } : {}),
    ...(merge !== undefined ? { merge } : {}),
  };
}

/** A TagList (`[{Key, Value}]`), checked member by member. */
export function tagList(value: unknown, field: string): Tag[] | undefined {
  const list = optionalArray(value, field);
  if (list === undefined) return undefined;
  return list.map((item, index) => {
    const member = `${field}.${index + 1}.member`;
    const tag = optionalObject(item, member) ?? {};
    return {
      Key: requiredString(tag.Key, `${member}.Key`, TAG_KEY),
      Value: optionalString(tag.Value, `${member}.Value`, TAG_VALUE) ?? '',
    };
  });
}

export function stringList(value: unknown, field: string, rule: StringRule): string[] | undefined {
  const list = optionalArray(value, field);
  return list?.map((item, index) => requiredString(item, `${field}.${index + 1}.member`, rule));
}
