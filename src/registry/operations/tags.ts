import type { Operation, OperationRequest } from '../../api/operation.js';
import { memberOf, tagListFields } from '../../guard/field-guard.js';
import type { Registry } from '../registry.js';
import { tagsFromList } from '../tags.js';
import {
  ARN,
  bodyObject,
  constraintError,
  queryValue,
  requiredString,
  TAG_KEY,
} from '../validation.js';
import { controlOperation, listResult, pageFromQuery, stringList, tagList } from './common.js';

/** TagResource, UntagResource, ListTagsForResource: by ARN of a thing, thing type or thing group. */
export function tagOperations(registry: Registry): Operation[] {
  // Authorized on the resource the call names, when the request names one.
  const bodyArn = (request: OperationRequest) => {
    const arn = (request.body as { resourceArn?: unknown } | null)?.resourceArn;
    return typeof arn === 'string' && arn.length > 0 ? arn : '*';
  };
  return [
    controlOperation({
      name: 'TagResource',
      method: 'POST',
      path: '/tags',
      readOnly: false,
      resource: bodyArn,
      freeFormFields: (request) => tagListFields(memberOf(request.body, 'tags')),
      async handle(request) {
        const body = bodyObject(request.body);
        const resourceArn = requiredString(body.resourceArn, 'resourceArn', ARN);
        const tags = tagList(body.tags, 'tags');
        if (tags === undefined) throw constraintError('tags', 'Member must not be null');
        await registry.tags.tag(resourceArn, tagsFromList(tags));
        return {};
      },
    }),
    controlOperation({
      name: 'UntagResource',
      method: 'POST',
      path: '/untag',
      readOnly: false,
      resource: bodyArn,
      async handle(request) {
        const body = bodyObject(request.body);
        const resourceArn = requiredString(body.resourceArn, 'resourceArn', ARN);
        const tagKeys = stringList(body.tagKeys, 'tagKeys', TAG_KEY);
        if (tagKeys === undefined) throw constraintError('tagKeys', 'Member must not be null');
        await registry.tags.untag(resourceArn, tagKeys);
        return {};
      },
    }),
    controlOperation({
      name: 'ListTagsForResource',
      method: 'GET',
      path: '/tags',
      readOnly: true,
      resource: (request) => queryValue(request.query, 'resourceArn') || '*',
      async handle(request) {
        const resourceArn = requiredString(
          queryValue(request.query, 'resourceArn'),
          'resourceArn',
          ARN,
        );
        const page = await registry.tags.list(
          resourceArn,
          pageFromQuery(request, 'ListTagsForResource'),
        );
        return listResult('tags', page);
      },
    }),
  ];
}
