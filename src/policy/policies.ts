import { randomBytes } from 'node:crypto';
import { BulwarkError } from '../errors.js';
import type { Row, StoreReader, StoreWriter } from '../store/index.js';
import { PolicyDocument } from './document.js';
import { POLICIES_TABLE, POLICY_TARGETS_TABLE, POLICY_VERSIONS_TABLE } from './migrations.js';
import {
  pageOf,
  policyNotFound,
  type MarkerPage,
  type PolicyServiceContext,
} from './service-context.js';

/** AWS's limit on versions per policy (CreatePolicyVersion). */
export const MAX_POLICY_VERSIONS = 5;

export interface PolicySummary {
  policyName: string;
  policyArn: string;
}

export interface CreatedPolicy extends PolicySummary {
  policyDocument: string;
  policyVersionId: string;
}

export interface PolicyDescription extends PolicySummary {
  policyDocument: string;
  defaultVersionId: string;
  /** Epoch ms. */
  creationDate: number;
  lastModifiedDate: number;
  generationId: string;
}

/** GetPolicyVersion's answer: the version's document and dates, and whether it is in force. */
export interface PolicyVersionDescription extends Omit<PolicyDescription, 'defaultVersionId'> {
  policyVersionId: string;
  isDefaultVersion: boolean;
}

export interface CreatedPolicyVersion {
  policyArn: string;
  policyDocument: string;
  policyVersionId: string;
  isDefaultVersion: boolean;
}

export interface PolicyVersionSummary {
  versionId: string;
  isDefaultVersion: boolean;
  /** Epoch ms. */
  createDate: number;
}

function newGenerationId(): string {
  return randomBytes(32).toString('hex');
}

export function readPolicy(reader: StoreReader, name: string): Promise<Row | undefined> {
  return reader.get(POLICIES_TABLE, { policy_name: name });
}

function versionNotFound(name: string, versionId: string): BulwarkError {
  return new BulwarkError(
    'ResourceNotFound',
    `Version ${versionId} of policy ${name} does not exist`,
  );
}

/**
 * IoT policies and their versions: create (version 1, the default), get, list, delete, and up to
 * five versions, one of them the default (the one in force). Version ids count up and are never
 * reused. Every change to what is in force reaches the in-memory decisions before the call
 * returns.
 */
export class Policies {
  private readonly context: PolicyServiceContext;

  constructor(context: PolicyServiceContext) {
    this.context = context;
  }

  private summary(name: string): PolicySummary {
    return { policyName: name, policyArn: this.context.arns.policy(name) };
  }

  async create(
    name: string,
    text: string,
    tags: Record<string, string> = {},
  ): Promise<CreatedPolicy> {
    const document = PolicyDocument.parse(text);
    const now = this.context.clock();
    const { generation } = await this.context.write(async (tx) => {
      if (await readPolicy(tx, name))
        throw new BulwarkError(
          'ResourceAlreadyExists',
          `Policy cannot be created - name already exists (name=${name})`,
          { resourceId: name, resourceArn: this.context.arns.policy(name) },
        );
      await tx.insert(POLICIES_TABLE, {
        policy_name: name,
        default_version: 1,
        next_version: 2,
        generation_id: newGenerationId(),
        created_at: now,
        updated_at: now,
        tags,
      });
      await tx.insert(POLICY_VERSIONS_TABLE, {
        policy_name: name,
        version: 1,
        created_at: now,
        document: text,
      });
    });
    this.context.decisions.setDefaultDocument(name, document, generation);
    return { ...this.summary(name), policyDocument: text, policyVersionId: '1' };
  }

  private async requirePolicy(reader: StoreReader, name: string): Promise<Row> {
    const row = await readPolicy(reader, name);
    if (!row) throw policyNotFound(name);
    return row;
  }

  private async requireVersion(reader: StoreReader, name: string, versionId: string): Promise<Row> {
    const row = await reader.get(POLICY_VERSIONS_TABLE, {
      policy_name: name,
      version: Number(versionId),
    });
    if (!row) throw versionNotFound(name, versionId);
    return row;
  }

  private describe(policy: Row, version: Row): PolicyDescription {
    const name = policy.policy_name as string;
    return {
      ...this.summary(name),
      policyDocument: version.document as string,
      defaultVersionId: String(policy.default_version),
      creationDate: policy.created_at as number,
      lastModifiedDate: policy.updated_at as number,
      generationId: policy.generation_id as string,
    };
  }

  async get(name: string): Promise<PolicyDescription> {
    const store = this.context.store;
    const policy = await this.requirePolicy(store, name);
    return this.describe(
      policy,
      await this.requireVersion(store, name, String(policy.default_version)),
    );
  }

