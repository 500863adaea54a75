import { BulwarkError, isBulwarkError } from '../errors.js';
import type { Row, Store } from '../store/index.js';
import type { IamArns } from './arns.js';
import { requireHolder, type PolicyHolder } from './inline-policies.js';
import {
  IAM_MANAGED_POLICIES_TABLE,
  IAM_POLICY_ATTACHMENTS_TABLE,
  IAM_POLICY_VERSIONS_TABLE,
} from './migrations.js';
import { listPage, pageOfSorted, type IamPage, type IamPageRequest } from './pagination.js';
import { parseIamPolicy } from './policy/index.js';
import { iamId, nameTakenIgnoringCase } from './users.js';

/** IAM's default quota of managed policies attached to one user or group. */
export const MAX_ATTACHED_POLICIES = 10;
/** CreatePolicy makes the first version, the default. */
const FIRST_VERSION_ID = 'v1';
/** IAM keeps at most five versions of a managed policy. */
export const MAX_POLICY_VERSIONS = 5;

export interface ManagedPolicy {
  policyName: string;
  /** IAM's unique id for the policy (ANPA…). */
  policyId: string;
  arn: string;
  defaultVersionId: string;
  attachmentCount: number;
  description?: string;
  createDate: Date;
  updateDate: Date;
}

export interface ManagedPolicyVersion {
  /** The JSON text as it was given. */
  document: string;
  versionId: string;
  isDefaultVersion: boolean;
  createDate: Date;
}

/** Who a managed policy is attached to (ListEntitiesForPolicy). */
export interface PolicyEntities {
  userNames: string[];
  groupNames: string[];
}

export interface AttachedPolicy {
  policyName: string;
  policyArn: string;
}

/** ListPolicies' filters. Every policy here is the account's own (Local) with the path `/`. */
export interface PolicyListFilter {
  scope: 'All' | 'AWS' | 'Local';
  onlyAttached: boolean;
  pathPrefix: string;
  /** Bulwark has no permissions boundaries: filtering on them finds nothing. */
  usage?: 'PermissionsPolicy' | 'PermissionsBoundary';
}

function noSuchPolicy(arn: string): BulwarkError {
  return new BulwarkError('NoSuchEntity', `Policy ${arn} does not exist or is not attachable.`, {
    policyArn: arn,
  });
}

function noSuchVersion(arn: string, versionId: string): BulwarkError {
  return new BulwarkError(
    'NoSuchEntity',
    `Policy ${arn} version ${versionId} does not exist or is not attachable.`,
    { policyArn: arn, versionId },
  );
}

function holderKey(holder: PolicyHolder) {
  return { principal_type: holder.type, principal_name: holder.name };
}

/**
 * Customer managed policies (`arn:aws:iam::{account}:policy/{name}`), their versions (documents
 * sealed at rest) and their attachments to users and groups.
 */
export class IamManagedPolicies {
  constructor(
    private readonly store: Store,
    private readonly arns: IamArns,
    private readonly now: () => number = Date.now,
  ) {}

  /** This account's policy named by `arn`; InvalidInput for what is no ARN at all. */
  private nameOf(arn: string): string {
    if (!/^arn:[^:]+:[^:]*:[^:]*:[^:]*:.+$/.test(arn))
      throw new BulwarkError('InvalidInput', `ARN ${arn} is not valid.`, { policyArn: arn });
    const name = this.arns.policyName(arn);
    if (name === undefined) throw noSuchPolicy(arn);
    return name;
  }

  private toPolicy(row: Row, attachmentCount: number): ManagedPolicy {
    const name = row.policy_name as string;
    return {
      policyName: name,
      policyId: row.policy_id as string,
      arn: this.arns.policy(name),
      defaultVersionId: row.default_version_id as string,
      attachmentCount,
      ...(typeof row.description === 'string' ? { description: row.description } : {}),
      createDate: new Date(row.created_at as number),
      updateDate: new Date(row.updated_at as number),
    };
  }

