import type { Operation } from '../../api/operation.js';
import { memberOf, tagListFields, textField } from '../../guard/field-guard.js';
import { tagList } from '../../registry/operations/common.js';
import { tagsFromList } from '../../registry/tags.js';
import { bodyObject, queryBoolean, requiredString } from '../../api/validation.js';
import type { PolicyService } from '../service.js';
import {
  controlOperation,
  epochSeconds,
  markerPage,
  POLICY_DOCUMENT,
  policyNameOf,
  versionIdOf,
} from './common.js';

/**
 * CreatePolicy, GetPolicy, ListPolicies, DeletePolicy, CreatePolicyVersion, ListPolicyVersions,
 * GetPolicyVersion, SetDefaultPolicyVersion, DeletePolicyVersion.
 */
export function policyOperations(service: PolicyService): Operation[] {
  const { policies, arns } = service;
  const policyArn = (request: { params: Record<string, string> }) =>
    arns.policy(request.params.policyName ?? '');
  const documentOf = (body: unknown) =>
    requiredString(bodyObject(body).policyDocument, 'policyDocument', POLICY_DOCUMENT);
  return [
    controlOperation({
      name: 'CreatePolicy',
      method: 'POST',
      path: '/policies/:policyName',
      readOnly: false,
      resource: policyArn,
      freeFormFields: (request) => [
        ...textField('policyName', 'names', request.params.policyName),
        ...tagListFields(memberOf(request.body, 'tags')),
      ],
      async handle(request) {
        const name = policyNameOf(request);
        const text = documentOf(request.body);
        const tags = tagList(bodyObject(request.body).tags, 'tags');
        return {
          body: await policies.create(name, text, tags ? tagsFromList(tags) : {}),
        };
      },
    }),
    controlOperation({
      name: 'GetPolicy',
      method: 'GET',
      path: '/policies/:policyName',
      readOnly: true,
      resource: policyArn,
      async handle(request) {
        const policy = await policies.get(policyNameOf(request));
        return {
          body: {
            ...policy,
            creationDate: epochSeconds(policy.creationDate),
            lastModifiedDate: epochSeconds(policy.lastModifiedDate),
          },
        };
      },
    }),
    controlOperation({
      name: 'ListPolicies',
      method: 'GET',
      path: '/policies',
      readOnly: true,
      async handle(request) {
        const page = await policies.list({
          ...markerPage(request),
          ascending: queryBoolean(request.query, 'isAscendingOrder') ?? true,
        });
        return {
          body: {
            policies: page.items,
            ...(page.nextMarker ? { nextMarker: page.nextMarker } : {}),
          },
        };
      },
    }),
    controlOperation({
      name: 'DeletePolicy',
      method: 'DELETE',
      path: '/policies/:policyName',
      readOnly: false,
      resource: policyArn,
      async handle(request) {
        await policies.delete(policyNameOf(request));
        return {};
      },
    }),
    controlOperation({
      name: 'CreatePolicyVersion',
      method: 'POST',
      path: '/policies/:policyName/version',
      readOnly: false,
      resource: policyArn,
      async handle(request) {
        return {
          body: await policies.createVersion(
            policyNameOf(request),
            documentOf(request.body),
            queryBoolean(request.query, 'setAsDefault') ?? false,
          ),
        };
      },
    }),
    controlOperation({
      name: 'ListPolicyVersions',
      method: 'GET',
      path: '/policies/:policyName/version',
      readOnly: true,
      resource: policyArn,
      async handle(request) {
        const versions = await policies.listVersions(policyNameOf(request));
        return {
          body: {
            policyVersions: versions.map((version) => ({
              ...version,
              createDate: epochSeconds(version.createDate),
            })),
          },
        };
      },
    }),
    controlOperation({
      name: 'GetPolicyVersion',
      method: 'GET',
      path: '/policies/:policyName/version/:policyVersionId',
      readOnly: true,
      resource: policyArn,
      async handle(request) {
        const version = await policies.getVersion(policyNameOf(request), versionIdOf(request));
        return {
          body: {
            ...version,
            creationDate: epochSeconds(version.creationDate),
            lastModifiedDate: epochSeconds(version.lastModifiedDate),
          },
        };
      },
    }),
    controlOperation({
      name: 'SetDefaultPolicyVersion',
      method: 'PATCH',
      path: '/policies/:policyName/version/:policyVersionId',
      readOnly: false,
      resource: policyArn,
      async handle(request) {
        await policies.setDefaultVersion(policyNameOf(request), versionIdOf(request));
        return {};
      },
    }),
    controlOperation({
      name: 'DeletePolicyVersion',
      method: 'DELETE',
      path: '/policies/:policyName/version/:policyVersionId',
      readOnly: false,
      resource: policyArn,
      async handle(request) {
        await policies.deleteVersion(policyNameOf(request), versionIdOf(request));
        return {};
      },
    }),
  ];
}
