/**
 * What an IoT policy decision costs the broker: µs per `PolicyDecisions.decide` call (the
 * synchronous check made on every connect, publish, subscribe and delivery) with a realistic
 * policy set: a certificate with two policies and a thing group with one, 10 statements in all,
 * thing and client-id variables, a condition, and a deny. Prints a markdown table.
 *
 *   node --import tsx bench/policy-evaluation.ts
 *
 * Environment: BENCH_SCALE multiplies the iteration count (e.g. 0.1 for a smoke run).
 */
import type { Row, StoreReader } from '../src/store/index.js';
import type { AuthorizationContext } from '../src/policy/context.js';
import { PolicyDecisions } from '../src/policy/decisions.js';
import {
  POLICIES_TABLE,
  POLICY_TARGETS_TABLE,
  POLICY_VERSIONS_TABLE,
} from '../src/policy/migrations.js';

const SCALE = Number(process.env.BENCH_SCALE ?? '1');
if (!(SCALE > 0)) throw new Error(`BENCH_SCALE must be a positive number`);
const ITERATIONS = Math.max(1000, Math.round(1_000_000 * SCALE));
const ROUNDS = 5;

const ARN = 'arn:aws:iot:eu-west-1:123456789012';
const CERT = `${ARN}:cert/${'ab'.repeat(32)}`;
const GROUP = `${ARN}:thinggroup/floor-3`;
const TARGETS = [CERT, GROUP];

const POLICIES: Record<string, object> = {
  // The device's own policy: connect as its thing, use its own topics, shadow and jobs.
  device: {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: 'iot:Connect',
        Resource: `${ARN}:client/\${iot:Connection.Thing.ThingName}`,
        Condition: { Bool: { 'iot:Connection.Thing.IsAttached': 'true' } },
      },
      {
        Effect: 'Allow',
        Action: ['iot:Publish', 'iot:Receive'],
        Resource: [
          `${ARN}:topic/devices/\${iot:Connection.Thing.ThingName}/*`,
          `${ARN}:topic/$aws/things/\${iot:Connection.Thing.ThingName}/shadow/*`,
        ],
      },
      {
        Effect: 'Allow',
        Action: 'iot:Subscribe',
        Resource: [
          `${ARN}:topicfilter/devices/\${iot:Connection.Thing.ThingName}/*`,
          `${ARN}:topicfilter/$aws/things/\${iot:Connection.Thing.ThingName}/shadow/*`,
        ],
      },
      {
        Effect: 'Allow',
        Action: ['iot:Publish', 'iot:Subscribe', 'iot:Receive'],
        Resource: [
          `${ARN}:topic/$aws/things/\${iot:Connection.Thing.ThingName}/jobs/*`,
          `${ARN}:topicfilter/$aws/things/\${iot:Connection.Thing.ThingName}/jobs/*`,
        ],
      },
    ],
  },
  // A fleet-wide guard: no admin topics, no retained publishes outside telemetry.
  guard: {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Deny',
        Action: 'iot:*',
        Resource: [`${ARN}:topic/admin/*`, `${ARN}:topicfilter/admin/*`],
      },
      { Effect: 'Deny', Action: 'iot:RetainPublish', NotResource: `${ARN}:topic/telemetry/*` },
      {
        Effect: 'Allow',
        Action: 'iot:Publish',
        Resource: `${ARN}:topic/telemetry/\${iot:ClientId}`,
        Condition: { StringEquals: { 'iot:Connection.Thing.ThingTypeName': 'thermostat' } },
      },
    ],
  },
  // The thing group's policy: broadcasts to the floor.
  floor: {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: 'iot:Subscribe',
        Resource: `${ARN}:topicfilter/floors/\${iot:Connection.Thing.Attributes[floor]}/*`,
      },
      {
        Effect: 'Allow',
        Action: 'iot:Receive',
        Resource: `${ARN}:topic/floors/\${iot:Connection.Thing.Attributes[floor]}/*`,
      },
      {
        Effect: 'Allow',
        Action: 'iot:Publish',
        Resource: `${ARN}:topic/floors/\${iot:Connection.Thing.Attributes[floor]}/status`,
      },
    ],
  },
};
const ATTACHMENTS: [string, string][] = [
  [CERT, 'device'],
  [CERT, 'guard'],
  [GROUP, 'floor'],
];

