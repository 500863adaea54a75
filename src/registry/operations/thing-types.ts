import type { Operation } from '../../api/operation.js';
import {
  memberOf,
  tagListFields,
  textField,
  textListFields,
  type FreeFormField,
} from '../../guard/field-guard.js';
import type { Registry } from '../registry.js';
import { tagsFromList } from '../tags.js';
import type { PropagatingAttribute, ThingTypeProperties } from '../thing-types.js';
import {
  ATTRIBUTE_NAME,
  bodyObject,
  DESCRIPTION,
  optionalArray,
  optionalBoolean,
  optionalObject,
  optionalQueryString,
  optionalString,
  RESOURCE_NAME,
  type StringRule,
} from '../validation.js';
import {
  controlOperation,
  epochSeconds,
  listResult,
  pageFromQuery,
  pathName,
  stringList,
  tagList,
} from './common.js';

const PROPAGATING_MEMBER: StringRule = { min: 1, max: 128 };

function propagatingAttributes(value: unknown, field: string): PropagatingAttribute[] | undefined {
  return optionalArray(value, field)?.map((item, index) => {
    const member = `${field}.${index + 1}.member`;
    const attribute = optionalObject(item, member) ?? {};
    const result: PropagatingAttribute = {};
    for (const key of ['userPropertyKey', 'thingAttribute', 'connectionAttribute'] as const) {
      const text = optionalString(attribute[key], `${member}.${key}`, PROPAGATING_MEMBER);
      if (text !== undefined) result[key] = text;
    }
    return result;
  });
}

function thingTypeProperties(value: unknown): ThingTypeProperties | undefined {
  const field = 'thingTypeProperties';
  const properties = optionalObject(value, field);
  if (properties === undefined) return undefined;
  const description = optionalString(
    properties.thingTypeDescription,
    `${field}.thingTypeDescription`,
    DESCRIPTION,
  );
  const searchable = stringList(
    properties.searchableAttributes,
    `${field}.searchableAttributes`,
    ATTRIBUTE_NAME,
  );
  const mqtt5 = optionalObject(properties.mqtt5Configuration, `${field}.mqtt5Configuration`);
  const propagating = propagatingAttributes(
    mqtt5?.propagatingAttributes,
    `${field}.mqtt5Configuration.propagatingAttributes`,
  );
  return {
    ...(description !== undefined ? { thingTypeDescription: description } : {}),
    ...(searchable !== undefined ? { searchableAttributes: searchable } : {}),
    ...(mqtt5 !== undefined
      ? {
          mqtt5Configuration:
            propagating !== undefined ? { propagatingAttributes: propagating } : {},
        }
      : {}),
  };
}

/**
 * CreateThingType's new text for the field guard: the name, the description, the searchable
 * attribute names, the MQTT 5 user property keys it defines, and the tags.
 */
function thingTypeFields(name: unknown, body: unknown): FreeFormField[] {
  const properties = memberOf(body, 'thingTypeProperties');
  const propagating = memberOf(memberOf(properties, 'mqtt5Configuration'), 'propagatingAttributes');
  const field = 'thingTypeProperties';
  return [
    ...textField('thingTypeName', 'names', name),
    ...textField(
      `${field}.thingTypeDescription`,
      'descriptions',
      memberOf(properties, 'thingTypeDescription'),
    ),
    ...textListFields(
      `${field}.searchableAttributes`,
      'attributes',
      memberOf(properties, 'searchableAttributes'),
    ),
    ...(Array.isArray(propagating)
      ? propagating.flatMap((attribute, index) =>
          textField(
            `${field}.mqtt5Configuration.propagatingAttributes[${index}].userPropertyKey`,
            'names',
            memberOf(attribute, 'userPropertyKey'),
          ),
        )
      : []),
    ...tagListFields(memberOf(body, 'tags')),
  ];
}

/** CreateThingType, DescribeThingType, ListThingTypes, DeprecateThingType, DeleteThingType. */
export function thingTypeOperations(registry: Registry): Operation[] {
  const thingTypeArn = (request: { params: Record<string, string> }) =>
    registry.arns.thingType(request.params.thingTypeName ?? '');
  const wire = <
    T extends { thingTypeMetadata: { deprecationDate?: number; creationDate: number } },
  >(
    type: T,
  ): T => ({
    ...type,
    thingTypeMetadata: {
      ...type.thingTypeMetadata,
      ...(type.thingTypeMetadata.deprecationDate !== undefined
        ? { deprecationDate: epochSeconds(type.thingTypeMetadata.deprecationDate) }
        : {}),
      creationDate: epochSeconds(type.thingTypeMetadata.creationDate),
    },
  });
  return [
    controlOperation({
      name: 'CreateThingType',
      method: 'POST',
      path: '/thing-types/:thingTypeName',
      readOnly: false,
      resource: thingTypeArn,
      freeFormFields: (request) => thingTypeFields(request.params.thingTypeName, request.body),
      async handle(request) {
        const body = bodyObject(request.body);
        const properties = thingTypeProperties(body.thingTypeProperties);
        const tags = tagList(body.tags, 'tags');
        return {
          body: await registry.thingTypes.create({
            thingTypeName: pathName(request, 'thingTypeName'),
            ...(properties !== undefined ? { thingTypeProperties: properties } : {}),
            ...(tags !== undefined ? { tags: tagsFromList(tags) } : {}),
          }),
        };
      },
    }),
    controlOperation({
      name: 'DescribeThingType',
      method: 'GET',
      path: '/thing-types/:thingTypeName',
      readOnly: true,
      resource: thingTypeArn,
      async handle(request) {
        return {
          body: wire(await registry.thingTypes.describe(pathName(request, 'thingTypeName'))),
        };
      },
    }),
    controlOperation({
      name: 'ListThingTypes',
      method: 'GET',
      path: '/thing-types',
      readOnly: true,
      async handle(request) {
        const thingTypeName = optionalQueryString(request.query, 'thingTypeName', RESOURCE_NAME);
        const page = await registry.thingTypes.list({
          ...(thingTypeName !== undefined ? { thingTypeName } : {}),
          page: pageFromQuery(request, 'ListThingTypes'),
        });
        return listResult('thingTypes', { ...page, items: page.items.map(wire) });
      },
    }),
    controlOperation({
      name: 'DeprecateThingType',
      method: 'POST',
      path: '/thing-types/:thingTypeName/deprecate',
      readOnly: false,
      resource: thingTypeArn,
      async handle(request) {
        const body = bodyObject(request.body);
        const undo = optionalBoolean(body.undoDeprecate, 'undoDeprecate') ?? false;
        await registry.thingTypes.deprecate(pathName(request, 'thingTypeName'), undo);
        return {};
      },
    }),
    controlOperation({
      name: 'DeleteThingType',
      method: 'DELETE',
      path: '/thing-types/:thingTypeName',
      readOnly: false,
      resource: thingTypeArn,
      async handle(request) {
        await registry.thingTypes.delete(pathName(request, 'thingTypeName'));
        return {};
      },
    }),
  ];
}
