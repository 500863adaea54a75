import { randomUUID } from 'node:crypto';
import { BulwarkError } from '../errors.js';
import type { Row, StoreReader } from '../store/index.js';
import {
  applyAttributePayload,
  checkAttributeCount,
  sameAttributes,
  type AttributePayload,
  type Attributes,
} from './attributes.js';
import type { RegistryContext } from './context.js';
import type { RegistryEvent } from './events.js';
import { GROUP_MEMBERS_TABLE, THING_GROUPS_TABLE } from './migrations.js';
import { pageOfSorted, scanPage, type Page, type PageRequest } from './pagination.js';
import { readThing, readThingGroup, thingGroupNotFound, thingNotFound } from './records.js';
import { checkTagCount, type Tags } from './tags.js';
import { invalid } from './validation.js';

export interface GroupNameAndArn {
  groupName: string;
  groupArn: string;
}

export interface CreateThingGroupInput {
  thingGroupName: string;
  parentGroupName?: string;
  thingGroupDescription?: string;
  attributes?: Attributes;
  tags?: Tags;
}

export interface ThingGroupIds {
  thingGroupName: string;
  thingGroupArn: string;
  thingGroupId: string;
}

export interface ThingGroupDescription extends ThingGroupIds {
  version: number;
  thingGroupProperties: {
    thingGroupDescription?: string;
    attributePayload: { attributes: Attributes };
  };
  thingGroupMetadata: {
    parentGroupName?: string;
    rootToParentThingGroups: GroupNameAndArn[];
    /** Epoch ms. */
    creationDate: number;
  };
}

export interface UpdateThingGroupInput {
  thingGroupName: string;
  thingGroupDescription?: string;
  attributePayload?: AttributePayload;
  expectedVersion?: number;
}

export interface ListThingGroupsInput {
  parentGroup?: string;
  namePrefixFilter?: string;
  recursive?: boolean;
  page: PageRequest;
}

function attributesOf(row: Row): Attributes {
  return (row.attributes as Attributes | null | undefined) ?? {};
}

function descriptionOf(row: Row): string | undefined {
  return (row.description as string | null | undefined) ?? undefined;
}

/** The event for a thing joining or leaving a group (registry-events.md). */
export function membershipEvent(
  context: RegistryContext,
  group: Row,
  thing: Row,
  membership: Row,
  operation: 'ADDED' | 'REMOVED',
): RegistryEvent {
  const groupName = group.thing_group_name as string;
  const thingName = thing.thing_name as string;
  return {
    type: 'THING_GROUP_MEMBERSHIP',
    topic: `$aws/events/thingGroupMembership/thingGroup/${groupName}/thing/${thingName}/${operation.toLowerCase()}`,
    payload: {
      ...context.events.envelope('THING_GROUP_MEMBERSHIP_EVENT', operation),
      groupArn: context.arns.thingGroup(groupName),
      groupId: group.thing_group_id,
      thingArn: context.arns.thing(thingName),
      thingId: thing.thing_id,
      membershipId: membership.membership_id,
    },
  };
}

/** The group's ancestors, nearest first: parent, grandparent, …, root. */
async function ancestorsOf(reader: StoreReader, group: Row, maxDepth: number): Promise<Row[]> {
  const ancestors: Row[] = [];
  let parentName = group.parent_group_name as string | null;
  // Parents are fixed at creation, so the chain is acyclic; the bound guards a damaged database.
  while (parentName !== null && ancestors.length <= maxDepth) {
    const parent = await readThingGroup(reader, parentName);
    if (!parent) break;
    ancestors.push(parent);
    parentName = parent.parent_group_name as string | null;
  }
  return ancestors;
}

async function childrenOf(reader: StoreReader, name: string): Promise<Row[]> {
  return reader.list(THING_GROUPS_TABLE, {
    where: { parent_group_name: name },
    onUnreadable: 'mark',
  });
}

/** Every group below `name`, at any depth. */
async function descendantsOf(reader: StoreReader, name: string): Promise<Row[]> {
  const found: Row[] = [];
  for (let level = [name]; level.length > 0;) {
    const next: string[] = [];
    for (const parent of level) {
      for (const child of await childrenOf(reader, parent)) {
        found.push(child);
        next.push(child.thing_group_name as string);
      }
    }
    level = next;
  }
  return found;
}

/**
 * Static thing groups: a hierarchy fixed at creation (depth ≤ 7, ≤ 100 children per group), group
 * attributes and description (sealed), and membership of things (≤ 10 groups per thing, at most one
 * group per hierarchy, as the AWS IoT Developer Guide states).
 */
