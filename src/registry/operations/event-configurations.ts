import type { Operation } from '../../api/operation.js';
import { isEventType, type EventType } from '../events.js';
import type { Registry } from '../registry.js';
import { bodyObject, constraintError, optionalBoolean, optionalObject } from '../validation.js';
import { controlOperation, epochSeconds } from './common.js';

/** DescribeEventConfigurations and UpdateEventConfigurations (registry events on/off by type). */
export function eventConfigurationOperations(registry: Registry): Operation[] {
  return [
    controlOperation({
      name: 'DescribeEventConfigurations',
      method: 'GET',
      path: '/event-configurations',
      readOnly: true,
      async handle() {
        const described = await registry.eventConfigurations.describe();
        return {
          body: {
            eventConfigurations: described.eventConfigurations,
            ...(described.creationDate !== undefined
              ? { creationDate: epochSeconds(described.creationDate) }
              : {}),
            ...(described.lastModifiedDate !== undefined
              ? { lastModifiedDate: epochSeconds(described.lastModifiedDate) }
              : {}),
          },
        };
      },
    }),
    controlOperation({
      name: 'UpdateEventConfigurations',
      method: 'PATCH',
      path: '/event-configurations',
      readOnly: false,
      async handle(request) {
        const field = 'eventConfigurations';
        const configurations = optionalObject(bodyObject(request.body)[field], field) ?? {};
        const changes: Partial<Record<EventType, boolean>> = {};
        for (const [type, configuration] of Object.entries(configurations)) {
          if (!isEventType(type))
            throw constraintError(
              field,
              'Map keys must satisfy constraint: [Member must satisfy enum value set]',
            );
          const enabled = optionalObject(configuration, `${field}.${type}`) ?? {};
          changes[type] = optionalBoolean(enabled.Enabled, `${field}.${type}.Enabled`) ?? false;
        }
        await registry.eventConfigurations.update(changes);
        return {};
      },
    }),
  ];
}