  async create(
    policyName: string,
    document: string,
    description: string | undefined,
  ): Promise<ManagedPolicy> {
    // A valid IAM policy within IAM's size quota, or MalformedPolicyDocument / LimitExceeded.
    parseIamPolicy(document, 'managed');
    const now = this.now();
    const row = {
      policy_name: policyName,
      policy_id: iamId('ANPA', 17),
      default_version_id: FIRST_VERSION_ID,
      created_at: now,
      updated_at: now,
      description: description ?? null,
    };
    const exists = () =>
      new BulwarkError(
        'ResourceAlreadyExists',
        `A policy called ${policyName} already exists. Duplicate names are not allowed.`,
        { policyName },
      );
    try {
      await this.store.transaction(async (tx) => {
        if (await nameTakenIgnoringCase(tx, IAM_MANAGED_POLICIES_TABLE, 'policy_name', policyName))
          throw exists();
        await tx.insert(IAM_MANAGED_POLICIES_TABLE, row);
        await tx.insert(IAM_POLICY_VERSIONS_TABLE, {
          policy_name: policyName,
          version_id: FIRST_VERSION_ID,
          created_at: now,
          policy_document: document,
        });
      });
    } catch (error) {
      if (isBulwarkError(error, 'StoreConstraint')) throw exists();
      throw error;
    }
    return this.toPolicy(row, 0);
  }

  async get(arn: string): Promise<ManagedPolicy> {
    const name = this.nameOf(arn);
    const row = await this.store.get(IAM_MANAGED_POLICIES_TABLE, { policy_name: name });
    if (!row) throw noSuchPolicy(arn);
    return this.toPolicy(
      row,
      await this.store.count(IAM_POLICY_ATTACHMENTS_TABLE, { policy_name: name }),
    );
  }

  async getVersion(arn: string, versionId: string): Promise<ManagedPolicyVersion> {
    const name = this.nameOf(arn);
    const policy = await this.store.get(IAM_MANAGED_POLICIES_TABLE, { policy_name: name });
    if (!policy) throw noSuchPolicy(arn);
    const row = await this.store.get(IAM_POLICY_VERSIONS_TABLE, {
      policy_name: name,
      version_id: versionId,
    });
    if (!row) throw noSuchVersion(arn, versionId);
    return {
      document: row.policy_document as string,
      versionId,
      isDefaultVersion: policy.default_version_id === versionId,
      createDate: new Date(row.created_at as number),
    };
  }

  /**
   * CreatePolicyVersion: the next version number (never one used before), optionally made the
   * default; at most MAX_POLICY_VERSIONS versions, as IAM.
   */
  async createVersion(
    arn: string,
    document: string,
    setAsDefault: boolean,
  ): Promise<ManagedPolicyVersion> {
    const name = this.nameOf(arn);
    parseIamPolicy(document, 'managed');
    const now = this.now();
    return this.store.transaction(async (tx) => {
      const policy = await tx.get(IAM_MANAGED_POLICIES_TABLE, { policy_name: name });
      if (!policy) throw noSuchPolicy(arn);
      if ((await tx.count(IAM_POLICY_VERSIONS_TABLE, { policy_name: name })) >= MAX_POLICY_VERSIONS)
        throw new BulwarkError(
          'LimitExceeded',
          `A managed policy can have up to ${MAX_POLICY_VERSIONS} versions. Before you create a new version, you must delete an existing version.`,
          { policyArn: arn },
        );
      const number = ((policy.last_version_number as number | null) ?? 1) + 1;
      const versionId = `v${number}`;
      await tx.insert(IAM_POLICY_VERSIONS_TABLE, {
        policy_name: name,
        version_id: versionId,
        created_at: now,
        policy_document: document,
      });
      await tx.put(IAM_MANAGED_POLICIES_TABLE, {
        ...policy,
        last_version_number: number,
        updated_at: now,
        ...(setAsDefault ? { default_version_id: versionId } : {}),
      });
      return { document, versionId, isDefaultVersion: setAsDefault, createDate: new Date(now) };
    });
  }

