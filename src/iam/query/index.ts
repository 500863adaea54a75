import type { QueryAction } from './action.js';
import { accessKeyActions } from './access-key-actions.js';
import { groupActions } from './group-actions.js';
import { inlinePolicyActions } from './inline-policy-actions.js';
import { managedPolicyActions } from './managed-policy-actions.js';
import type { IamQueryServices } from './services.js';
import { stsActions } from './sts-actions.js';
import { userActions } from './user-actions.js';

export type { QueryAction, QueryContext, QueryParams, XmlObject, XmlValue } from './action.js';
export {
  QueryProtocol,
  QUERY_VERSIONS,
  type QueryHttpRequest,
  type QueryHttpResponse,
  type QueryProtocolOptions,
} from './protocol.js';
export {
  createIamQueryServices,
  type IamQueryServices,
  type IamQueryServicesOptions,
} from './services.js';

/** Every IAM and STS action of this module (MFA and login profiles bring their own). */
export function iamQueryActions(services: IamQueryServices): QueryAction[] {
  return [
    ...userActions(services),
    ...groupActions(services),
    ...inlinePolicyActions(services),
    ...managedPolicyActions(services),
    ...accessKeyActions(services),
    ...stsActions(services),
  ];
}