export class ThingGroups {
  private readonly context: RegistryContext;

  constructor(context: RegistryContext) {
    this.context = context;
  }

  private ids(row: Row): ThingGroupIds {
    const name = row.thing_group_name as string;
    return {
      thingGroupName: name,
      thingGroupArn: this.context.arns.thingGroup(name),
      thingGroupId: row.thing_group_id as string,
    };
  }

  private nameAndArn(row: Row): GroupNameAndArn {
    const name = row.thing_group_name as string;
    return { groupName: name, groupArn: this.context.arns.thingGroup(name) };
  }

  private groupEvent(
    row: Row,
    parent: Row | undefined,
    rootToParent: Row[],
    operation: 'CREATED' | 'UPDATED' | 'DELETED',
  ): RegistryEvent {
    const name = row.thing_group_name as string;
    return {
      type: 'THING_GROUP',
      topic: `$aws/events/thingGroup/${name}/${operation.toLowerCase()}`,
      payload: {
        ...this.context.events.envelope('THING_GROUP_EVENT', operation),
        thingGroupId: row.thing_group_id,
        thingGroupName: name,
        versionNumber: row.version,
        parentGroupName: parent?.thing_group_name ?? null,
        parentGroupId: parent?.thing_group_id ?? null,
        description: descriptionOf(row) ?? null,
        // The event lists the parent first and the root last (registry-events.md).
        rootToParentThingGroups: parent
          ? [...rootToParent].reverse().map((group) => this.nameAndArn(group))
          : null,
        attributes: attributesOf(row),
      },
    };
  }

  private hierarchyEvent(parent: Row, child: Row, operation: 'ADDED' | 'REMOVED'): RegistryEvent {
    const parentName = parent.thing_group_name as string;
    const childName = child.thing_group_name as string;
    return {
      type: 'THING_GROUP_HIERARCHY',
      topic: `$aws/events/thingGroupHierarchy/thingGroup/${parentName}/childThingGroup/${childName}/${operation.toLowerCase()}`,
      payload: {
        ...this.context.events.envelope('THING_GROUP_HIERARCHY_EVENT', operation),
        thingGroupId: parent.thing_group_id,
        thingGroupName: parentName,
        childGroupId: child.thing_group_id,
        childGroupName: childName,
      },
    };
  }

  private async rootToParent(reader: StoreReader, row: Row): Promise<Row[]> {
    return (await ancestorsOf(reader, row, this.context.limits.groupDepth)).reverse();
  }

  async create(input: CreateThingGroupInput): Promise<ThingGroupIds> {
    const attributes = applyAttributePayload({}, { attributes: input.attributes ?? {} });
    checkAttributeCount(attributes, this.context.limits.groupAttributes, 'A thing group');
    if (input.tags) checkTagCount(input.tags, this.context.limits.tagsPerResource);
    return this.context.write(async (tx, emit) => {
      const existing = await readThingGroup(tx, input.thingGroupName);
      if (existing) {
        const identical =
          (existing.parent_group_name ?? undefined) === input.parentGroupName &&
          (descriptionOf(existing) ?? '') === (input.thingGroupDescription ?? '') &&
          sameAttributes(attributesOf(existing), attributes);
        if (identical) return this.ids(existing);
        throw new BulwarkError(
          'ResourceAlreadyExists',
          `Thing group ${input.thingGroupName} already exists with different properties`,
          {
            resourceId: existing.thing_group_id,
            resourceArn: this.context.arns.thingGroup(input.thingGroupName),
          },
        );
      }
      let parent: Row | undefined;
      let rootToParent: Row[] = [];
      if (input.parentGroupName !== undefined) {
        parent = await readThingGroup(tx, input.parentGroupName);
        if (!parent) throw thingGroupNotFound(input.parentGroupName);
        rootToParent = [...(await this.rootToParent(tx, parent)), parent];
        const { groupDepth, childGroups } = this.context.limits;
        if (rootToParent.length + 1 > groupDepth)
          throw invalid(
            `Thing group ${input.thingGroupName} would be at depth ${rootToParent.length + 1}; a thing group hierarchy can be at most ${groupDepth} deep`,
          );
        if (
          (await tx.count(THING_GROUPS_TABLE, { parent_group_name: input.parentGroupName })) >=
          childGroups
        )
          throw invalid(
            `Thing group ${input.parentGroupName} already has ${childGroups} child groups, the most a group can have`,
          );
      }
      const row: Row = {
        thing_group_name: input.thingGroupName,
        thing_group_id: randomUUID(),
        parent_group_name: input.parentGroupName ?? null,
        version: 1,
        created_at: this.context.clock(),
        description: input.thingGroupDescription ?? null,
        attributes,
        tags: input.tags ?? {},
      };
      await tx.insert(THING_GROUPS_TABLE, row);
      emit(this.groupEvent(row, parent, rootToParent, 'CREATED'));
      if (parent) emit(this.hierarchyEvent(parent, row, 'ADDED'));
      return this.ids(row);
    });
  }