  /** ListPolicyVersions, newest first (documents left out, as IAM does). */
  async listVersions(arn: string): Promise<ManagedPolicyVersion[]> {
    const name = this.nameOf(arn);
    const policy = await this.store.get(IAM_MANAGED_POLICIES_TABLE, { policy_name: name });
    if (!policy) throw noSuchPolicy(arn);
    const rows = await this.store.list(IAM_POLICY_VERSIONS_TABLE, { where: { policy_name: name } });
    return rows
      .map((row) => ({
        document: row.policy_document as string,
        versionId: row.version_id as string,
        isDefaultVersion: row.version_id === policy.default_version_id,
        createDate: new Date(row.created_at as number),
      }))
      .sort((a, b) => Number(b.versionId.slice(1)) - Number(a.versionId.slice(1)));
  }

  async setDefaultVersion(arn: string, versionId: string): Promise<void> {
    const name = this.nameOf(arn);
    await this.store.transaction(async (tx) => {
      const policy = await tx.get(IAM_MANAGED_POLICIES_TABLE, { policy_name: name });
      if (!policy) throw noSuchPolicy(arn);
      if (!(await tx.get(IAM_POLICY_VERSIONS_TABLE, { policy_name: name, version_id: versionId })))
        throw noSuchVersion(arn, versionId);
      await tx.put(IAM_MANAGED_POLICIES_TABLE, {
        ...policy,
        default_version_id: versionId,
        updated_at: this.now(),
      });
    });
  }

  /** DeletePolicyVersion: never the default version (DeleteConflict), as IAM. */
  async deleteVersion(arn: string, versionId: string): Promise<void> {
    const name = this.nameOf(arn);
    await this.store.transaction(async (tx) => {
      const policy = await tx.get(IAM_MANAGED_POLICIES_TABLE, { policy_name: name });
      if (!policy) throw noSuchPolicy(arn);
      if (policy.default_version_id === versionId)
        throw new BulwarkError('DeleteConflict', 'Cannot delete the default version of a policy.', {
          policyArn: arn,
          versionId,
        });
      if (
        !(await tx.delete(IAM_POLICY_VERSIONS_TABLE, { policy_name: name, version_id: versionId }))
      )
        throw noSuchVersion(arn, versionId);
    });
  }

  /** ListEntitiesForPolicy: the users and groups the policy is attached to. */
  async entities(arn: string): Promise<PolicyEntities> {
    const name = this.nameOf(arn);
    if (!(await this.store.get(IAM_MANAGED_POLICIES_TABLE, { policy_name: name })))
      throw noSuchPolicy(arn);
    const attachments = await this.store.list(IAM_POLICY_ATTACHMENTS_TABLE, {
      where: { policy_name: name },
    });
    const of = (type: PolicyHolder['type']) =>
      attachments
        .filter((row) => row.principal_type === type)
        .map((row) => row.principal_name as string)
        .sort();
    return { userNames: of('user'), groupNames: of('group') };
  }

  /**
   * ListPolicies. Policies are few (IAM allows 1,500 per account), so they are read whole and
   * filtered; attachment counts come from one read of the attachments.
   */
  async list(filter: PolicyListFilter, request: IamPageRequest): Promise<IamPage<ManagedPolicy>> {
    const counts = new Map<string, number>();
    for (const row of await this.store.list(IAM_POLICY_ATTACHMENTS_TABLE)) {
      const name = row.policy_name as string;
      counts.set(name, (counts.get(name) ?? 0) + 1);
    }
    const matchesAny =
      filter.scope !== 'AWS' &&
      filter.usage !== 'PermissionsBoundary' &&
      '/'.startsWith(filter.pathPrefix);
    const policies = matchesAny
      ? (await this.store.list(IAM_MANAGED_POLICIES_TABLE))
          .map((row) => this.toPolicy(row, counts.get(row.policy_name as string) ?? 0))
          .filter((policy) => !filter.onlyAttached || policy.attachmentCount > 0)
      : [];
    return pageOfSorted('ListPolicies', policies, (policy) => policy.policyName, request);
  }

