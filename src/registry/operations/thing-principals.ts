import type { Operation, OperationRequest } from '../../api/operation.js';
import type { Registry } from '../registry.js';
import { THING_PRINCIPAL_TYPES, type ThingPrincipalType } from '../thing-principals.js';
import { constraintError, queryValue, requiredString, type StringRule } from '../validation.js';
import { controlOperation, listResult, pageFromQuery, pathName } from './common.js';

/** The `x-amzn-principal` header: a certificate ARN (AWS's Principal, any string). */
const PRINCIPAL: StringRule = { min: 1, max: 2048 };

function principalHeader(request: OperationRequest): string {
  const value = request.headers['x-amzn-principal'];
  return requiredString(Array.isArray(value) ? value[0] : value, 'principal', PRINCIPAL);
}

function principalType(request: OperationRequest): ThingPrincipalType | undefined {
  const value = queryValue(request.query, 'thingPrincipalType');
  if (value === undefined) return undefined;
  if (!(THING_PRINCIPAL_TYPES as readonly string[]).includes(value))
    throw constraintError(
      'thingPrincipalType',
      `Member must satisfy enum value set: [${THING_PRINCIPAL_TYPES.join(', ')}]`,
    );
  return value as ThingPrincipalType;
}

/**
 * AttachThingPrincipal, DetachThingPrincipal, ListThingPrincipals(V2),
 * ListPrincipalThings(V2).
 */
export function thingPrincipalOperations(registry: Registry): Operation[] {
  const thingArn = (request: OperationRequest) =>
    registry.arns.thing(request.params.thingName ?? '');
  return [
    controlOperation({
      name: 'AttachThingPrincipal',
      method: 'PUT',
      path: '/things/:thingName/principals',
      readOnly: false,
      resource: thingArn,
      async handle(request) {
        await registry.principals.attach(
          pathName(request, 'thingName'),
          principalHeader(request),
          principalType(request),
        );
        return {};
      },
    }),
    controlOperation({
      name: 'DetachThingPrincipal',
      method: 'DELETE',
      path: '/things/:thingName/principals',
      readOnly: false,
      resource: thingArn,
      async handle(request) {
        await registry.principals.detach(pathName(request, 'thingName'), principalHeader(request));
        return {};
      },
    }),
    controlOperation({
      name: 'ListThingPrincipals',
      method: 'GET',
      path: '/things/:thingName/principals',
      readOnly: true,
      resource: thingArn,
      async handle(request) {
        const page = await registry.principals.ofThing(
          pathName(request, 'thingName'),
          pageFromQuery(request, 'ListThingPrincipals'),
        );
        return listResult('principals', {
          ...page,
          items: page.items.map((item) => item.principal),
        });
      },
    }),
    controlOperation({
      name: 'ListThingPrincipalsV2',
      method: 'GET',
      path: '/things/:thingName/principals-v2',
      readOnly: true,
      resource: thingArn,
      async handle(request) {
        const page = await registry.principals.ofThing(
          pathName(request, 'thingName'),
          pageFromQuery(request, 'ListThingPrincipals'),
          principalType(request),
        );
        return listResult('thingPrincipalObjects', page);
      },
    }),
    controlOperation({
      name: 'ListPrincipalThings',
      method: 'GET',
      path: '/principals/things',
      readOnly: true,
      async handle(request) {
        const page = await registry.principals.ofPrincipal(
          principalHeader(request),
          pageFromQuery(request, 'ListPrincipalThings'),
        );
        return listResult('things', { ...page, items: page.items.map((item) => item.thingName) });
      },
    }),
    controlOperation({
      name: 'ListPrincipalThingsV2',
      method: 'GET',
      path: '/principals/things-v2',
      readOnly: true,
      async handle(request) {
        const page = await registry.principals.ofPrincipal(
          principalHeader(request),
          pageFromQuery(request, 'ListPrincipalThings'),
          principalType(request),
        );
        return listResult('principalThingObjects', page);
      },
    }),
  ];
}
