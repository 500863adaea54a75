import { BulwarkError } from '../errors.js';
import { registryResourceOf, type ResourceKind } from './arns.js';
import type { RegistryContext } from './context.js';
import { THING_GROUPS_TABLE, THING_TYPES_TABLE, THINGS_TABLE } from './migrations.js';
import { pageOfSorted, type Page, type PageRequest } from './pagination.js';
import { invalid } from './validation.js';

/** Tag keys to values, as stored (sealed) with the resource they tag. */
export type Tags = Record<string, string>;

/** AWS's wire form of one tag: capitalised members. */
export interface Tag {
  Key: string;
  Value: string;
}

const TABLES: Record<ResourceKind, { table: string; key: string }> = {
  thing: { table: THINGS_TABLE, key: 'thing_name' },
  thingtype: { table: THING_TYPES_TABLE, key: 'thing_type_name' },
  thinggroup: { table: THING_GROUPS_TABLE, key: 'thing_group_name' },
};

export function checkTagCount(tags: Tags, max: number): void {
  if (Object.keys(tags).length > max)
    throw new BulwarkError('LimitExceeded', `A resource can have at most ${max} tags`);
}

/** Tags from AWS's list form; a later duplicate key wins. Keys starting `aws:` are AWS's own. */
export function tagsFromList(list: Tag[]): Tags {
  for (const tag of list) {
    if (tag.Key.toLowerCase().startsWith('aws:'))
      throw invalid('Tag keys beginning with aws: are reserved for AWS use');
  }
  return Object.fromEntries(list.map((tag) => [tag.Key, tag.Value]));
}

/**
 * TagResource / UntagResource / ListTagsForResource over things, thing types and thing groups,
 * named by ARN. Tags are sealed with the resource they belong to; changing them does not change
 * the resource's version.
 */
export class TagService {
  private readonly context: RegistryContext;

  constructor(context: RegistryContext) {
    this.context = context;
  }

  private resolve(resourceArn: string): { table: string; key: Record<string, string> } {
    const ref = registryResourceOf(this.context.arns, resourceArn);
    // The ARN itself is not echoed: it is caller input of up to 2048 characters.
    if (!ref)
      throw new BulwarkError(
        'ResourceNotFound',
        'The resourceArn names no thing, thing type or thing group of this account and region',
      );
    const { table, key } = TABLES[ref.kind];
    return { table, key: { [key]: ref.name } };
  }

  private missing(): BulwarkError {
    return new BulwarkError('ResourceNotFound', 'The resource named by resourceArn does not exist');
  }

  async tag(resourceArn: string, tags: Tags): Promise<void> {
    const { table, key } = this.resolve(resourceArn);
    await this.context.write(async (tx) => {
      const row = await tx.get(table, key);
      if (!row) throw this.missing();
      const merged = { ...((row.tags as Tags | null) ?? {}), ...tags };
      checkTagCount(merged, this.context.limits.tagsPerResource);
      await tx.put(table, { ...row, tags: merged });
    });
  }

  async untag(resourceArn: string, tagKeys: string[]): Promise<void> {
    const { table, key } = this.resolve(resourceArn);
    await this.context.write(async (tx) => {
      const row = await tx.get(table, key);
      if (!row) throw this.missing();
      const remove = new Set(tagKeys);
      const kept = Object.entries((row.tags as Tags | null) ?? {}).filter(
        ([tagKey]) => !remove.has(tagKey),
      );
      await tx.put(table, { ...row, tags: Object.fromEntries(kept) });
    });
  }

  async list(resourceArn: string, page: PageRequest): Promise<Page<Tag>> {
    const { table, key } = this.resolve(resourceArn);
    const row = await this.context.store.get(table, key);
    if (!row) throw this.missing();
    const tags = (row.tags as Tags | null) ?? {};
    const keys = pageOfSorted('ListTagsForResource', Object.keys(tags).sort(), page);
    return {
      ...keys,
      items: keys.items.map((tagKey) => ({ Key: tagKey, Value: tags[tagKey] as string })),
    };
  }
}
