import type { Migration } from '../store/index.js';

export const THINGS_TABLE = 'registry_things';
export const THING_TYPES_TABLE = 'registry_thing_types';
export const THING_GROUPS_TABLE = 'registry_thing_groups';
export const GROUP_MEMBERS_TABLE = 'registry_thing_group_members';
export const EVENT_CONFIGURATIONS_TABLE = 'registry_event_configurations';
export const WRITE_LOCK_TABLE = 'registry_write_lock';
export const THING_PRINCIPALS_TABLE = 'registry_thing_principals';

/**
 * The registry's tables. Names, ids, versions and dates stay plaintext (lookups and listings need
 * them); attributes, descriptions and tags are sealed. A thing's row is sealed under the thing's
 * own key (`scope/thing/{name}`), so erasing that key erases its attributes and tags.
 */
export const registryMigrations: Migration[] = [
  {
    id: 'registry-0001-registry',
    steps: [
      {
        createTable: {
          name: THINGS_TABLE,
          columns: {
            thing_name: { type: 'text' },
            thing_id: { type: 'text' },
            thing_type_name: { type: 'text', nullable: true },
            version: { type: 'integer' },
            created_at: { type: 'integer' },
          },
          primaryKey: ['thing_name'],
          sealed: ['attributes', 'tags'],
          scope: { column: 'thing_name', prefix: 'thing' },
          indexes: [['thing_type_name']],
        },
      },
      {
        createTable: {
          name: THING_TYPES_TABLE,
          columns: {
            thing_type_name: { type: 'text' },
            thing_type_id: { type: 'text' },
            deprecated: { type: 'boolean' },
            deprecated_at: { type: 'integer', nullable: true },
            created_at: { type: 'integer' },
          },
          primaryKey: ['thing_type_name'],
          // Description, searchable attribute names and MQTT 5 configuration travel together.
          sealed: ['properties', 'tags'],
        },
      },
      {
        createTable: {
          name: THING_GROUPS_TABLE,
          columns: {
            thing_group_name: { type: 'text' },
            thing_group_id: { type: 'text' },
            parent_group_name: { type: 'text', nullable: true },
            version: { type: 'integer' },
            created_at: { type: 'integer' },
          },
          primaryKey: ['thing_group_name'],
          sealed: ['description', 'attributes', 'tags'],
          indexes: [['parent_group_name']],
        },
      },
      {
        createTable: {
          name: GROUP_MEMBERS_TABLE,
          columns: {
            thing_group_name: { type: 'text' },
            thing_name: { type: 'text' },
            membership_id: { type: 'text' },
            added_at: { type: 'integer' },
          },
          primaryKey: ['thing_group_name', 'thing_name'],
          sealed: [],
          indexes: [['thing_name']],
        },
      },
      {
        createTable: {
          name: EVENT_CONFIGURATIONS_TABLE,
          columns: {
            event_type: { type: 'text' },
            enabled: { type: 'boolean' },
            created_at: { type: 'integer' },
            updated_at: { type: 'integer' },
          },
          primaryKey: ['event_type'],
          sealed: [],
        },
      },
      {
        // One row every registry write updates first: it orders registry writes across the
        // processes sharing a database (PostgreSQL row lock), so checks and writes stay atomic.
        createTable: {
          name: WRITE_LOCK_TABLE,
          columns: { name: { type: 'text' }, touched_at: { type: 'integer' } },
          primaryKey: ['name'],
          sealed: [],
        },
      },
    ],
  },
  {
    // Which principals (certificate ARNs) are attached to which things, and how (AWS's
    // thingPrincipalType). Plaintext: the broker's index loads it at start.
    id: 'registry-0002-thing-principals',
    steps: [
      {
        createTable: {
          name: THING_PRINCIPALS_TABLE,
          columns: {
            thing_name: { type: 'text' },
            principal: { type: 'text' },
            thing_principal_type: { type: 'text' },
            attached_at: { type: 'integer' },
          },
          primaryKey: ['thing_name', 'principal'],
          sealed: [],
          indexes: [['principal']],
        },
      },
    ],
  },
];
