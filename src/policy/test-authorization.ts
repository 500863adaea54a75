import { BulwarkError } from '../errors.js';
import type { AuthorizationContext, ConnectedThing } from './context.js';
import { PolicyDocument } from './document.js';
import { explain, IOT_ACTIONS, type NamedPolicy } from './evaluate.js';
import type { PolicySummary } from './policies.js';
import { policyNotFound, type PolicyServiceContext } from './service-context.js';
import type { PolicyTargets } from './targets.js';

/** TestAuthorization's action types and the IoT actions they stand for. */
export const AUTH_ACTION_TYPES = {
  PUBLISH: IOT_ACTIONS.publish,
  SUBSCRIBE: IOT_ACTIONS.subscribe,
  RECEIVE: IOT_ACTIONS.receive,
  CONNECT: IOT_ACTIONS.connect,
} as const;
export type AuthActionType = keyof typeof AUTH_ACTION_TYPES;

export interface AuthInfo {
  actionType: AuthActionType;
  resources: string[];
}

export interface TestAuthorizationInput {
  principal?: string;
  clientId?: string;
  authInfos: AuthInfo[];
  policyNamesToAdd?: string[];
  policyNamesToSkip?: string[];
}

export interface AuthResult {
  authInfo: AuthInfo;
  allowed: { policies: PolicySummary[] };
  denied: {
    implicitDeny: { policies: PolicySummary[] };
    explicitDeny: { policies: PolicySummary[] };
  };
  authDecision: 'ALLOWED' | 'EXPLICIT_DENY' | 'IMPLICIT_DENY';
  missingContextValues: string[];
}

/**
 * The thing a client id stands for when it is attached to the principal (thing principals are
 * the certificate service's); without it, thing variables stay unresolved and are reported as
 * missing context values.
 */
export type ThingOfClient = (
  principal: string,
  clientId: string,
) => Promise<ConnectedThing | undefined>;

/**
 * TestAuthorization: evaluates each authInfo against the policies that would govern the
 * principal (its own, and those of its thing's groups when the client id is an attached thing),
 * plus policyNamesToAdd, minus policyNamesToSkip, and says which policy allowed or denied.
 */
export class AuthorizationTester {
  private readonly context: PolicyServiceContext;
  private readonly targets: PolicyTargets;
  private readonly thingOfClient: ThingOfClient | undefined;

  constructor(
    context: PolicyServiceContext,
    targets: PolicyTargets,
    thingOfClient?: ThingOfClient,
  ) {
    this.context = context;
    this.targets = targets;
    this.thingOfClient = thingOfClient;
  }

  private async policies(input: TestAuthorizationInput, thing: ConnectedThing | undefined) {
    const governing = await this.targets.governingTargets(input.principal, thing?.name);
    const names = new Set(await this.targets.attachedTo(governing));
    for (const name of input.policyNamesToAdd ?? []) names.add(name);
    for (const name of input.policyNamesToSkip ?? []) names.delete(name);
    const sorted = [...names].sort();
    const found = await this.targets.documentsOf(sorted);
    const missing = (input.policyNamesToAdd ?? []).find(
      (name) => !found.some((policy) => policy.policyName === name),
    );
    if (missing !== undefined) throw policyNotFound(missing);
    return found.map((policy): NamedPolicy<PolicySummary> => ({
      name: { policyName: policy.policyName, policyArn: policy.policyArn },
      document: PolicyDocument.parse(policy.policyDocument),
    }));
  }

  async test(input: TestAuthorizationInput): Promise<AuthResult[]> {
    const thing =
      input.principal !== undefined && input.clientId !== undefined && this.thingOfClient
        ? await this.thingOfClient(input.principal, input.clientId)
        : undefined;
    const policies = await this.policies(input, thing);
    const context: AuthorizationContext = {
      ...(input.clientId !== undefined ? { clientId: input.clientId } : {}),
      ...(thing ? { thing } : {}),
    };
    return input.authInfos.map((authInfo) => {
      const action = AUTH_ACTION_TYPES[authInfo.actionType];
      if (!action) throw new BulwarkError('InvalidRequest', 'Unknown actionType');
      const allowed = new Map<string, PolicySummary>();
      const denying = new Map<string, PolicySummary>();
      const silent = new Map<string, PolicySummary>();
      const missing = new Set<string>();
      let allAllowed = authInfo.resources.length > 0;
      for (const resource of authInfo.resources) {
        const explanation = explain(policies, action, resource, context);
        for (const policy of explanation.allowing) allowed.set(policy.policyName, policy);
        for (const policy of explanation.denying) denying.set(policy.policyName, policy);
        for (const policy of explanation.silent) silent.set(policy.policyName, policy);
        for (const key of explanation.missingContextValues) missing.add(key);
        if (explanation.decision !== 'allow') allAllowed = false;
      }
      const authDecision =
        denying.size > 0 ? 'EXPLICIT_DENY' : allAllowed ? 'ALLOWED' : 'IMPLICIT_DENY';
      return {
        authInfo,
        allowed: { policies: authDecision === 'ALLOWED' ? [...allowed.values()] : [] },
        denied: {
          implicitDeny: {
            policies: authDecision === 'IMPLICIT_DENY' ? [...silent.values()] : [],
          },
          explicitDeny: { policies: [...denying.values()] },
        },
        authDecision,
        missingContextValues: [...missing].sort(),
      };
    });
  }
}
