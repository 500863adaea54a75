import type { IamUserCaller } from '../api/operation.js';
import type { IamGroups } from './groups.js';
import type { IamInlinePolicies, PolicyHolder } from './inline-policies.js';
import type { UsageRecorder } from './last-accessed.js';
import type { IamManagedPolicies } from './managed-policies.js';
import {
  accessDeniedReason,
  evaluateIamPolicies,
  type IamDecision,
  parseIamPolicy,
  type IamPolicyDocument,
  type IamPolicyKind,
} from './policy/index.js';
import { isTemporaryKey } from './sessions.js';

export interface AuthorizationDecision {
  allowed: boolean;
  /** Why not, in AWS's words (`because no identity-based policy allows the … action`). */
  reason?: string;
}

/** What the request itself tells policies (condition keys beyond the caller's identity). */
export interface RequestFacts {
  /** `aws:SourceIp`. */
  sourceIp?: string;
  /** Other condition keys and their values (SimulatePrincipalPolicy's ContextEntries). */
  keys?: Record<string, string | readonly string[]>;
}

/**
 * The one authorization seam every API call by an IAM user passes through: may `caller` perform
 * `action` (`iot:CreateThing`) on `resource` (an ARN, or `*`)? (Devices calling the data plane
 * with a certificate are judged by their IoT policies.)
 */
export interface Authorizer {
  authorize(
    caller: IamUserCaller,
    action: string,
    resource: string,
    request?: RequestFacts,
  ): Promise<AuthorizationDecision>;
}

/** A policy that applies to a user, parsed. */
export interface LoadedIamPolicy {
  name: string;
  arn?: string;
  document: IamPolicyDocument;
  /** The document as written (the access report reads the resources its statements name). */
  text: string;
}

/** What a decision needs to know of the caller. */
export type IamCallerFacts = Pick<
  IamUserCaller,
  'arn' | 'principalId' | 'userName' | 'accessKeyId' | 'mfaAuthenticatedAt'
>;

/** Parsed documents, by their text: a policy is parsed once however many requests it judges. */
const MAX_PARSED_DOCUMENTS = 1000;

/**
 * IAM policy evaluation on every call: the user's inline policies and attached managed policies,
 * and those of each of its groups, judged as IAM judges them (explicit deny, then allow, else
 * implicit deny). Policies are read from the store on every call, so a change made through the
 * API, the CLI or another process governs the next request. Allowed calls are noted in `usage`
 * (last-accessed data for the access report), which never waits for a write.
 */
export class IamAuthorizer implements Authorizer {
  private readonly parsed = new Map<string, IamPolicyDocument>();

  constructor(
    /** IAM's stores of policies and groups, as `createIamQueryServices` names them. */
    private readonly policies: {
      inlinePolicies: IamInlinePolicies;
      managedPolicies: IamManagedPolicies;
      groups: IamGroups;
    },
    private readonly region: string,
    private readonly usage?: UsageRecorder,
  ) {}

  async authorize(
    caller: IamUserCaller,
    action: string,
    resource: string,
    request: RequestFacts = {},
  ): Promise<AuthorizationDecision> {
    const decision = this.decide(
      await this.policiesOf(caller.userName),
      caller,
      action,
      resource,
      request,
    );
    if (decision.decision !== 'allowed')
      return { allowed: false, reason: accessDeniedReason(action, decision) };
    this.usage?.record(caller, action, resource);
    return { allowed: true };
  }

  /** The decision on policies already loaded (MQTT over WSS loads them once, at CONNECT). */
  decide(
    policies: readonly LoadedIamPolicy[],
    caller: IamCallerFacts,
    action: string,
    resource: string,
    request: RequestFacts = {},
  ): IamDecision {
    return evaluateIamPolicies(policies, {
      action,
      resource,
      context: {
        currentTime: new Date(),
        principal: {
          arn: caller.arn,
          userId: caller.principalId,
          userName: caller.userName,
          type: 'User',
        },
        credentials: isTemporaryKey(caller.accessKeyId)
          ? {
              type: 'temporary',
              ...(caller.mfaAuthenticatedAt !== undefined
                ? { mfaAuthenticatedAt: new Date(caller.mfaAuthenticatedAt) }
                : {}),
            }
          : { type: 'long-term' },
        // Every API listener is HTTPS.
        secureTransport: true,
        requestedRegion: this.region,
        ...(request.sourceIp !== undefined ? { sourceIp: request.sourceIp } : {}),
        ...(request.keys !== undefined ? { keys: request.keys } : {}),
      },
    });
  }

  /** Every policy that applies to the user: its own and its groups', inline and attached. */
  async policiesOf(userName: string): Promise<LoadedIamPolicy[]> {
    const holders: PolicyHolder[] = [
      { type: 'user', name: userName },
      ...(await this.policies.groups.groupNamesOf(userName)).map((name): PolicyHolder => ({
        type: 'group',
        name,
      })),
    ];
    const perHolder = await Promise.all(
      holders.map(async (holder) => {
        const [inline, attached] = await Promise.all([
          this.policies.inlinePolicies.all(holder),
          this.policies.managedPolicies.attachedDocuments(holder),
        ]);
        const inlineKind: IamPolicyKind = holder.type === 'user' ? 'user-inline' : 'group-inline';
        return [
          ...inline.map((policy) => ({
            name: policy.policyName,
            document: this.parse(policy.policyDocument, inlineKind),
            text: policy.policyDocument,
          })),
          ...attached.map((policy) => ({
            name: policy.policyArn.slice(policy.policyArn.lastIndexOf('/') + 1),
            arn: policy.policyArn,
            document: this.parse(policy.document, 'managed'),
            text: policy.document,
          })),
        ];
      }),
    );
    return perHolder.flat();
  }

  private parse(text: string, kind: IamPolicyKind): IamPolicyDocument {
    const key = `${kind}\u0000${text}`;
    let document = this.parsed.get(key);
    if (!document) {
      document = parseIamPolicy(text, kind);
      if (this.parsed.size >= MAX_PARSED_DOCUMENTS) this.parsed.clear();
      this.parsed.set(key, document);
    }
    return document;
  }
}