  async describe(name: string): Promise<ThingGroupDescription> {
    const store = this.context.store;
    const row = await readThingGroup(store, name);
    if (!row) throw thingGroupNotFound(name);
    const description = descriptionOf(row);
    const parentName = row.parent_group_name as string | null;
    return {
      ...this.ids(row),
      version: row.version as number,
      thingGroupProperties: {
        ...(description !== undefined ? { thingGroupDescription: description } : {}),
        attributePayload: { attributes: attributesOf(row) },
      },
      thingGroupMetadata: {
        ...(parentName !== null ? { parentGroupName: parentName } : {}),
        rootToParentThingGroups: (await this.rootToParent(store, row)).map((group) =>
          this.nameAndArn(group),
        ),
        creationDate: row.created_at as number,
      },
    };
  }

  async list(input: ListThingGroupsInput): Promise<Page<GroupNameAndArn>> {
    const store = this.context.store;
    const prefix = input.namePrefixFilter;
    const named = (name: string) => prefix === undefined || name.startsWith(prefix);
    if (input.parentGroup === undefined) {
      const page = await scanPage(store, {
        list: 'ListThingGroups',
        table: THING_GROUPS_TABLE,
        key: 'thing_group_name',
        request: input.page,
        keep: (row) => named(row.thing_group_name as string),
      });
      return { ...page, items: page.items.map((row) => this.nameAndArn(row)) };
    }
    if (!(await readThingGroup(store, input.parentGroup)))
      throw thingGroupNotFound(input.parentGroup);
    const groups = input.recursive
      ? await descendantsOf(store, input.parentGroup)
      : await childrenOf(store, input.parentGroup);
    const names = groups
      .map((row) => row.thing_group_name as string)
      .filter(named)
      .sort();
    const page = pageOfSorted('ListThingGroups', names, input.page);
    return {
      ...page,
      items: page.items.map((name) => ({
        groupName: name,
        groupArn: this.context.arns.thingGroup(name),
      })),
    };
  }

  /** Updates description and attributes; returns the new version. */
  async update(input: UpdateThingGroupInput): Promise<number> {
    return this.context.write(async (tx, emit) => {
      const row = await readThingGroup(tx, input.thingGroupName);
      if (!row) throw thingGroupNotFound(input.thingGroupName);
      if (input.expectedVersion !== undefined && input.expectedVersion !== row.version)
        throw new BulwarkError(
          'VersionConflict',
          `The version for thing group ${input.thingGroupName} does not match the expected version.`,
        );
      const attributes = applyAttributePayload(attributesOf(row), input.attributePayload ?? {});
      checkAttributeCount(attributes, this.context.limits.groupAttributes, 'A thing group');
      const next: Row = {
        ...row,
        ...(input.thingGroupDescription !== undefined
          ? { description: input.thingGroupDescription }
          : {}),
        attributes,
        version: (row.version as number) + 1,
      };
      await tx.put(THING_GROUPS_TABLE, next);
      const rootToParent = await this.rootToParent(tx, row);
      emit(this.groupEvent(next, rootToParent[rootToParent.length - 1], rootToParent, 'UPDATED'));
      return next.version as number;
    });
  }

  /**
   * Deletes a group that has no child groups (AWS refuses otherwise); its things leave it. A group
   * that does not exist is no error: AWS's DeleteThingGroup has no ResourceNotFoundException.
   */
  async delete(name: string, expectedVersion: number | undefined): Promise<void> {
    await this.context.write(async (tx, emit) => {
      const row = await readThingGroup(tx, name);
      if (!row) return;
      if (expectedVersion !== undefined && expectedVersion !== row.version)
        throw new BulwarkError(
          'VersionConflict',
          `The version for thing group ${name} does not match the expected version.`,
        );
      if ((await tx.count(THING_GROUPS_TABLE, { parent_group_name: name })) > 0)
        throw invalid(
          `Cannot delete thing group : ${name} when there are still child groups attached to it.`,
        );
      for (const membership of await tx.list(GROUP_MEMBERS_TABLE, {
        where: { thing_group_name: name },
      })) {
        const thing = await readThing(tx, membership.thing_name as string);
        if (thing) emit(membershipEvent(this.context, row, thing, membership, 'REMOVED'));
      }
      await tx.deleteWhere(GROUP_MEMBERS_TABLE, { thing_group_name: name });
      await tx.delete(THING_GROUPS_TABLE, { thing_group_name: name });
      const rootToParent = await this.rootToParent(tx, row);
      const parent = rootToParent[rootToParent.length - 1];
      emit(this.groupEvent(row, parent, rootToParent, 'DELETED'));
      if (parent) emit(this.hierarchyEvent(parent, row, 'REMOVED'));
    });
  }

