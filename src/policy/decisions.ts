import type { Logger } from '../logs/logger.js';
import type { StoreReader } from '../store/index.js';
import type { AuthorizationContext } from './context.js';
import { PolicyDocument } from './document.js';
import { judge, type Decision } from './evaluate.js';
import {
  POLICIES_TABLE,
  POLICY_TARGETS_TABLE,
  POLICY_VERSIONS_TABLE,
  POLICY_WRITE_LOCK_TABLE,
} from './migrations.js';

/** The rows of POLICY_WRITE_LOCK_TABLE: the one writers lock, and the one counting writes. */
export const POLICY_LOCK_ROW = 'policy';
export const POLICY_GENERATION_ROW = 'generation';

/**
 * The broker's policy decision point: every policy's default version, compiled, and every
 * attachment, held in memory so that `decide` is synchronous and costs microseconds.
 *
 * Freshness. The policy APIs of this process update it right after their transaction commits
 * (before they answer), so an attach, a detach or a new default version governs the very next
 * decision. Writes by another process on the same database (a CLI command, another node) bump
 * the generation in `policy_write_lock`; `refreshIfChanged()` compares it with the generation
 * this copy was built from and reloads on a difference — call it on a short interval, or when
 * another node says something changed.
 */
export class PolicyDecisions {
  private readonly store: StoreReader;
  private readonly logger: Logger | undefined;
  /** Default versions by policy name. */
  private documents = new Map<string, PolicyDocument>();
  /** Policy names by target ARN. */
  private attachments = new Map<string, string[]>();
  /** The store generation this copy reflects; -1 before the first load. */
  private generation = -1;
  private changes = 0;

  private constructor(store: StoreReader, logger: Logger | undefined) {
    this.store = store;
    this.logger = logger;
  }

  static async load(store: StoreReader, logger?: Logger): Promise<PolicyDecisions> {
    const decisions = new PolicyDecisions(store, logger);
    await decisions.reload();
    return decisions;
  }

  /** Increases on every change this copy takes in: a cheap "did anything change" for callers. */
  get changeCount(): number {
    return this.changes;
  }

  private async storeGeneration(): Promise<number> {
    const row = await this.store.get(POLICY_WRITE_LOCK_TABLE, { name: POLICY_GENERATION_ROW });
    return (row?.generation as number | undefined) ?? 0;
  }

  /** Rebuilds the whole copy from the store. */
  async reload(): Promise<void> {
    const generation = await this.storeGeneration();
    const documents = new Map<string, PolicyDocument>();
    for (const policy of await this.store.list(POLICIES_TABLE, { onUnreadable: 'mark' })) {
      const name = policy.policy_name as string;
      const version = await this.store.get(POLICY_VERSIONS_TABLE, {
        policy_name: name,
        version: policy.default_version,
      });
      try {
        if (version) documents.set(name, PolicyDocument.parse(version.document as string));
      } catch (error) {
        // A document that no longer opens (erased key) or parses grants nothing.
        this.logger?.error({ err: error, policyName: name }, 'IoT policy cannot be used');
      }
    }
    const attachments = new Map<string, string[]>();
    for (const row of await this.store.list(POLICY_TARGETS_TABLE)) {
      const target = row.target as string;
      const names = attachments.get(target) ?? [];
      names.push(row.policy_name as string);
      attachments.set(target, names);
    }
    this.documents = documents;
    this.attachments = attachments;
    this.generation = generation;
    this.changes++;
  }

  /** Reloads when another process has written policies since this copy was built. */
  async refreshIfChanged(): Promise<boolean> {
    if ((await this.storeGeneration()) === this.generation) return false;
    await this.reload();
    return true;
  }

  /**
   * Takes in a write of this process that committed as `generation`. If a write of another
   * process came in between, the copy is stale in some other respect: it keeps its old
   * generation, so the next refreshIfChanged reloads.
   */
  noteWrite(generation: number): void {
    if (generation === this.generation + 1) this.generation = generation;
    this.changes++;
  }

  /** A policy was created or its default version changed. */
  setDefaultDocument(policyName: string, document: PolicyDocument, generation: number): void {
    this.documents.set(policyName, document);
    this.noteWrite(generation);
  }

  policyDeleted(policyName: string, generation: number): void {
    this.documents.delete(policyName);
    this.noteWrite(generation);
  }

  attached(target: string, policyName: string, generation: number): void {
    const names = this.attachments.get(target) ?? [];
    if (!names.includes(policyName)) this.attachments.set(target, [...names, policyName]);
    this.noteWrite(generation);
  }

  detached(target: string, policyName: string, generation: number): void {
    const names = (this.attachments.get(target) ?? []).filter((name) => name !== policyName);
    if (names.length > 0) this.attachments.set(target, names);
    else this.attachments.delete(target);
    this.noteWrite(generation);
  }

  /**
   * The decision for a request from a principal whose policies are those attached to `targets`:
   * its certificate ARN and, when its client id is a thing attached to it, the ARNs of that
   * thing's groups and their ancestors.
   */
  decide(
    targets: readonly string[],
    action: string,
    resourceArn: string,
    context: AuthorizationContext,
  ): Decision {
    return this.decideByPolicyNames(
      targets.flatMap((target) => this.attachments.get(target) ?? []),
      action,
      resourceArn,
      context,
    );
  }

  /** The decision under named policies directly (the dev listener's `dev-listener`). */
  decideByPolicyNames(
    policyNames: readonly string[],
    action: string,
    resourceArn: string,
    context: AuthorizationContext,
  ): Decision {
    let allowed = false;
    for (const name of policyNames) {
      const document = this.documents.get(name);
      if (document === undefined) continue;
      const verdict = judge(document, action, resourceArn, context, allowed);
      if (verdict === 'deny') return 'deny';
      if (verdict === 'allow') allowed = true;
    }
    return allowed ? 'allow' : 'implicit-deny';
  }
}
