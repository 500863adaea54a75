import { BulwarkError } from '../errors.js';
import type { Store, StoreReader } from '../store/index.js';
import { noSuchGroup } from './groups.js';
import { IAM_GROUPS_TABLE, IAM_INLINE_POLICIES_TABLE, IAM_USERS_TABLE } from './migrations.js';
import { listPage, type IamPage, type IamPageRequest } from './pagination.js';
import { IAM_POLICY_SIZE_LIMITS, parseIamPolicy, policySizeCharacters } from './policy/index.js';
import { noSuchUser } from './users.js';

/** A user or group, which holds inline policies and has managed policies attached. */
export interface PolicyHolder {
  type: 'user' | 'group';
  name: string;
}

export interface InlinePolicy {
  policyName: string;
  /** The JSON text as it was put. */
  policyDocument: string;
}

/** The holder, or IAM's NoSuchEntity for it. */
export async function requireHolder(tx: StoreReader, holder: PolicyHolder): Promise<void> {
  if (holder.type === 'user') {
    if (!(await tx.get(IAM_USERS_TABLE, { user_name: holder.name }))) throw noSuchUser(holder.name);
  } else if (!(await tx.get(IAM_GROUPS_TABLE, { group_name: holder.name })))
    throw noSuchGroup(holder.name);
}

function holderKey(holder: PolicyHolder) {
  return { principal_type: holder.type, principal_name: holder.name };
}

function noSuchPolicy(holder: PolicyHolder, policyName: string): BulwarkError {
  return new BulwarkError(
    'NoSuchEntity',
    `The ${holder.type} policy with name ${policyName} cannot be found.`,
    { policyName },
  );
}

/** Inline policies of users and groups (PutUserPolicy, PutGroupPolicy, …), sealed at rest. */
export class IamInlinePolicies {
  constructor(
    private readonly store: Store,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Adds the policy, or replaces the one of the same name, as PutUserPolicy does: a valid IAM
   * policy, within IAM's quota on the size of all the holder's inline policies together.
   */
  async put(holder: PolicyHolder, policyName: string, policyDocument: string): Promise<void> {
    const kind = holder.type === 'user' ? 'user-inline' : 'group-inline';
    parseIamPolicy(policyDocument, kind, holder.name);
    await this.store.transaction(async (tx) => {
      await requireHolder(tx, holder);
      const others = (
        await tx.list(IAM_INLINE_POLICIES_TABLE, { where: holderKey(holder) })
      ).filter((row) => row.policy_name !== policyName);
      const limit = IAM_POLICY_SIZE_LIMITS[kind];
      const total = others.reduce(
        (sum, row) => sum + policySizeCharacters(row.policy_document as string),
        policySizeCharacters(policyDocument),
      );
      if (total > limit)
        throw new BulwarkError(
          'LimitExceeded',
          `Maximum policy size of ${limit} bytes exceeded for ${holder.type} ${holder.name}`,
          { [`${holder.type}Name`]: holder.name },
        );
      await tx.put(IAM_INLINE_POLICIES_TABLE, {
        ...holderKey(holder),
        policy_name: policyName,
        updated_at: this.now(),
        policy_document: policyDocument,
      });
    });
  }

  async get(holder: PolicyHolder, policyName: string): Promise<InlinePolicy> {
    await requireHolder(this.store, holder);
    const row = await this.store.get(IAM_INLINE_POLICIES_TABLE, {
      ...holderKey(holder),
      policy_name: policyName,
    });
    if (!row) throw noSuchPolicy(holder, policyName);
    return { policyName, policyDocument: row.policy_document as string };
  }

  async listNames(holder: PolicyHolder, request: IamPageRequest): Promise<IamPage<string>> {
    await requireHolder(this.store, holder);
    const page = await listPage(
      this.store,
      {
        list: `List${holder.type === 'user' ? 'User' : 'Group'}Policies:${holder.name}`,
        table: IAM_INLINE_POLICIES_TABLE,
        where: holderKey(holder),
        sortColumn: 'policy_name',
      },
      request,
    );
    return { ...page, items: page.items.map((row) => row.policy_name as string) };
  }

  async delete(holder: PolicyHolder, policyName: string): Promise<void> {
    await this.store.transaction(async (tx) => {
      await requireHolder(tx, holder);
      if (
        !(await tx.delete(IAM_INLINE_POLICIES_TABLE, {
          ...holderKey(holder),
          policy_name: policyName,
        }))
      )
        throw noSuchPolicy(holder, policyName);
    });
  }

  /** Every inline policy of the holder, for policy evaluation. */
  async all(holder: PolicyHolder): Promise<InlinePolicy[]> {
    const rows = await this.store.list(IAM_INLINE_POLICIES_TABLE, { where: holderKey(holder) });
    return rows.map((row) => ({
      policyName: row.policy_name as string,
      policyDocument: row.policy_document as string,
    }));
  }
}
