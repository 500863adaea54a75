import { randomUUID } from 'node:crypto';
import { BulwarkError } from '../errors.js';
import type { Row } from '../store/index.js';
import type { RegistryContext } from './context.js';
import type { RegistryEvent } from './events.js';
import { THING_TYPES_TABLE, THINGS_TABLE } from './migrations.js';
import { scanPage, type Page, type PageRequest } from './pagination.js';
import { readThingType, thingTypeNotFound } from './records.js';
import { checkTagCount, type Tags } from './tags.js';
import { invalid } from './validation.js';

export interface PropagatingAttribute {
  userPropertyKey?: string;
  thingAttribute?: string;
  connectionAttribute?: string;
}

/** ThingTypeProperties, as stored (sealed) and returned. */
export interface ThingTypeProperties {
  thingTypeDescription?: string;
  searchableAttributes?: string[];
  mqtt5Configuration?: { propagatingAttributes?: PropagatingAttribute[] };
}

export interface CreateThingTypeInput {
  thingTypeName: string;
  thingTypeProperties?: ThingTypeProperties;
  tags?: Tags;
}

export interface ThingTypeIds {
  thingTypeName: string;
  thingTypeArn: string;
  thingTypeId: string;
}

export interface ThingTypeMetadata {
  deprecated: boolean;
  /** Epoch ms. */
  deprecationDate?: number;
  creationDate: number;
}

export interface ThingTypeDescription extends ThingTypeIds {
  thingTypeProperties: ThingTypeProperties;
  thingTypeMetadata: ThingTypeMetadata;
}

/** ListThingTypes' items (ThingTypeDefinition) carry no thingTypeId. */
export type ThingTypeDefinition = Omit<ThingTypeDescription, 'thingTypeId'>;

const FIVE_MINUTES_MS = 5 * 60 * 1000;

/** The attribute names ListThings may filter on for things of this type. */
export function searchableAttributesOf(row: Row): string[] {
  return ((row.properties as ThingTypeProperties | undefined)?.searchableAttributes ?? []).slice();
}

function sameProperties(a: ThingTypeProperties, b: ThingTypeProperties): boolean {
  return JSON.stringify(normalise(a)) === JSON.stringify(normalise(b));
}

function normalise(properties: ThingTypeProperties): ThingTypeProperties {
  return {
    thingTypeDescription: properties.thingTypeDescription ?? '',
    searchableAttributes: [...(properties.searchableAttributes ?? [])].sort(),
    ...(properties.mqtt5Configuration ? { mqtt5Configuration: properties.mqtt5Configuration } : {}),
  };
}

/**
 * Thing types: immutable once created (AWS), deprecated to stop new associations, and deleted only
 * after a deprecation has lasted `deletionDelayMs` (AWS: five minutes) and no thing uses them.
 */
export class ThingTypes {
  private readonly context: RegistryContext;
  private readonly deletionDelayMs: number;

  constructor(context: RegistryContext, deletionDelayMs = FIVE_MINUTES_MS) {
    this.context = context;
    this.deletionDelayMs = deletionDelayMs;
  }

  private ids(row: Row): ThingTypeIds {
    const name = row.thing_type_name as string;
    return {
      thingTypeName: name,
      thingTypeArn: this.context.arns.thingType(name),
      thingTypeId: row.thing_type_id as string,
    };
  }

  private definition(row: Row): ThingTypeDefinition {
    const name = row.thing_type_name as string;
    const properties = (row.properties as ThingTypeProperties | null | undefined) ?? {};
    return {
      thingTypeName: name,
      thingTypeArn: this.context.arns.thingType(name),
      thingTypeProperties: {
        ...properties,
        searchableAttributes: properties.searchableAttributes ?? [],
      },
      thingTypeMetadata: {
        deprecated: row.deprecated === true,
        ...(row.deprecated_at !== null ? { deprecationDate: row.deprecated_at as number } : {}),
        creationDate: row.created_at as number,
      },
    };
  }