  async addThing(groupName: string, thingName: string): Promise<void> {
    await this.context.write(async (tx, emit) => {
      const group = await readThingGroup(tx, groupName);
      if (!group) throw thingGroupNotFound(groupName);
      const thing = await readThing(tx, thingName);
      if (!thing) throw thingNotFound(thingName);
      const memberships = await tx.list(GROUP_MEMBERS_TABLE, { where: { thing_name: thingName } });
      if (memberships.some((membership) => membership.thing_group_name === groupName)) return;
      const { groupsPerThing } = this.context.limits;
      if (memberships.length >= groupsPerThing)
        throw invalid(
          `Thing ${thingName} is already in ${groupsPerThing} thing groups, the most a thing can be in`,
        );
      const root = await this.rootName(tx, group);
      for (const membership of memberships) {
        const other = await readThingGroup(tx, membership.thing_group_name as string);
        if (other && (await this.rootName(tx, other)) === root)
          throw invalid(
            `Thing ${thingName} is already in thing group ${other.thing_group_name as string} of the same hierarchy; a thing can be in only one group of a hierarchy`,
          );
      }
      const membership: Row = {
        thing_group_name: groupName,
        thing_name: thingName,
        membership_id: randomUUID(),
        added_at: this.context.clock(),
      };
      await tx.insert(GROUP_MEMBERS_TABLE, membership);
      emit(membershipEvent(this.context, group, thing, membership, 'ADDED'));
    });
  }

  /** Removes a thing from a group; a thing that is not in the group is no error. */
  async removeThing(groupName: string, thingName: string): Promise<void> {
    await this.context.write(async (tx, emit) => {
      const group = await readThingGroup(tx, groupName);
      if (!group) throw thingGroupNotFound(groupName);
      const thing = await readThing(tx, thingName);
      if (!thing) throw thingNotFound(thingName);
      const key = { thing_group_name: groupName, thing_name: thingName };
      const membership = await tx.get(GROUP_MEMBERS_TABLE, key);
      if (!membership) return;
      await tx.delete(GROUP_MEMBERS_TABLE, key);
      emit(membershipEvent(this.context, group, thing, membership, 'REMOVED'));
    });
  }

  private async rootName(reader: StoreReader, group: Row): Promise<string> {
    const ancestors = await ancestorsOf(reader, group, this.context.limits.groupDepth);
    return (ancestors[ancestors.length - 1] ?? group).thing_group_name as string;
  }

  async listThings(
    groupName: string,
    recursive: boolean,
    request: PageRequest,
  ): Promise<Page<string>> {
    const store = this.context.store;
    if (!(await readThingGroup(store, groupName))) throw thingGroupNotFound(groupName);
    const groups = [
      groupName,
      ...(recursive
        ? (await descendantsOf(store, groupName)).map((row) => row.thing_group_name as string)
        : []),
    ];
    const names = new Set<string>();
    for (const group of groups) {
      for (const membership of await store.list(GROUP_MEMBERS_TABLE, {
        where: { thing_group_name: group },
      }))
        names.add(membership.thing_name as string);
    }
    return pageOfSorted('ListThingsInThingGroup', [...names].sort(), request);
  }

  async groupsOfThing(thingName: string, request: PageRequest): Promise<Page<GroupNameAndArn>> {
    const store = this.context.store;
    if (!(await readThing(store, thingName))) throw thingNotFound(thingName);
    const memberships = await store.list(GROUP_MEMBERS_TABLE, { where: { thing_name: thingName } });
    const names = memberships.map((membership) => membership.thing_group_name as string).sort();
    const page = pageOfSorted('ListThingGroupsForThing', names, request);
    return {
      ...page,
      items: page.items.map((name) => ({
        groupName: name,
        groupArn: this.context.arns.thingGroup(name),
      })),
    };
  }
}
