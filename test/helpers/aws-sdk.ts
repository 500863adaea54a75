// Runs a device built on the AWS IoT Device SDK v2 for JavaScript (aws-iot-device-sdk-v2, on
// aws-crt) in its own process: test/helpers/aws-sdk-device.ts.
//
// Not in the test process because aws-crt frees a client's native side only when V8 garbage-collects
// the JS object: `close()` drops references, but the client's threadsafe functions stay referenced
// (keeping the event loop alive) until a GC runs, so a test file that loaded it could linger, or
// hang for good while anything still held a client. The child exits when done, or is killed.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { ROOT } from './child.js';
import type { Cleanup } from './cli.js';

export interface SdkDeviceScenario {
  /** The SDK's MQTT 5 client (`mqtt5.Mqtt5Client`) or its MQTT 3.1.1 one (`mqtt.MqttClientConnection`). */
  protocol: 'mqtt5' | 'mqtt311';
  host: string;
  port: number;
  certPath: string;
  keyPath: string;
  /** The server's CA; without it the SDK trusts the system store only. */
  caPath?: string;
  clientId: string;
  /** Subscribe at QoS 1, publish at QoS 1 and wait for the message to come back. Absent: connect only. */
  roundTrip?: {
    filter: string;
    topic: string;
    payloadHex: string;
    /** MQTT 5 only. */
    contentType?: string;
    /** MQTT 5 only. */
    userProperties?: { name: string; value: string }[];
  };
  /**
   * MQTT 5 only: drive a named shadow with the SDK's shadow client (IotShadowClientv2), as an
   * app and its device would: set desired, receive the delta, report, get, delete.
   */
  shadow?: { thingName: string; shadowName: string };
  /** Bound on every wait in the device. */
  timeoutMs: number;
}

export interface SdkDeviceReport {
  /** `io.is_alpn_available()`: the SDK then offers ALPN `x-amzn-mqtt-ca`, as for AWS IoT Core on 8883. */
  alpnOffered: boolean;
  connected: boolean;
  /** MQTT 5: CONNACK reason code; MQTT 3.1.1: 0 once connected. */
  connackReasonCode?: number;
  sessionPresent?: boolean;
  /** MQTT 5: what the client negotiated from the CONNACK. */
  settings?: Record<string, unknown>;
  /** The first failed connection attempt, as the SDK words it. */
  connectionFailure?: string;
  /** MQTT 5: SUBACK reason codes; MQTT 3.1.1: the granted QoS. */
  subscribeResult?: number[];
  /** MQTT 5: PUBACK reason code; MQTT 3.1.1: 0 once PUBACK arrived. */
  pubackReasonCode?: number;
  message?: {
    topic: string;
    qos: number;
    retain: boolean;
    payloadHex: string;
    contentType?: string;
    userProperties?: { name: string; value: string }[];
  };
  /** MQTT 5: the client reached `stopped` after `stop()` with DISCONNECT; MQTT 3.1.1: `disconnect()` resolved. */
  disconnectedCleanly: boolean;
  /** MQTT 5: why each `disconnection` event said the connection ended. */
  disconnections?: string[];
  /** What the SDK's shadow client got back, step by step (`shadow` scenarios). */
  shadow?: {
    desiredVersion?: number;
    delta?: unknown;
    reportedVersion?: number;
    got?: { state?: unknown; version?: number };
    deletedVersion?: number;
    /** The SDK's error for a get after the delete (AWS's 404 document). */
    getAfterDelete?: string;
  };
  /** Anything that went wrong in the device, with the step. */
  error?: string;
}

const DEVICE = 'test/helpers/aws-sdk-device.ts';
const REPORT_PREFIX = 'report ';

/**
 * Runs `scenario` in a child process and resolves with its report. The child is killed if it has not
 * reported within `scenario.timeoutMs` × 6 or has not exited 5 s after reporting (aws-crt joins its
 * threads at exit), and when the test ends.
 */
export async function runSdkDevice(
  t: Cleanup,
  scenario: SdkDeviceScenario,
): Promise<SdkDeviceReport> {
  const child = spawn(process.execPath, ['--import', 'tsx', DEVICE, JSON.stringify(scenario)], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  t.after(kill);
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  // 'close': the process is gone and its stdout read to the end.
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const report = await new Promise<SdkDeviceReport>((resolve, reject) => {
    const timer = setTimeout(() => {
      kill();
      reject(new Error(`SDK device gave no report within ${scenario.timeoutMs * 6} ms: ${stderr}`));
    }, scenario.timeoutMs * 6);
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      if (!line.startsWith(REPORT_PREFIX)) return;
      clearTimeout(timer);
      resolve(JSON.parse(line.slice(REPORT_PREFIX.length)) as SdkDeviceReport);
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`SDK device exited (${child.exitCode ?? child.signalCode}): ${stderr}`));
    });
  });
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([exited, new Promise((resolve) => (timer = setTimeout(resolve, 5_000)))]);
  clearTimeout(timer);
  kill();
  return report;
}
