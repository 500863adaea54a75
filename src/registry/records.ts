import { BulwarkError } from '../errors.js';
import type { Row, StoreReader } from '../store/index.js';
import { THING_GROUPS_TABLE, THING_TYPES_TABLE, THINGS_TABLE } from './migrations.js';

/** Reading one registry row by name, and the error when it is not there. */

export function readThing(reader: StoreReader, name: string): Promise<Row | undefined> {
  return reader.get(THINGS_TABLE, { thing_name: name });
}

export function readThingType(reader: StoreReader, name: string): Promise<Row | undefined> {
  return reader.get(THING_TYPES_TABLE, { thing_type_name: name });
}

export function readThingGroup(reader: StoreReader, name: string): Promise<Row | undefined> {
  return reader.get(THING_GROUPS_TABLE, { thing_group_name: name });
}

export function thingNotFound(name: string): BulwarkError {
  return new BulwarkError('ResourceNotFound', `Thing ${name} cannot be found.`);
}

export function thingTypeNotFound(name: string): BulwarkError {
  return new BulwarkError('ResourceNotFound', `Thing type ${name} cannot be found.`);
}

export function thingGroupNotFound(name: string): BulwarkError {
  return new BulwarkError('ResourceNotFound', `Thing group ${name} cannot be found.`);
}
