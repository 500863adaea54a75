import type { Operation, OperationRequest } from '../../api/operation.js';
import type { IotArns } from '../../api/iot-arns.js';
import {
  attributeMapFields,
  memberOf,
  tagListFields,
  textField,
  type FreeFormField,
} from '../../guard/field-guard.js';
import { registryResourceOf, type ResourceKind } from '../arns.js';
import type { Registry } from '../registry.js';
import { tagsFromList } from '../tags.js';
import {
  ARN,
  bodyObject,
  checkString,
  constraintError,
  DESCRIPTION,
  invalid,
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
  epochSeconds,
  listResult,
  pageFromQuery,
  pathName,
  tagList,
} from './common.js';

/**
 * The resource a membership call names, by name or by ARN (AddThingToThingGroup takes either).
 * Both may be given if they agree.
 */
function nameOrArn(
  arns: IotArns,
  body: Record<string, unknown>,
  fields: { name: string; arn: string },
  kind: ResourceKind,
): string {
  const name = optionalString(body[fields.name], fields.name, RESOURCE_NAME);
  const arn = optionalString(body[fields.arn], fields.arn, ARN);
  if (arn === undefined) {
    if (name === undefined) throw invalid(`Either ${fields.name} or ${fields.arn} must be given`);
    return name;
  }
  const ref = registryResourceOf(arns, arn);
  if (!ref || ref.kind !== kind)
    throw constraintError(
      fields.arn,
      `Member must be the ARN of a ${kind} of this account and region`,
    );
  checkString(ref.name, fields.arn, RESOURCE_NAME);
  if (name !== undefined && name !== ref.name)
    throw invalid(`${fields.name} and ${fields.arn} name different resources`);
  return ref.name;
}

function membership(arns: IotArns, request: OperationRequest): { group: string; thing: string } {
  const body = bodyObject(request.body);
  return {
    group: nameOrArn(arns, body, { name: 'thingGroupName', arn: 'thingGroupArn' }, 'thinggroup'),
    thing: nameOrArn(arns, body, { name: 'thingName', arn: 'thingArn' }, 'thing'),
  };
}

function thingGroupProperties(value: unknown, required: boolean) {
  const field = 'thingGroupProperties';
  const properties = optionalObject(value, field);
  if (properties === undefined) {
    if (required) throw constraintError(field, 'Member must not be null');
    return {};
  }
  const description = optionalString(
    properties.thingGroupDescription,
    `${field}.thingGroupDescription`,
    DESCRIPTION,
  );
  const payload = attributePayload(properties.attributePayload, `${field}.attributePayload`);
  return {
    ...(description !== undefined ? { thingGroupDescription: description } : {}),
    ...(payload !== undefined ? { attributePayload: payload } : {}),
  };
}

/** `thingGroupProperties`' description and attributes, for the field guard. */
function thingGroupPropertyFields(body: unknown): FreeFormField[] {
  const field = 'thingGroupProperties';
  const properties = memberOf(body, field);
  return [
    ...textField(
      `${field}.thingGroupDescription`,
      'descriptions',
      memberOf(properties, 'thingGroupDescription'),
    ),
    ...attributeMapFields(
      memberOf(memberOf(properties, 'attributePayload'), 'attributes'),
      `${field}.attributePayload.attributes`,
    ),
  ];
}

/**
 * CreateThingGroup, DescribeThingGroup, ListThingGroups, UpdateThingGroup, DeleteThingGroup,
 * AddThingToThingGroup, RemoveThingFromThingGroup, ListThingsInThingGroup, ListThingGroupsForThing.
 */
