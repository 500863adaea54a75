import { randomUUID } from 'node:crypto';
import { BulwarkError } from '../errors.js';
import { readPage, type Row, type StoreReader, type StoreWriter } from '../store/index.js';
import {
  applyAttributePayload,
  checkAttributeCount,
  sameAttributes,
  type AttributePayload,
  type Attributes,
} from './attributes.js';
import type { RegistryContext } from './context.js';
import type { RegistryEvent } from './events.js';
import { GROUP_MEMBERS_TABLE, THING_TYPES_TABLE, THINGS_TABLE } from './migrations.js';
import { scanPage, type Page, type PageRequest } from './pagination.js';
import {
  readThing,
  readThingGroup,
  readThingType,
  thingNotFound,
  thingTypeNotFound,
} from './records.js';
import { membershipEvent } from './thing-groups.js';
import type { ThingPrincipals } from './thing-principals.js';
import { searchableAttributesOf } from './thing-types.js';
import { invalid } from './validation.js';

export interface CreateThingInput {
  thingName: string;
  thingTypeName?: string;
  attributes?: Attributes;
  billingGroupName?: string;
}

export interface ThingIds {
  thingName: string;
  thingArn: string;
  thingId: string;
}

export interface ThingDescription extends ThingIds {
  defaultClientId: string;
  thingTypeName?: string;
  attributes: Attributes;
  version: number;
}

/** ListThings' items (ThingAttribute). */
export interface ThingSummary {
  thingName: string;
  thingTypeName?: string;
  thingArn: string;
  attributes: Attributes;
  version: number;
}

export interface ListThingsInput {
  attributeName?: string;
  attributeValue?: string;
  usePrefixAttributeValue?: boolean;
  thingTypeName?: string;
  page: PageRequest;
}

export interface UpdateThingInput {
  thingName: string;
  thingTypeName?: string;
  removeThingType?: boolean;
  attributePayload?: AttributePayload;
  expectedVersion?: number;
}

function attributesOf(row: Row): Attributes {
  return (row.attributes as Attributes | null | undefined) ?? {};
}

function versionConflict(name: string): BulwarkError {
  return new BulwarkError(
    'VersionConflict',
    `The version for thing ${name} does not match the expected version.`,
  );
}

/**
 * Things: create (idempotent for identical arguments), describe, list with attribute and type
 * filters, update with optimistic versioning, delete. A thing's attributes and tags are sealed
 * under the thing's own key.
 */
export class Things {
  private readonly context: RegistryContext;
  private readonly principals: ThingPrincipals;

  constructor(context: RegistryContext, principals: ThingPrincipals) {
    this.context = context;
    this.principals = principals;
  }

  private ids(row: Row): ThingIds {
    const name = row.thing_name as string;
    return {
      thingName: name,
      thingArn: this.context.arns.thing(name),
      thingId: row.thing_id as string,
    };
  }

  private thingEvent(row: Row, operation: 'CREATED' | 'UPDATED' | 'DELETED'): RegistryEvent {
    const name = row.thing_name as string;
    return {
      type: 'THING',
      topic: `$aws/events/thing/${name}/${operation.toLowerCase()}`,
      payload: {
        ...this.context.events.envelope('THING_EVENT', operation),
        thingId: row.thing_id,
        thingName: name,
        versionNumber: row.version,
        thingTypeName: row.thing_type_name ?? null,
        attributes: attributesOf(row),
      },
    };
  }

  private associationEvent(
    row: Row,
    typeName: string,
    operation: 'CREATED' | 'DELETED',
  ): RegistryEvent {
    const name = row.thing_name as string;
    return {
      type: 'THING_TYPE_ASSOCIATION',
      topic: `$aws/events/thingTypeAssociation/thing/${name}/${typeName}`,
      payload: {
        eventId: randomUUID(),
        eventType: 'THING_TYPE_ASSOCIATION_EVENT',
        operation,
        thingId: row.thing_id,
        thingName: name,
        thingTypeName: typeName,
        timestamp: this.context.clock(),
      },
    };
  }