  /** ListPolicies: in creation order (ascending unless asked otherwise), names breaking ties. */
  async list(request: {
    marker?: string;
    pageSize: number;
    ascending: boolean;
  }): Promise<MarkerPage<PolicySummary>> {
    const rows = await this.context.store.list(POLICIES_TABLE, { onUnreadable: 'mark' });
    const keyOf = (row: Row) =>
      `${String(row.created_at).padStart(16, '0')}/${row.policy_name as string}`;
    const sorted = rows.sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : 1));
    if (!request.ascending) sorted.reverse();
    const page = pageOf('ListPolicies', sorted, keyOf, {
      ...request,
      descending: !request.ascending,
    });
    return { ...page, items: page.items.map((row) => this.summary(row.policy_name as string)) };
  }

  /**
   * Deletes a policy that no target uses and that has no version but the default (AWS refuses
   * otherwise, DeleteConflictException).
   */
  async delete(name: string): Promise<void> {
    const { generation } = await this.context.write(async (tx) => {
      await this.requirePolicy(tx, name);
      const targets = await tx.count(POLICY_TARGETS_TABLE, { policy_name: name });
      if (targets > 0)
        throw new BulwarkError(
          'DeleteConflict',
          `The policy cannot be deleted as the policy is attached to one or more principals (name=${name})`,
        );
      const versions = await tx.count(POLICY_VERSIONS_TABLE, { policy_name: name });
      if (versions > 1)
        throw new BulwarkError(
          'DeleteConflict',
          `Cannot delete the policy because it has one or more policy versions besides the default; delete them first (name=${name})`,
        );
      await tx.deleteWhere(POLICY_VERSIONS_TABLE, { policy_name: name });
      await tx.delete(POLICIES_TABLE, { policy_name: name });
    });
    this.context.decisions.policyDeleted(name, generation);
  }

  async createVersion(
    name: string,
    text: string,
    setAsDefault: boolean,
  ): Promise<CreatedPolicyVersion> {
    const document = PolicyDocument.parse(text);
    const now = this.context.clock();
    const { result: version, generation } = await this.context.write(async (tx) => {
      const policy = await this.requirePolicy(tx, name);
      const count = await tx.count(POLICY_VERSIONS_TABLE, { policy_name: name });
      if (count >= MAX_POLICY_VERSIONS)
        throw new BulwarkError(
          'VersionsLimitExceeded',
          `The policy ${name} already has the maximum number of versions (${MAX_POLICY_VERSIONS})`,
        );
      const version = policy.next_version as number;
      await tx.insert(POLICY_VERSIONS_TABLE, {
        policy_name: name,
        version,
        created_at: now,
        document: text,
      });
      await tx.put(POLICIES_TABLE, {
        ...policy,
        next_version: version + 1,
        ...(setAsDefault
          ? { default_version: version, generation_id: newGenerationId(), updated_at: now }
          : {}),
      });
      return version;
    });
    if (setAsDefault) this.context.decisions.setDefaultDocument(name, document, generation);
    return {
      policyArn: this.context.arns.policy(name),
      policyDocument: text,
      policyVersionId: String(version),
      isDefaultVersion: setAsDefault,
    };
  }

  /** Every version, newest first. */
  async listVersions(name: string): Promise<PolicyVersionSummary[]> {
    const store = this.context.store;
    const policy = await this.requirePolicy(store, name);
    const rows = await store.list(POLICY_VERSIONS_TABLE, {
      where: { policy_name: name },
      onUnreadable: 'mark',
    });
    return rows
      .sort((a, b) => (b.version as number) - (a.version as number))
      .map((row) => ({
        versionId: String(row.version),
        isDefaultVersion: row.version === policy.default_version,
        createDate: row.created_at as number,
      }));
  }

  async getVersion(name: string, versionId: string): Promise<PolicyVersionDescription> {
    const store = this.context.store;
    const policy = await this.requirePolicy(store, name);
    const version = await this.requireVersion(store, name, versionId);
    const { defaultVersionId, ...description } = this.describe(policy, version);
    return {
      ...description,
      policyVersionId: String(version.version),
      isDefaultVersion: String(version.version) === defaultVersionId,
      creationDate: version.created_at as number,
    };
  }

  async setDefaultVersion(name: string, versionId: string): Promise<void> {
    const now = this.context.clock();
    const { result: text, generation } = await this.context.write(async (tx) => {
      const policy = await this.requirePolicy(tx, name);
      const version = await this.requireVersion(tx, name, versionId);
      await tx.put(POLICIES_TABLE, {
        ...policy,
        default_version: version.version,
        generation_id: newGenerationId(),
        updated_at: now,
      });
      return version.document as string;
    });
    this.context.decisions.setDefaultDocument(name, PolicyDocument.parse(text), generation);
  }

  async deleteVersion(name: string, versionId: string): Promise<void> {
    const { generation } = await this.context.write(async (tx: StoreWriter) => {
      const policy = await this.requirePolicy(tx, name);
      await this.requireVersion(tx, name, versionId);
      if (String(policy.default_version) === versionId)
        throw new BulwarkError(
          'DeleteConflict',
          `Cannot delete the default version of a policy; make another version the default first (name=${name}, version=${versionId})`,
        );
      await tx.delete(POLICY_VERSIONS_TABLE, { policy_name: name, version: Number(versionId) });
    });
    // What is in force did not change, but the write counts as one for other processes.
    this.context.decisions.noteWrite(generation);
  }
}