export function thingGroupOperations(registry: Registry): Operation[] {
  const { arns } = registry;
  const groupArn = (request: { params: Record<string, string> }) =>
    arns.thingGroup(request.params.thingGroupName ?? '');
  // Membership calls are authorized on the group; a body that names none is refused in handle.
  const membershipResource = (request: OperationRequest) => {
    try {
      return arns.thingGroup(membership(arns, request).group);
    } catch {
      return '*';
    }
  };
  return [
    controlOperation({
      name: 'CreateThingGroup',
      method: 'POST',
      path: '/thing-groups/:thingGroupName',
      readOnly: false,
      resource: groupArn,
      // The parent group it names is an existing one.
      freeFormFields: (request) => [
        ...textField('thingGroupName', 'names', request.params.thingGroupName),
        ...thingGroupPropertyFields(request.body),
        ...tagListFields(memberOf(request.body, 'tags')),
      ],
      async handle(request) {
        const body = bodyObject(request.body);
        const parentGroupName = optionalString(
          body.parentGroupName,
          'parentGroupName',
          RESOURCE_NAME,
        );
        const properties = thingGroupProperties(body.thingGroupProperties, false);
        const tags = tagList(body.tags, 'tags');
        const attributes = properties.attributePayload?.attributes;
        return {
          body: await registry.thingGroups.create({
            thingGroupName: pathName(request, 'thingGroupName'),
            ...(parentGroupName !== undefined ? { parentGroupName } : {}),
            ...(properties.thingGroupDescription !== undefined
              ? { thingGroupDescription: properties.thingGroupDescription }
              : {}),
            ...(attributes !== undefined ? { attributes } : {}),
            ...(tags !== undefined ? { tags: tagsFromList(tags) } : {}),
          }),
        };
      },
    }),
    controlOperation({
      name: 'DescribeThingGroup',
      method: 'GET',
      path: '/thing-groups/:thingGroupName',
      readOnly: true,
      resource: groupArn,
      async handle(request) {
        const group = await registry.thingGroups.describe(pathName(request, 'thingGroupName'));
        return {
          body: {
            ...group,
            thingGroupMetadata: {
              ...group.thingGroupMetadata,
              creationDate: epochSeconds(group.thingGroupMetadata.creationDate),
            },
          },
        };
      },
    }),
    controlOperation({
      name: 'ListThingGroups',
      method: 'GET',
      path: '/thing-groups',
      readOnly: true,
      async handle(request) {
        const query = request.query;
        const parentGroup = optionalQueryString(query, 'parentGroup', RESOURCE_NAME);
        const namePrefixFilter = optionalQueryString(query, 'namePrefixFilter', RESOURCE_NAME);
        const recursive = queryBoolean(query, 'recursive');
        const page = await registry.thingGroups.list({
          ...(parentGroup !== undefined ? { parentGroup } : {}),
          ...(namePrefixFilter !== undefined ? { namePrefixFilter } : {}),
          ...(recursive !== undefined ? { recursive } : {}),
          page: pageFromQuery(request, 'ListThingGroups'),
        });
        return listResult('thingGroups', page);
      },
    }),
    controlOperation({
      name: 'UpdateThingGroup',
      method: 'PATCH',
      path: '/thing-groups/:thingGroupName',
      readOnly: false,
      resource: groupArn,
      freeFormFields: (request) => thingGroupPropertyFields(request.body),
      async handle(request) {
        const body = bodyObject(request.body);
        const properties = thingGroupProperties(body.thingGroupProperties, true);
        const expectedVersion = optionalInteger(body.expectedVersion, 'expectedVersion');
        const version = await registry.thingGroups.update({
          thingGroupName: pathName(request, 'thingGroupName'),
          ...properties,
          ...(expectedVersion !== undefined ? { expectedVersion } : {}),
        });
        return { body: { version } };
      },
    }),
    controlOperation({
      name: 'DeleteThingGroup',
      method: 'DELETE',
      path: '/thing-groups/:thingGroupName',
      readOnly: false,
      resource: groupArn,
      async handle(request) {
        await registry.thingGroups.delete(
          pathName(request, 'thingGroupName'),
          queryInteger(request.query, 'expectedVersion'),
        );
        return {};
      },
    }),
    controlOperation({
      name: 'AddThingToThingGroup',
      method: 'PUT',
      path: '/thing-groups/addThingToThingGroup',
      readOnly: false,
      resource: membershipResource,
      async handle(request) {
        const { group, thing } = membership(arns, request);
        // Dynamic groups are not part of Bulwark's registry, so there is nothing to override.
        optionalBoolean(bodyObject(request.body).overrideDynamicGroups, 'overrideDynamicGroups');
        await registry.thingGroups.addThing(group, thing);
        return {};
      },
    }),
    controlOperation({
      name: 'RemoveThingFromThingGroup',
      method: 'PUT',
      path: '/thing-groups/removeThingFromThingGroup',
      readOnly: false,
      resource: membershipResource,
      async handle(request) {
        const { group, thing } = membership(arns, request);
        await registry.thingGroups.removeThing(group, thing);
        return {};
      },
    }),
    controlOperation({
      name: 'ListThingsInThingGroup',
      method: 'GET',
      path: '/thing-groups/:thingGroupName/things',
      readOnly: true,
      resource: groupArn,
      async handle(request) {
        const page = await registry.thingGroups.listThings(
          pathName(request, 'thingGroupName'),
          queryBoolean(request.query, 'recursive') ?? false,
          pageFromQuery(request, 'ListThingsInThingGroup'),
        );
        return listResult('things', page);
      },
    }),
    controlOperation({
      name: 'ListThingGroupsForThing',
      method: 'GET',
      path: '/things/:thingName/thing-groups',
      readOnly: true,
      resource: (request) => arns.thing(request.params.thingName ?? ''),
      async handle(request) {
        const page = await registry.thingGroups.groupsOfThing(
          pathName(request, 'thingName'),
          pageFromQuery(request, 'ListThingGroupsForThing'),
        );
        return listResult('thingGroups', page);
      },
    }),
  ];
}