/** Just enough of a store for PolicyDecisions.load: the rows it reads. */
const store: StoreReader = {
  async get(table, key) {
    if (table === POLICY_VERSIONS_TABLE)
      return { ...key, document: JSON.stringify(POLICIES[key.policy_name as string]) };
    return undefined;
  },
  async list(table) {
    if (table === POLICIES_TABLE)
      return Object.keys(POLICIES).map((name): Row => ({ policy_name: name, default_version: 1 }));
    if (table === POLICY_TARGETS_TABLE)
      return ATTACHMENTS.map(([target, name]): Row => ({ target, policy_name: name }));
    return [];
  },
  async count() {
    return 0;
  },
};

const context: AuthorizationContext = {
  clientId: 'sensor-0042',
  thing: { name: 'sensor-0042', typeName: 'thermostat', attributes: { floor: '3' } },
  sourceIp: '10.1.2.3',
};

interface Case {
  name: string;
  action: string;
  resource: string;
  expect: string;
}

const cases: Case[] = [
  {
    name: 'publish to own topic (allow)',
    action: 'iot:Publish',
    resource: `${ARN}:topic/devices/sensor-0042/temp`,
    expect: 'allow',
  },
  {
    name: 'publish to own shadow (allow)',
    action: 'iot:Publish',
    resource: `${ARN}:topic/$aws/things/sensor-0042/shadow/update`,
    expect: 'allow',
  },
  {
    name: 'publish to floor status (3rd policy, allow)',
    action: 'iot:Publish',
    resource: `${ARN}:topic/floors/3/status`,
    expect: 'allow',
  },
  {
    name: "publish to another device's topic (implicit deny)",
    action: 'iot:Publish',
    resource: `${ARN}:topic/devices/sensor-0043/temp`,
    expect: 'implicit-deny',
  },
  {
    name: 'publish to admin topic (explicit deny)',
    action: 'iot:Publish',
    resource: `${ARN}:topic/admin/reboot`,
    expect: 'deny',
  },
  {
    name: 'receive on own topic (allow)',
    action: 'iot:Receive',
    resource: `${ARN}:topic/devices/sensor-0042/cmd`,
    expect: 'allow',
  },
  {
    name: 'subscribe to own filter (allow)',
    action: 'iot:Subscribe',
    resource: `${ARN}:topicfilter/devices/sensor-0042/#`,
    expect: 'allow',
  },
  {
    name: 'connect as own thing (allow, condition)',
    action: 'iot:Connect',
    resource: `${ARN}:client/sensor-0042`,
    expect: 'allow',
  },
];

function measure(decisions: PolicyDecisions, item: Case): number {
  const check = decisions.decide(TARGETS, item.action, item.resource, context);
  if (check !== item.expect) throw new Error(`${item.name}: got ${check}, expected ${item.expect}`);
  let best = Infinity;
  for (let round = 0; round < ROUNDS; round++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < ITERATIONS; i++)
      decisions.decide(TARGETS, item.action, item.resource, context);
    const ns = Number(process.hrtime.bigint() - start) / ITERATIONS;
    best = Math.min(best, ns);
  }
  return best / 1000;
}

const decisions = await PolicyDecisions.load(store);
const statements = Object.values(POLICIES).reduce(
  (sum, policy) => sum + (policy as { Statement: unknown[] }).Statement.length,
  0,
);
console.log(
  `Policy evaluation: PolicyDecisions.decide, ${ATTACHMENTS.length} attached policies (2 on the certificate, 1 on its thing group), ${statements} statements, thing and client-id variables; best of ${ROUNDS} rounds of ${ITERATIONS.toLocaleString('en')} decisions; Node ${process.version}\n`,
);
console.log('| request | decision | µs per decision | decisions/s |');
console.log('| --- | --- | ---: | ---: |');
for (const item of cases) {
  const us = measure(decisions, item);
  console.log(
    `| ${item.name} | ${item.expect} | ${us.toFixed(3)} | ${Math.round(1e6 / us).toLocaleString('en')} |`,
  );
}
