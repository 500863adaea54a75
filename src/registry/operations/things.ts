import type { Operation } from '../../api/operation.js';
import { attributeMapFields, memberOf, textField } from '../../guard/field-guard.js';
import type { Registry } from '../registry.js';
import {
  ATTRIBUTE_NAME,
  ATTRIBUTE_VALUE,
  attributeMap,
  bodyObject,
  optionalBoolean,
  optionalInteger,
  optionalObject,
  optionalQueryString,
  optionalString,
  queryBoolean,
  queryInteger,
  RESOURCE_NAME,
} from '../validation.js';
import {
  attributePayload,
  controlOperation,
  listResult,
  pageFromQuery,
  pathName,
} from './common.js';

/** `attributePayload.attributes` of CreateThing and UpdateThing, for the field guard. */
function thingAttributeFields(body: unknown) {
  return attributeMapFields(
    memberOf(memberOf(body, 'attributePayload'), 'attributes'),
    'attributePayload.attributes',
  );
}

/** CreateThing, DescribeThing, ListThings, UpdateThing, DeleteThing. */
export function thingOperations(registry: Registry): Operation[] {
  const thingArn = (request: { params: Record<string, string> }) =>
    registry.arns.thing(request.params.thingName ?? '');
  return [
    controlOperation({
      name: 'CreateThing',
      method: 'POST',
      path: '/things/:thingName',
      readOnly: false,
      resource: thingArn,
      freeFormFields: (request) => [
        ...textField('thingName', 'names', request.params.thingName),
        ...thingAttributeFields(request.body),
      ],
      async handle(request) {
        const body = bodyObject(request.body);
        const thingTypeName = optionalString(body.thingTypeName, 'thingTypeName', RESOURCE_NAME);
        const billingGroupName = optionalString(
          body.billingGroupName,
          'billingGroupName',
          RESOURCE_NAME,
        );
        // CreateThing takes attributePayload.attributes; `merge` only means something on update.
        const payload = optionalObject(body.attributePayload, 'attributePayload');
        const attributes = attributeMap(payload?.attributes, 'attributePayload.attributes');
        optionalBoolean(payload?.merge, 'attributePayload.merge');
        return {
          body: await registry.things.create({
            thingName: pathName(request, 'thingName'),
            ...(thingTypeName !== undefined ? { thingTypeName } : {}),
            ...(attributes !== undefined ? { attributes } : {}),
            ...(billingGroupName !== undefined ? { billingGroupName } : {}),
          }),
        };
      },
    }),
    controlOperation({
      name: 'DescribeThing',
      method: 'GET',
      path: '/things/:thingName',
      readOnly: true,
      resource: thingArn,
      async handle(request) {
        return { body: await registry.things.describe(pathName(request, 'thingName')) };
      },
    }),
    controlOperation({
      name: 'ListThings',
      method: 'GET',
      path: '/things',
      readOnly: true,
      async handle(request) {
        const query = request.query;
        const attributeName = optionalQueryString(query, 'attributeName', ATTRIBUTE_NAME);
        const attributeValue = optionalQueryString(query, 'attributeValue', ATTRIBUTE_VALUE);
        const thingTypeName = optionalQueryString(query, 'thingTypeName', RESOURCE_NAME);
        const usePrefixAttributeValue = queryBoolean(query, 'usePrefixAttributeValue');
        const page = await registry.things.list({
          ...(attributeName !== undefined ? { attributeName } : {}),
          ...(attributeValue !== undefined ? { attributeValue } : {}),
          ...(thingTypeName !== undefined ? { thingTypeName } : {}),
          ...(usePrefixAttributeValue !== undefined ? { usePrefixAttributeValue } : {}),
          page: pageFromQuery(request, 'ListThings'),
        });
        return listResult('things', page);
      },
    }),
    controlOperation({
      name: 'UpdateThing',
      method: 'PATCH',
      path: '/things/:thingName',
      readOnly: false,
      resource: thingArn,
      // The thing type it names is an existing one: only the attributes are new text.
      freeFormFields: (request) => thingAttributeFields(request.body),
      async handle(request) {
        const body = bodyObject(request.body);
        const thingTypeName = optionalString(body.thingTypeName, 'thingTypeName', RESOURCE_NAME);
        const removeThingType = optionalBoolean(body.removeThingType, 'removeThingType');
        const payload = attributePayload(body.attributePayload, 'attributePayload');
        const expectedVersion = optionalInteger(body.expectedVersion, 'expectedVersion');
        await registry.things.update({
          thingName: pathName(request, 'thingName'),
          ...(thingTypeName !== undefined ? { thingTypeName } : {}),
          ...(removeThingType !== undefined ? { removeThingType } : {}),
          ...(payload !== undefined ? { attributePayload: payload } : {}),
          ...(expectedVersion !== undefined ? { expectedVersion } : {}),
        });
        return {};
      },
    }),
    controlOperation({
      name: 'DeleteThing',
      method: 'DELETE',
      path: '/things/:thingName',
      readOnly: false,
      resource: thingArn,
      async handle(request) {
        await registry.things.delete(
          pathName(request, 'thingName'),
          queryInteger(request.query, 'expectedVersion'),
        );
        return {};
      },
    }),
  ];
}