  /** Checks that a thing may be given this type now; returns the type's row. */
  private async usableType(tx: StoreReader, typeName: string): Promise<Row> {
    const type = await readThingType(tx, typeName);
    if (!type) throw thingTypeNotFound(typeName);
    if (type.deprecated === true)
      throw invalid(`Thing type ${typeName} is deprecated: no new thing can be associated with it`);
    return type;
  }

  private checkAttributes(attributes: Attributes, typeName: string | null | undefined): void {
    const { attributesWithType, attributesWithoutType } = this.context.limits;
    if (typeName) checkAttributeCount(attributes, attributesWithType, 'A thing with a thing type');
    else checkAttributeCount(attributes, attributesWithoutType, 'A thing without a thing type');
  }

  async create(input: CreateThingInput): Promise<ThingIds> {
    // Billing groups are not part of Bulwark's registry, so none can be named.
    if (input.billingGroupName !== undefined)
      throw new BulwarkError(
        'ResourceNotFound',
        `Billing group ${input.billingGroupName} cannot be found.`,
      );
    const attributes = applyAttributePayload({}, { attributes: input.attributes ?? {} });
    this.checkAttributes(attributes, input.thingTypeName);
    return this.context.write(async (tx, emit) => {
      const existing = await readThing(tx, input.thingName);
      if (existing) {
        const identical =
          (existing.thing_type_name ?? undefined) === input.thingTypeName &&
          sameAttributes(attributesOf(existing), attributes);
        if (identical) return this.ids(existing);
        throw new BulwarkError(
          'ResourceAlreadyExists',
          `Thing ${input.thingName} already exists in account with different attributes`,
          { resourceId: existing.thing_id, resourceArn: this.context.arns.thing(input.thingName) },
        );
      }
      if (input.thingTypeName !== undefined) await this.usableType(tx, input.thingTypeName);
      const row: Row = {
        thing_name: input.thingName,
        thing_id: randomUUID(),
        thing_type_name: input.thingTypeName ?? null,
        version: 1,
        created_at: this.context.clock(),
        attributes,
        tags: {},
      };
      await tx.insert(THINGS_TABLE, row);
      emit(this.thingEvent(row, 'CREATED'));
      if (input.thingTypeName !== undefined)
        emit(this.associationEvent(row, input.thingTypeName, 'CREATED'));
      return this.ids(row);
    });
  }

  async describe(name: string): Promise<ThingDescription> {
    const row = await readThing(this.context.store, name);
    if (!row) throw thingNotFound(name);
    return {
      defaultClientId: name,
      ...this.ids(row),
      ...(row.thing_type_name !== null ? { thingTypeName: row.thing_type_name as string } : {}),
      attributes: attributesOf(row),
      version: row.version as number,
    };
  }

  async list(input: ListThingsInput): Promise<Page<ThingSummary>> {
    const filtered = input.attributeName !== undefined || input.attributeValue !== undefined;
    // Which attributes of a typed thing are searchable is its type's business; read each type once.
    const searchable = new Map<string, Set<string>>();
    if (filtered) {
      for (const type of await this.context.store.list(THING_TYPES_TABLE, { onUnreadable: 'mark' }))
        searchable.set(type.thing_type_name as string, new Set(searchableAttributesOf(type)));
    }
    const matchesValue = (value: string) =>
      input.attributeValue === undefined ||
      (input.usePrefixAttributeValue
        ? value.startsWith(input.attributeValue)
        : value === input.attributeValue);
    const keep = (row: Row): boolean => {
      if (!filtered) return true;
      const attributes = row.attributes as Attributes | null | undefined;
      if (!attributes) return false;
      const typeName = row.thing_type_name as string | null;
      const names =
        input.attributeName !== undefined ? [input.attributeName] : Object.keys(attributes);
      return names.some(
        (name) =>
          Object.hasOwn(attributes, name) &&
          (typeName === null || (searchable.get(typeName)?.has(name) ?? false)) &&
          matchesValue(attributes[name] as string),
      );
    };
    const page = await scanPage(this.context.store, {
      list: 'ListThings',
      table: THINGS_TABLE,
      key: 'thing_name',
      ...(input.thingTypeName !== undefined
        ? { where: { thing_type_name: input.thingTypeName } }
        : {}),
      request: input.page,
      keep,
    });
    return {
      ...page,
      items: page.items.map((row) => ({
        thingName: row.thing_name as string,
        ...(row.thing_type_name !== null ? { thingTypeName: row.thing_type_name as string } : {}),
        thingArn: this.context.arns.thing(row.thing_name as string),
        attributes: attributesOf(row),
        version: row.version as number,
      })),
    };
  }

