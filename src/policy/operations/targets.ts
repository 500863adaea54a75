import type { Operation } from '../../api/operation.js';
import {
  bodyObject,
  constraintError,
  invalid,
  optionalArray,
  optionalObject,
  optionalQueryString,
  optionalString,
  queryBoolean,
  requiredString,
  RESOURCE_NAME,
  type StringRule,
} from '../../api/validation.js';
import type { PolicyService } from '../service.js';
import { AUTH_ACTION_TYPES, type AuthActionType, type AuthInfo } from '../test-authorization.js';
import { controlOperation, markerPage, POLICY_NAME, policyNameOf, TARGET } from './common.js';

const CLIENT_ID: StringRule = { min: 1, max: 128 };
const RESOURCE: StringRule = { min: 1, max: 2048 };
const MAX_AUTH_INFOS = 10;
const MAX_RESOURCES = 1000;

/** Cognito is not part of Bulwark: a request naming an identity pool is refused, not ignored. */
function refuseCognito(body: Record<string, unknown>): void {
  if (optionalString(body.cognitoIdentityPoolId, 'cognitoIdentityPoolId', TARGET) !== undefined)
    throw invalid('Cognito identity pools are not supported');
}

function nameList(value: unknown, field: string): string[] | undefined {
  return optionalArray(value, field)?.map((item, index) =>
    requiredString(item, `${field}.${index + 1}.member`, POLICY_NAME),
  );
}

function authInfos(value: unknown): AuthInfo[] {
  const list = optionalArray(value, 'authInfos');
  if (list === undefined) throw constraintError('authInfos', 'Member must not be null');
  if (list.length < 1 || list.length > MAX_AUTH_INFOS)
    throw constraintError('authInfos', `Member must have length between 1 and ${MAX_AUTH_INFOS}`);
  return list.map((item, index) => {
    const field = `authInfos.${index + 1}.member`;
    const info = optionalObject(item, field) ?? {};
    const actionType = requiredString(info.actionType, `${field}.actionType`, { max: 16 });
    if (!Object.hasOwn(AUTH_ACTION_TYPES, actionType))
      throw constraintError(
        `${field}.actionType`,
        `Member must satisfy enum value set: [${Object.keys(AUTH_ACTION_TYPES).join(', ')}]`,
      );
    const resources = optionalArray(info.resources, `${field}.resources`);
    if (resources === undefined)
      throw constraintError(`${field}.resources`, 'Member must not be null');
    if (resources.length > MAX_RESOURCES)
      throw constraintError(
        `${field}.resources`,
        `Member must have length less than or equal to ${MAX_RESOURCES}`,
      );
    return {
      actionType: actionType as AuthActionType,
      resources: resources.map((resource, r) =>
        requiredString(resource, `${field}.resources.${r + 1}.member`, RESOURCE),
      ),
    };
  });
}

/**
 * AttachPolicy, DetachPolicy, ListAttachedPolicies, ListTargetsForPolicy, GetEffectivePolicies,
 * TestAuthorization.
 */
export function targetOperations(service: PolicyService): Operation[] {
  const { targets, tester, arns } = service;
  const policyArn = (request: { params: Record<string, string> }) =>
    arns.policy(request.params.policyName ?? '');
  const targetOf = (body: unknown) => requiredString(bodyObject(body).target, 'target', TARGET);
  return [
    controlOperation({
      name: 'AttachPolicy',
      method: 'PUT',
      path: '/target-policies/:policyName',
      readOnly: false,
      resource: policyArn,
      async handle(request) {
        await targets.attach(policyNameOf(request), targetOf(request.body));
        return {};
      },
    }),
    controlOperation({
      name: 'DetachPolicy',
      method: 'POST',
      path: '/target-policies/:policyName',
      readOnly: false,
      resource: policyArn,
      async handle(request) {
        await targets.detach(policyNameOf(request), targetOf(request.body));
        return {};
      },
    }),
    controlOperation({
      name: 'ListAttachedPolicies',
      method: 'POST',
      path: '/attached-policies/:target',
      readOnly: true,
      async handle(request) {
        const target = requiredString(request.params.target, 'target', TARGET);
        const page = await targets.listAttached(
          target,
          queryBoolean(request.query, 'recursive') ?? false,
          markerPage(request),
        );
        return {
          body: {
            policies: page.items,
            ...(page.nextMarker ? { nextMarker: page.nextMarker } : {}),
          },
        };
      },
    }),
    controlOperation({
      name: 'ListTargetsForPolicy',
      method: 'POST',
      path: '/policy-targets/:policyName',
      readOnly: true,
      resource: policyArn,
      async handle(request) {
        const page = await targets.listTargets(policyNameOf(request), markerPage(request));
        return {
          body: {
            targets: page.items,
            ...(page.nextMarker ? { nextMarker: page.nextMarker } : {}),
          },
        };
      },
    }),
    controlOperation({
      name: 'GetEffectivePolicies',
      method: 'POST',
      path: '/effective-policies',
      readOnly: true,
      async handle(request) {
        const body = bodyObject(request.body);
        refuseCognito(body);
        const principal = optionalString(body.principal, 'principal', TARGET);
        const thingName = optionalQueryString(request.query, 'thingName', RESOURCE_NAME);
        return {
          body: { effectivePolicies: await targets.effectivePolicies(principal, thingName) },
        };
      },
    }),
    controlOperation({
      name: 'TestAuthorization',
      method: 'POST',
      path: '/test-authorization',
      readOnly: true,
      async handle(request) {
        const body = bodyObject(request.body);
        refuseCognito(body);
        const principal = optionalString(body.principal, 'principal', TARGET);
        const clientId = optionalQueryString(request.query, 'clientId', CLIENT_ID);
        const toAdd = nameList(body.policyNamesToAdd, 'policyNamesToAdd');
        const toSkip = nameList(body.policyNamesToSkip, 'policyNamesToSkip');
        const authResults = await tester.test({
          authInfos: authInfos(body.authInfos),
          ...(principal !== undefined ? { principal } : {}),
          ...(clientId !== undefined ? { clientId } : {}),
          ...(toAdd ? { policyNamesToAdd: toAdd } : {}),
          ...(toSkip ? { policyNamesToSkip: toSkip } : {}),
        });
        return { body: { authResults } };
      },
    }),
  ];
}
