import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import type { Cleanup } from './cli.js';

export interface Received {
  topic: string;
  payload: Buffer;
  packet: IPublishPacket;
}

/** An MQTT.js client on 127.0.0.1, ended when the test ends; no automatic reconnects. */
export async function connectClient(
  t: Cleanup,
  port: number,
  options: IClientOptions = {},
): Promise<MqttClient> {
  return (await connectWithInbox(t, port, options)).client;
}

/**
 * Connects with an inbox listening before CONNACK arrives, so messages a resumed session sends
 * straight after it are not missed.
 */
export async function connectWithInbox(
  t: Cleanup,
  port: number,
  options: IClientOptions = {},
): Promise<{ client: MqttClient; messages: Inbox }> {
  return connectUrlWithInbox(t, `mqtt://127.0.0.1:${port}`, options);
}

/** As `connectWithInbox`, to any URL MQTT.js takes (`mqtts://…`, `wss://…/mqtt`). */
export async function connectUrlWithInbox(
  t: Cleanup,
  url: string,
  options: IClientOptions = {},
): Promise<{ client: MqttClient; messages: Inbox }> {
  const client = mqtt.connect(url, {
    reconnectPeriod: 0,
    connectTimeout: 5000,
    ...options,
  });
  t.after(() => client.end(true));
  const messages = inbox(client);
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
    client.once('close', () => reject(new Error('connection closed before CONNACK')));
  });
  return { client, messages };
}

export type Inbox = ReturnType<typeof inbox>;

/** Collects every message the client receives, in order. */
export function inbox(client: MqttClient): {
  messages: Received[];
  next(timeoutMs?: number): Promise<Received>;
  none(forMs: number): Promise<void>;
} {
  const messages: Received[] = [];
  const waiters: ((message: Received) => void)[] = [];
  let delivered = 0;
  client.on('message', (topic, payload, packet) => {
    const message = { topic, payload, packet };
    messages.push(message);
    const waiter = waiters.shift();
    if (waiter) {
      delivered += 1;
      waiter(message);
    }
  });
  return {
    messages,
    next(timeoutMs = 5000) {
      if (delivered < messages.length) return Promise.resolve(messages[delivered++] as Received);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no message within ${timeoutMs} ms`)),
          timeoutMs,
        );
        waiters.push((message) => {
          clearTimeout(timer);
          resolve(message);
        });
      });
    },
    async none(forMs) {
      const before = messages.length;
      await new Promise((resolve) => setTimeout(resolve, forMs));
      if (messages.length !== before)
        throw new Error(`unexpected message on ${messages[before]?.topic}`);
    },
  };
}