  /** Refuses with DeleteConflict while the policy is attached, as IAM does. */
  async delete(arn: string): Promise<void> {
    const name = this.nameOf(arn);
    await this.store.transaction(async (tx) => {
      if (!(await tx.get(IAM_MANAGED_POLICIES_TABLE, { policy_name: name })))
        throw noSuchPolicy(arn);
      if ((await tx.count(IAM_POLICY_ATTACHMENTS_TABLE, { policy_name: name })) > 0)
        throw new BulwarkError('DeleteConflict', 'Cannot delete a policy attached to entities.', {
          policyArn: arn,
        });
      await tx.deleteWhere(IAM_POLICY_VERSIONS_TABLE, { policy_name: name });
      await tx.delete(IAM_MANAGED_POLICIES_TABLE, { policy_name: name });
    });
  }

  /** Attaching a policy already attached changes nothing, as in IAM. */
  async attach(holder: PolicyHolder, arn: string): Promise<void> {
    const name = this.nameOf(arn);
    await this.store.transaction(async (tx) => {
      await requireHolder(tx, holder);
      if (!(await tx.get(IAM_MANAGED_POLICIES_TABLE, { policy_name: name })))
        throw noSuchPolicy(arn);
      const attachment = { ...holderKey(holder), policy_name: name };
      if (await tx.get(IAM_POLICY_ATTACHMENTS_TABLE, attachment)) return;
      if (
        (await tx.count(IAM_POLICY_ATTACHMENTS_TABLE, holderKey(holder))) >= MAX_ATTACHED_POLICIES
      )
        throw new BulwarkError(
          'LimitExceeded',
          `Cannot exceed quota for PoliciesPer${holder.type === 'user' ? 'User' : 'Group'}: ${MAX_ATTACHED_POLICIES}`,
          { [`${holder.type}Name`]: holder.name },
        );
      await tx.insert(IAM_POLICY_ATTACHMENTS_TABLE, attachment);
    });
  }

  async detach(holder: PolicyHolder, arn: string): Promise<void> {
    const name = this.nameOf(arn);
    await this.store.transaction(async (tx) => {
      await requireHolder(tx, holder);
      if (
        !(await tx.delete(IAM_POLICY_ATTACHMENTS_TABLE, {
          ...holderKey(holder),
          policy_name: name,
        }))
      )
        throw new BulwarkError('NoSuchEntity', `Policy ${arn} was not found.`, { policyArn: arn });
    });
  }

  async listAttached(
    holder: PolicyHolder,
    request: IamPageRequest,
  ): Promise<IamPage<AttachedPolicy>> {
    await requireHolder(this.store, holder);
    const page = await listPage(
      this.store,
      {
        list: `ListAttached${holder.type === 'user' ? 'User' : 'Group'}Policies:${holder.name}`,
        table: IAM_POLICY_ATTACHMENTS_TABLE,
        where: holderKey(holder),
        sortColumn: 'policy_name',
      },
      request,
    );
    return {
      ...page,
      items: page.items.map((row) => ({
        policyName: row.policy_name as string,
        policyArn: this.arns.policy(row.policy_name as string),
      })),
    };
  }

  /** The default version of every policy attached to the holder, for policy evaluation. */
  async attachedDocuments(
    holder: PolicyHolder,
  ): Promise<{ policyArn: string; document: string }[]> {
    const attached = await this.store.list(IAM_POLICY_ATTACHMENTS_TABLE, {
      where: holderKey(holder),
    });
    const documents = await Promise.all(
      attached.map(async (row) => {
        const name = row.policy_name as string;
        const policy = await this.store.get(IAM_MANAGED_POLICIES_TABLE, { policy_name: name });
        const version =
          policy &&
          (await this.store.get(IAM_POLICY_VERSIONS_TABLE, {
            policy_name: name,
            version_id: policy.default_version_id,
          }));
        return (
          version && {
            policyArn: this.arns.policy(name),
            document: version.policy_document as string,
          }
        );
      }),
    );
    return documents.filter((entry) => entry !== undefined);
  }
}