  /**
   * Up to `limit` things after `after` (a thing name), in name order, read as one page: the
   * attributes of those that have any (things whose key was erased are passed over), and the name
   * the next page starts after (absent after the last thing).
   */
  async attributePage(
    after: string | undefined,
    limit: number,
  ): Promise<{ things: { thingName: string; attributes: Attributes }[]; next?: string }> {
    const { rows, last } = await readPage(
      this.context.store,
      THINGS_TABLE,
      after === undefined ? undefined : { thing_name: after },
      limit,
    );
    const things: { thingName: string; attributes: Attributes }[] = [];
    for (const row of rows) {
      const attributes = row.attributes as Attributes | null | undefined;
      if (attributes && Object.keys(attributes).length > 0)
        things.push({ thingName: row.thing_name as string, attributes });
    }
    return last ? { things, next: last.thing_name as string } : { things };
  }

  async update(input: UpdateThingInput): Promise<void> {
    if (input.removeThingType === true && input.thingTypeName !== undefined)
      throw invalid('Only one of thingTypeName and removeThingType=true may be given');
    const updated = await this.context.write(async (tx, emit) => {
      const row = await readThing(tx, input.thingName);
      if (!row) throw thingNotFound(input.thingName);
      if (input.expectedVersion !== undefined && input.expectedVersion !== row.version)
        throw versionConflict(input.thingName);
      const currentType = row.thing_type_name as string | null;
      let nextType = currentType;
      if (input.removeThingType === true) nextType = null;
      else if (input.thingTypeName !== undefined && input.thingTypeName !== currentType) {
        await this.usableType(tx, input.thingTypeName);
        nextType = input.thingTypeName;
      }
      const attributes = applyAttributePayload(attributesOf(row), input.attributePayload ?? {});
      this.checkAttributes(attributes, nextType);
      const next: Row = {
        ...row,
        thing_type_name: nextType,
        attributes,
        version: (row.version as number) + 1,
      };
      await tx.put(THINGS_TABLE, next);
      emit(this.thingEvent(next, 'UPDATED'));
      if (nextType !== currentType) {
        if (currentType !== null) emit(this.associationEvent(next, currentType, 'DELETED'));
        if (nextType !== null) emit(this.associationEvent(next, nextType, 'CREATED'));
      }
      return next;
    });
    this.principals.thingChanged(updated);
  }

  /**
   * Deletes the thing and its group memberships; a thing that does not exist is no error (AWS),
   * one with principals attached is refused.
   */
  async delete(name: string, expectedVersion: number | undefined): Promise<void> {
    await this.context.write(async (tx, emit) => {
      const row = await readThing(tx, name);
      if (!row) return;
      if (expectedVersion !== undefined && expectedVersion !== row.version)
        throw versionConflict(name);
      if (await this.principals.hasPrincipals(tx, name))
        throw invalid(`Cannot delete. Thing ${name} is still attached to one or more principals`);
      await this.leaveAllGroups(tx, row, emit);
      await tx.delete(THINGS_TABLE, { thing_name: name });
      emit(this.thingEvent(row, 'DELETED'));
      if (row.thing_type_name !== null)
        emit(this.associationEvent(row, row.thing_type_name as string, 'DELETED'));
    });
  }

  private async leaveAllGroups(
    tx: StoreWriter,
    row: Row,
    emit: (event: RegistryEvent) => void,
  ): Promise<void> {
    const memberships = await tx.list(GROUP_MEMBERS_TABLE, {
      where: { thing_name: row.thing_name },
    });
    for (const membership of memberships) {
      const group = await readThingGroup(tx, membership.thing_group_name as string);
      if (group) emit(membershipEvent(this.context, group, row, membership, 'REMOVED'));
    }
    await tx.deleteWhere(GROUP_MEMBERS_TABLE, { thing_name: row.thing_name });
  }
}
