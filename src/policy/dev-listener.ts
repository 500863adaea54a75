import { isBulwarkError } from '../errors.js';
import type { Store } from '../store/index.js';
import { PolicyDecisions } from './decisions.js';
import { readPolicy } from './policies.js';
import { PolicyService } from './service.js';

/** The policy that authorizes the dev listener's clients (DESIGN.md, the command contract). */
export const DEV_LISTENER_POLICY = 'dev-listener';

/** Allows everything; the operator may narrow it with a new default version. */
export const DEV_LISTENER_DOCUMENT = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: 'iot:*', Resource: '*' }],
});

/**
 * Creates the `dev-listener` policy unless it exists (init, and the first `serve` on a new data
 * dir). Returns true when this call created it. Idempotent; an operator's narrowed version stays.
 */
export async function ensureDevListenerPolicy(
  store: Store,
  account: { region: string; accountId: string },
): Promise<boolean> {
  if (await readPolicy(store, DEV_LISTENER_POLICY)) return false;
  const service = new PolicyService({
    store,
    ...account,
    decisions: await PolicyDecisions.load(store),
    // Creating a policy never consults the registry.
    directory: {
      ancestorsOf: () => Promise.resolve([]),
      groupsOfThing: () => Promise.resolve([]),
    },
  });
  try {
    await service.policies.create(DEV_LISTENER_POLICY, DEV_LISTENER_DOCUMENT);
    return true;
  } catch (error) {
    // Another process initialising the same data dir got there first.
    if (isBulwarkError(error, 'ResourceAlreadyExists')) return false;
    throw error;
  }
}
