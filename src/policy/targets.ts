import { BulwarkError } from '../errors.js';
import type { Row } from '../store/index.js';
import { POLICIES_TABLE, POLICY_TARGETS_TABLE, POLICY_VERSIONS_TABLE } from './migrations.js';
import { readPolicy, type PolicySummary } from './policies.js';
import {
  pageOf,
  policyNotFound,
  policyTargetOf,
  type MarkerPage,
  type PolicyServiceContext,
  type PolicyTarget,
} from './service-context.js';

/** AWS's limit on policies attached to one principal (iot-policies quotas). */
export const MAX_POLICIES_PER_TARGET = 10;

export interface EffectivePolicy extends PolicySummary {
  policyDocument: string;
}

/**
 * Attachments of policies to targets: device certificates (by ARN) and thing groups (by ARN; the
 * group's policies apply to its things and to the things of its descendants). Also what follows
 * from them: ListAttachedPolicies, ListTargetsForPolicy, GetEffectivePolicies.
 */
export class PolicyTargets {
  private readonly context: PolicyServiceContext;

  constructor(context: PolicyServiceContext) {
    this.context = context;
  }

  /** What a target ARN names; InvalidRequest unless a certificate or thing group ARN of ours. */
  targetOf(arn: string, field = 'target'): PolicyTarget {
    const target = policyTargetOf(this.context.arns, arn);
    if (target) return target;
    // A Cognito identity id is `region:uuid`; Bulwark has no Cognito.
    const message = /^[a-z]{2}(-[a-z]+)+-\d:[0-9a-f-]{36}$/.test(arn)
      ? `Cognito identities are not supported: the ${field} must be a certificate ARN or a thing group ARN`
      : `The ${field} must be a certificate ARN (arn:aws:iot:region:account:cert/id) or a thing group ARN (arn:aws:iot:region:account:thinggroup/name) of this account and region`;
    throw new BulwarkError('InvalidRequest', message);
  }

  /**
   * A target ARN, checked: a certificate ARN of this account and region (whether the certificate
   * exists is the certificate service's business), or the ARN of an existing thing group.
   */
  async checkTarget(arn: string, field = 'target'): Promise<PolicyTarget> {
    const target = this.targetOf(arn, field);
    if (target.kind === 'thinggroup') await this.context.directory.ancestorsOf(target.name);
    return target;
  }

  async attach(policyName: string, targetArn: string): Promise<void> {
    await this.checkTarget(targetArn);
    const now = this.context.clock();
    const { result: added, generation } = await this.context.write(async (tx) => {
      if (!(await readPolicy(tx, policyName))) throw policyNotFound(policyName);
      const key = { target: targetArn, policy_name: policyName };
      if (await tx.get(POLICY_TARGETS_TABLE, key)) return false;
      if ((await tx.count(POLICY_TARGETS_TABLE, { target: targetArn })) >= MAX_POLICIES_PER_TARGET)
        throw new BulwarkError(
          'LimitExceeded',
          `The target already has ${MAX_POLICIES_PER_TARGET} policies attached, the most a target can have`,
        );
      await tx.insert(POLICY_TARGETS_TABLE, { ...key, attached_at: now });
      return true;
    });
    if (added) this.context.decisions.attached(targetArn, policyName, generation);
    else this.context.decisions.noteWrite(generation);
  }

  /**
   * Detaches; a policy that was not attached to the target is no error, and a thing group that
   * has been deleted can still lose its attachments.
   */
  async detach(policyName: string, targetArn: string): Promise<void> {
    this.targetOf(targetArn);
    const { generation } = await this.context.write(async (tx) => {
      if (!(await readPolicy(tx, policyName))) throw policyNotFound(policyName);
      await tx.delete(POLICY_TARGETS_TABLE, { target: targetArn, policy_name: policyName });
    });
    this.context.decisions.detached(targetArn, policyName, generation);
  }

  /** The target and, for a thing group asked recursively, its ancestors: root first. */
  private async expand(target: PolicyTarget, targetArn: string, recursive: boolean) {
    if (target.kind !== 'thinggroup' || !recursive) return [targetArn];
    const ancestors = await this.context.directory.ancestorsOf(target.name);
    return [...ancestors.map((name) => this.context.arns.thingGroup(name)), targetArn];
  }

  private async policyNamesOf(targetArns: string[]): Promise<string[]> {
    const names = new Set<string>();
    for (const arn of targetArns)
      for (const row of await this.context.store.list(POLICY_TARGETS_TABLE, {
        where: { target: arn },
      }))
        names.add(row.policy_name as string);
    return [...names];
  }

  async listAttached(
    targetArn: string,
    recursive: boolean,
    page: { marker?: string; pageSize: number },
  ): Promise<MarkerPage<PolicySummary>> {
    const target = await this.checkTarget(targetArn);
    const names = (
      await this.policyNamesOf(await this.expand(target, targetArn, recursive))
    ).sort();
    const result = pageOf('ListAttachedPolicies', names, (name) => name, page);
    return {
      ...result,
      items: result.items.map((name) => ({
        policyName: name,
        policyArn: this.context.arns.policy(name),
      })),
    };
  }

  async listTargets(
    policyName: string,
    page: { marker?: string; pageSize: number },
  ): Promise<MarkerPage<string>> {
    const store = this.context.store;
    if (!(await readPolicy(store, policyName))) throw policyNotFound(policyName);
    const targets = (await store.list(POLICY_TARGETS_TABLE, { where: { policy_name: policyName } }))
      .map((row) => row.target as string)
      .sort();
    return pageOf('ListTargetsForPolicy', targets, (target) => target, page);
  }

  /**
   * The targets whose policies govern a device: its principal (a certificate ARN, or a thing
   * group ARN and its ancestors) and the groups of its thing with their ancestors.
   */
  async governingTargets(principal: string | undefined, thingName: string | undefined) {
    const targets: string[] = [];
    if (principal !== undefined) {
      const target = await this.checkTarget(principal, 'principal');
      targets.push(...(await this.expand(target, principal, true)));
    }
    if (thingName !== undefined) {
      for (const group of await this.context.directory.groupsOfThing(thingName)) {
        const arn = this.context.arns.thingGroup(group);
        targets.push(...(await this.expand({ kind: 'thinggroup', name: group }, arn, true)));
      }
    }
    return [...new Set(targets)];
  }

  /** The default documents of named policies, in the order given, skipping any that vanished. */
  async documentsOf(names: string[]): Promise<EffectivePolicy[]> {
    const store = this.context.store;
    const found: EffectivePolicy[] = [];
    for (const name of names) {
      const policy: Row | undefined = await store.get(POLICIES_TABLE, { policy_name: name });
      if (!policy) continue;
      const version = await store.get(POLICY_VERSIONS_TABLE, {
        policy_name: name,
        version: policy.default_version,
      });
      if (!version) continue;
      found.push({
        policyName: name,
        policyArn: this.context.arns.policy(name),
        policyDocument: version.document as string,
      });
    }
    return found;
  }

  /** GetEffectivePolicies: the policies of the principal and of the thing's groups. */
  async effectivePolicies(
    principal: string | undefined,
    thingName: string | undefined,
  ): Promise<EffectivePolicy[]> {
    const targets = await this.governingTargets(principal, thingName);
    return this.documentsOf((await this.policyNamesOf(targets)).sort());
  }

  /** The policy names attached to targets (already checked). */
  async attachedTo(targets: string[]): Promise<string[]> {
    return this.policyNamesOf(targets);
  }
}
