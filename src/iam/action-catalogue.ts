import type { Operation } from '../api/operation.js';
import type { QueryAction } from './query/action.js';

/**
 * The IAM actions Bulwark authorizes, read from the definitions the server serves (never a list
 * kept by hand): the access report judges each of them for a user.
 */

/** How a call reaches the authorizer. */
export type ActionPath = 'rest-api' | 'query-api' | 'json-api' | 'metrics' | 'mqtt-over-wss';

export interface CataloguedAction {
  /** `service:Action`, e.g. `iot:CreateThing`. */
  action: string;
  servedOver: ActionPath[];
  /**
   * Whether every allowed use is recorded as last-accessed data. MQTT over WSS is judged per
   * connection by the broker, which records none yet: an action it serves may be in use unseen.
   */
  usageRecorded: boolean;
}

/** What the catalogue is read from: the served operations and Query actions, and the rest. */
export interface ActionSources {
  operations: readonly Operation[];
  queryActions: readonly QueryAction[];
  /** Actions served over AWS's JSON 1.1 protocol at `/` (CloudTrail's LookupEvents). */
  jsonActions?: readonly string[];
  /** The action `/metrics` checks. */
  metricsAction: string;
  /** The IoT actions MQTT over WSS checks against an IAM user's policies. */
  mqttActions: readonly string[];
}

/** Every action the sources authorize, once each, sorted by name. */
export function actionCatalogue(sources: ActionSources): CataloguedAction[] {
  const paths = new Map<string, Set<ActionPath>>();
  const add = (action: string, path: ActionPath) => {
    const known = paths.get(action) ?? new Set<ActionPath>();
    known.add(path);
    paths.set(action, known);
  };
  for (const operation of sources.operations) add(operation.action, 'rest-api');
  // Authentication actions (GetCallerIdentity, GetSessionToken) are checked against no policy.
  for (const queryAction of sources.queryActions)
    if (!queryAction.withoutAuthorization)
      add(`${queryAction.service}:${queryAction.name}`, 'query-api');
  for (const action of sources.jsonActions ?? []) add(action, 'json-api');
  add(sources.metricsAction, 'metrics');
  for (const action of sources.mqttActions) add(action, 'mqtt-over-wss');
  return [...paths]
    .map(([action, servedOver]) => ({
      action,
      servedOver: [...servedOver].sort(),
      usageRecorded: !servedOver.has('mqtt-over-wss'),
    }))
    .sort((a, b) => (a.action < b.action ? -1 : a.action > b.action ? 1 : 0));
}
