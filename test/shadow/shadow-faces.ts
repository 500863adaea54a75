// The two faces of the shadow service, driven by real clients: MQTT (MQTT.js publishing on the
// reserved topics) and HTTPS (@aws-sdk/client-iot-data-plane). Both report what a request led to
// in one shape, with what an MQTT subscriber saw alongside, so one case runs over either.
import {
  DeleteThingShadowCommand,
  GetThingShadowCommand,
  IoTDataPlaneClient,
  UpdateThingShadowCommand,
} from '@aws-sdk/client-iot-data-plane';
import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import {
  adminCredentials,
  sdkClientConfig,
  type ApiTarget,
  type AwsCredentials,
} from '../helpers/aws-api.js';
import type { Received } from '../helpers/mqtt-clients.js';

export type Operation = 'get' | 'update' | 'delete';

/** What one request led to: its answer, and for an accepted update the delta and documents published. */
export interface Outcome {
  accepted?: unknown;
  rejected?: { code: number; message: string; clientToken?: unknown };
  /** The `/update/delta` document published, or null when none was. */
  delta?: unknown;
  documents?: unknown;
}

export interface ShadowRequest {
  thingName: string;
  shadowName?: string;
  operation: Operation;
  /** The body as sent: bytes as they are, anything else as JSON. */
  payload?: unknown;
}

export interface ShadowFace {
  readonly name: 'mqtt' | 'https';
  send(request: ShadowRequest): Promise<Outcome>;
}

export function dataPlaneClient(
  target: ApiTarget,
  credentials: AwsCredentials = adminCredentials(target.dataDir),
): IoTDataPlaneClient {
  return new IoTDataPlaneClient(sdkClientConfig(target, credentials));
}

export function shadowPrefix(thingName: string, shadowName?: string): string {
  return shadowName === undefined
    ? `$aws/things/${thingName}/shadow`
    : `$aws/things/${thingName}/shadow/name/${shadowName}`;
}

function bytesOf(payload: unknown): Buffer {
  if (payload === undefined) return Buffer.alloc(0);
  if (Buffer.isBuffer(payload)) return payload;
  return Buffer.from(JSON.stringify(payload), 'utf8');
}

function json(bytes: Uint8Array | Buffer): unknown {
  return JSON.parse(Buffer.from(bytes).toString('utf8'));
}

/** Everything an MQTT client subscribed to `$aws/things/#` receives, searchable from a point. */
export class ShadowObserver {
  readonly messages: Received[] = [];

  constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload, packet) =>
      this.messages.push({ topic, payload, packet }),
    );
  }

  static async start(client: MqttClient): Promise<ShadowObserver> {
    const observer = new ShadowObserver(client);
    await client.subscribeAsync('$aws/things/#', { qos: 1 });
    return observer;
  }

  get position(): number {
    return this.messages.length;
  }

  /** The first message from `from` on one of `topics`; fails after `timeoutMs`. */
  async waitFor(
    topics: string[],
    from: number,
    timeoutMs = 5000,
  ): Promise<Received & { index: number }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (let index = from; index < this.messages.length; index++) {
        const message = this.messages[index] as Received;
        if (topics.includes(message.topic)) return { ...message, index };
      }
      if (Date.now() > deadline)
        assert.fail(`no message on ${topics.join(' or ')} within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }

  /** Messages from `from` on this topic. */
  on(topic: string, from = 0): Received[] {
    return this.messages.slice(from).filter((message) => message.topic === topic);
  }

  /**
   * After an accepted update: its `/update/documents`, and the `/update/delta` published before
   * it (they are published in that order, after `/update/accepted`).
   */
  async updateFollowUps(
    prefix: string,
    from: number,
  ): Promise<Pick<Outcome, 'delta' | 'documents'>> {
    const documents = await this.waitFor([`${prefix}/update/documents`], from);
    const delta = this.messages
      .slice(from, documents.index)
      .find((message) => message.topic === `${prefix}/update/delta`);
    return { delta: delta ? json(delta.payload) : null, documents: json(documents.payload) };
  }
}

/** Requests published on the reserved topics; answers read from what the observer receives. */
export class MqttFace implements ShadowFace {
  readonly name = 'mqtt';

  constructor(
    private readonly publisher: MqttClient,
    private readonly observer: ShadowObserver,
  ) {}

  async send(request: ShadowRequest): Promise<Outcome> {
    const prefix = shadowPrefix(request.thingName, request.shadowName);
    const from = this.observer.position;
    await this.publisher.publishAsync(`${prefix}/${request.operation}`, bytesOf(request.payload), {
      qos: 1,
    });
    const answer = await this.observer.waitFor(
      [`${prefix}/${request.operation}/accepted`, `${prefix}/${request.operation}/rejected`],
      from,
    );
    if (answer.topic.endsWith('/rejected'))
      return { rejected: json(answer.payload) as Outcome['rejected'] & object };
    const outcome: Outcome = { accepted: json(answer.payload) };
    if (request.operation !== 'update') return outcome;
    return { ...outcome, ...(await this.observer.updateFollowUps(prefix, answer.index)) };
  }
}

/**
 * Requests made with the AWS SDK; an error is the HTTP status and message. An accepted update
 * must also reach MQTT subscribers (`/update/accepted`, delta, documents); a rejected request
 * must not (no `/rejected` message), as AWS does.
 */
export class HttpsFace implements ShadowFace {
  readonly name = 'https';

  constructor(
    private readonly client: IoTDataPlaneClient,
    private readonly observer: ShadowObserver,
  ) {}

  async send(request: ShadowRequest): Promise<Outcome> {
    const prefix = shadowPrefix(request.thingName, request.shadowName);
    const from = this.observer.position;
    const target = {
      thingName: request.thingName,
      ...(request.shadowName !== undefined ? { shadowName: request.shadowName } : {}),
    };
    let body: Uint8Array | undefined;
    try {
      if (request.operation === 'update')
        body = (
          await this.client.send(
            new UpdateThingShadowCommand({ ...target, payload: bytesOf(request.payload) }),
          )
        ).payload;
      else if (request.operation === 'get')
        body = (await this.client.send(new GetThingShadowCommand(target))).payload;
      else body = (await this.client.send(new DeleteThingShadowCommand(target))).payload;
    } catch (error) {
      const failure = error as Error & { $metadata?: { httpStatusCode?: number } };
      if (failure.$metadata?.httpStatusCode === undefined) throw error;
      // Give a wrongly published rejection time to arrive before checking there is none.
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.deepEqual(
        this.observer.on(`${prefix}/${request.operation}/rejected`, from),
        [],
        'an HTTPS error must not be published over MQTT',
      );
      return { rejected: { code: failure.$metadata.httpStatusCode, message: failure.message } };
    }
    const accepted = json(body as Uint8Array);
    if (request.operation !== 'update') return { accepted };
    const published = await this.observer.waitFor([`${prefix}/update/accepted`], from);
    assert.deepEqual(
      json(published.payload),
      accepted,
      'MQTT subscribers see the accepted document',
    );
    return { accepted, ...(await this.observer.updateFollowUps(prefix, published.index)) };
  }
}

/**
 * The document with every `timestamp` replaced by "T", after checking each is epoch seconds
 * within the test's run.
 */
export function withTimestampsMarked(value: unknown, startedAt: number): unknown {
  if (Array.isArray(value)) return value.map((element) => withTimestampsMarked(element, startedAt));
  if (typeof value !== 'object' || value === null) return value;
  const marked: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    if (key === 'timestamp' && typeof child === 'number') {
      const now = Math.ceil(Date.now() / 1000);
      assert.ok(
        Number.isInteger(child) && child >= Math.floor(startedAt / 1000) && child <= now,
        `timestamp ${child} is epoch seconds of this run`,
      );
      marked[key] = 'T';
    } else
      // As data, so a `__proto__` member stays a member.
      Object.defineProperty(marked, key, {
        value: withTimestampsMarked(child, startedAt),
        enumerable: true,
        writable: true,
        configurable: true,
      });
  }
  return marked;
}