  private event(row: Row, operation: 'CREATED' | 'UPDATED' | 'DELETED'): RegistryEvent {
    const name = row.thing_type_name as string;
    const properties = (row.properties as ThingTypeProperties | null | undefined) ?? {};
    return {
      type: 'THING_TYPE',
      topic: `$aws/events/thingType/${name}/${operation.toLowerCase()}`,
      payload: {
        ...this.context.events.envelope('THING_TYPE_EVENT', operation),
        thingTypeId: row.thing_type_id,
        thingTypeName: name,
        isDeprecated: row.deprecated === true,
        deprecationDate: row.deprecated_at ?? null,
        searchableAttributes: properties.searchableAttributes ?? [],
        description: properties.thingTypeDescription ?? null,
      },
    };
  }

  async create(input: CreateThingTypeInput): Promise<ThingTypeIds> {
    const properties = input.thingTypeProperties ?? {};
    const searchable = properties.searchableAttributes ?? [];
    if (searchable.length > this.context.limits.searchableAttributes)
      throw invalid(
        `A thing type can have at most ${this.context.limits.searchableAttributes} searchable attributes`,
      );
    if (input.tags) checkTagCount(input.tags, this.context.limits.tagsPerResource);
    return this.context.write(async (tx, emit) => {
      const existing = await readThingType(tx, input.thingTypeName);
      if (existing) {
        if (sameProperties((existing.properties as ThingTypeProperties | null) ?? {}, properties))
          return this.ids(existing);
        throw new BulwarkError(
          'ResourceAlreadyExists',
          `Thing type ${input.thingTypeName} already exists with different properties`,
          {
            resourceId: existing.thing_type_id,
            resourceArn: this.context.arns.thingType(input.thingTypeName),
          },
        );
      }
      const row: Row = {
        thing_type_name: input.thingTypeName,
        thing_type_id: randomUUID(),
        deprecated: false,
        deprecated_at: null,
        created_at: this.context.clock(),
        properties,
        tags: input.tags ?? {},
      };
      await tx.insert(THING_TYPES_TABLE, row);
      emit(this.event(row, 'CREATED'));
      return this.ids(row);
    });
  }

  async describe(name: string): Promise<ThingTypeDescription> {
    const row = await readThingType(this.context.store, name);
    if (!row) throw thingTypeNotFound(name);
    return { ...this.definition(row), thingTypeId: row.thing_type_id as string };
  }

  async list(options: {
    thingTypeName?: string;
    page: PageRequest;
  }): Promise<Page<ThingTypeDefinition>> {
    const page = await scanPage(this.context.store, {
      list: 'ListThingTypes',
      table: THING_TYPES_TABLE,
      key: 'thing_type_name',
      ...(options.thingTypeName !== undefined
        ? { where: { thing_type_name: options.thingTypeName } }
        : {}),
      request: options.page,
    });
    return {
      ...page,
      items: page.items.map((row) => this.definition(row)),
    };
  }

  /** Deprecates the type (no new thing may use it) or, with `undo`, makes it usable again. */
  async deprecate(name: string, undo: boolean): Promise<void> {
    await this.context.write(async (tx, emit) => {
      const row = await readThingType(tx, name);
      if (!row) throw thingTypeNotFound(name);
      const next: Row = undo
        ? { ...row, deprecated: false, deprecated_at: null }
        : // Deprecating again keeps the first date, so the wait before deletion does not restart.
          {
            ...row,
            deprecated: true,
            deprecated_at: row.deprecated === true ? row.deprecated_at : this.context.clock(),
          };
      await tx.put(THING_TYPES_TABLE, next);
      emit(this.event(next, 'UPDATED'));
    });
  }

  async delete(name: string): Promise<void> {
    await this.context.write(async (tx, emit) => {
      const row = await readThingType(tx, name);
      if (!row) throw thingTypeNotFound(name);
      if (row.deprecated !== true)
        throw invalid(`Thing type ${name} must be deprecated before it can be deleted`);
      const waited = this.context.clock() - (row.deprecated_at as number);
      if (waited < this.deletionDelayMs)
        throw invalid(
          `Thing type ${name} was deprecated less than ${Math.ceil(this.deletionDelayMs / 1000)} seconds ago; it can be deleted once that time has passed`,
        );
      if ((await tx.count(THINGS_TABLE, { thing_type_name: name })) > 0)
        throw invalid(
          `Thing type ${name} is still associated with things; remove their type with UpdateThing first`,
        );
      await tx.delete(THING_TYPES_TABLE, { thing_type_name: name });
      emit(this.event(row, 'DELETED'));
    });
  }
}
