import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { Operation, OperationRequest } from '../../src/api/operation.js';
import { isBulwarkError } from '../../src/errors.js';
import { registryMigrations, registryOperations, Registry } from '../../src/registry/index.js';
import type { RegistryOptions } from '../../src/registry/index.js';
import { newLocation, openHarnessAt, type Harness } from '../helpers/store-harness.js';

export const REGION = 'eu-west-1';
export const ACCOUNT_ID = '123456789012';

/** What an operation answered: its body, or AWS's error type and message. */
export type Answer =
  | { ok: true; body: Record<string, unknown> }
  | { ok: false; type: string; status: number; message: string; details: Record<string, unknown> };

export interface PublishedEvent {
  topic: string;
  payload: Record<string, unknown>;
}

export interface RegistryHarness {
  store: Harness;
  registry: Registry;
  events: PublishedEvent[];
  /** Calls an operation by name the way the API server would, after its JSON parsing. */
  call(
    name: string,
    request?: { params?: Record<string, string>; query?: Record<string, string>; body?: unknown },
  ): Promise<Answer>;
}

/**
 * The registry on a real store (SQLite or PostgreSQL), its operations called directly as the API
 * server calls them; undefined when the engine is unavailable (the test is then skipped).
 */
export async function openRegistry(
  t: TestContext,
  kind: 'sqlite' | 'postgres',
  options: Partial<RegistryOptions> = {},
): Promise<RegistryHarness | undefined> {
  const location = await newLocation(t, kind);
  if (!location) return undefined;
  const store = await openHarnessAt(location, registryMigrations);
  t.after(() => store.close());
  const events: PublishedEvent[] = [];
  const registry = new Registry({
    store: store.store,
    region: REGION,
    accountId: ACCOUNT_ID,
    thingTypeDeletionDelayMs: 0,
    events: {
      publish: (topic, payload) =>
        events.push({
          topic,
          payload: JSON.parse(payload.toString('utf8')) as Record<string, unknown>,
        }),
    },
    ...options,
  });
  const operations = new Map<string, Operation>(
    registryOperations(registry).map((operation) => [operation.name, operation]),
  );
  return {
    store,
    registry,
    events,
    async call(name, request = {}) {
      const operation = operations.get(name);
      if (!operation) throw new Error(`no operation ${name}`);
      const full: OperationRequest = {
        params: request.params ?? {},
        query: request.query ?? {},
        body: request.body ?? {},
        headers: {},
        context: {
          caller: {
            type: 'IAMUser',
            userName: 'admin',
            arn: `arn:aws:iam::${ACCOUNT_ID}:user/admin`,
            accessKeyId: 'AKIATEST',
            principalId: 'AIDATEST',
            mfaAuthenticated: false,
          },
          region: REGION,
          accountId: ACCOUNT_ID,
          requestId: 'test',
          sourceIp: '127.0.0.1',
          userAgent: 'test',
        },
      };
      try {
        const result = await operation.handle(full);
        return { ok: true, body: (result.body ?? {}) as Record<string, unknown> };
      } catch (error) {
        if (!isBulwarkError(error)) throw error;
        return {
          ok: false,
          type: error.awsType,
          status: error.httpStatus,
          message: error.message,
          details: { ...error.details },
        };
      }
    },
  };
}

/** Defines `title` once per engine: SQLite always, PostgreSQL when it answers. */
export function engineTest(
  title: string,
  body: (registry: RegistryHarness, t: TestContext) => Promise<void>,
  options: Partial<RegistryOptions> = {},
): void {
  for (const kind of ['sqlite', 'postgres'] as const) {
    test(`${title} [${kind}]`, async (t) => {
      const harness = await openRegistry(t, kind, options);
      if (harness) await body(harness, t);
    });
  }
}

/** The body of a successful answer; fails with the error otherwise. */
export function ok(answer: Answer): Record<string, unknown> {
  if (!answer.ok) assert.fail(`expected success, got ${answer.type}: ${answer.message}`);
  return answer.body;
}

/** Asserts an AWS error of `type` whose message matches `message`. */
export function fails(
  answer: Answer,
  type: string,
  message?: RegExp,
): Extract<Answer, { ok: false }> {
  if (answer.ok) assert.fail(`expected ${type}, got success: ${JSON.stringify(answer.body)}`);
  assert.equal(answer.type, type, answer.message);
  if (message) assert.match(answer.message, message);
  return answer;
}
