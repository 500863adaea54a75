// The shadow conformance suite: every case of conformance-cases.ts over MQTT (MQTT.js on the
// reserved topics) and over HTTPS (the AWS SDK's iot-data client), against one real server.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { EPHEMERAL_PORTS_WITH_DEV, fileCleanup, startServer } from '../helpers/cli.js';
import { connectClient } from '../helpers/mqtt-clients.js';
import { tempDir } from '../helpers/temp.js';
import { CASES, type ConformanceCase } from './conformance-cases.js';
import {
  dataPlaneClient,
  HttpsFace,
  MqttFace,
  ShadowObserver,
  withTimestampsMarked,
  type ShadowFace,
} from './shadow-faces.js';

const files = fileCleanup();
const dataDir = join(tempDir(files, 'bulwark-shadow-'), 'data');
const faces: Record<'mqtt' | 'https', ShadowFace> = {} as Record<'mqtt' | 'https', ShadowFace>;

before(async () => {
  const server = await startServer(files, ['--data-dir', dataDir, ...EPHEMERAL_PORTS_WITH_DEV]);
  const devPort = server.ready.dev as number;
  const observer = await ShadowObserver.start(
    await connectClient(files, devPort, { clientId: 'observer', protocolVersion: 5 }),
  );
  const publisher = await connectClient(files, devPort, { clientId: 'device' });
  faces.mqtt = new MqttFace(publisher, observer);
  faces.https = new HttpsFace(dataPlaneClient({ port: server.ready.api, dataDir }), observer);
});

assert.ok(CASES.length >= 60, `at least 60 conformance cases (${CASES.length})`);

async function run(conformanceCase: ConformanceCase, face: ShadowFace, thingName: string) {
  const startedAt = Date.now();
  for (const [index, step] of conformanceCase.steps.entries()) {
    const where = `step ${index + 1} (${step.operation})`;
    const outcome = await face.send({
      thingName,
      operation: step.operation,
      ...(step.shadowName !== undefined ? { shadowName: step.shadowName } : {}),
      ...(step.payload !== undefined ? { payload: step.payload } : {}),
    });
    if (step.rejected) {
      assert.ok(outcome.rejected, `${where}: rejected, not ${JSON.stringify(outcome.accepted)}`);
      const message = step.rejected.message.replace('{thing}', thingName);
      if (face.name === 'mqtt')
        assert.deepEqual(
          withTimestampsMarked(outcome.rejected, startedAt),
          {
            code: step.rejected.code,
            message,
            timestamp: 'T',
            ...(step.rejected.clientToken !== undefined
              ? { clientToken: step.rejected.clientToken }
              : {}),
          },
          where,
        );
      else assert.deepEqual(outcome.rejected, { code: step.rejected.code, message }, where);
      continue;
    }
    assert.ok(outcome.accepted, `${where}: accepted, not ${JSON.stringify(outcome.rejected)}`);
    if (step.accepted !== undefined)
      assert.deepEqual(withTimestampsMarked(outcome.accepted, startedAt), step.accepted, where);
    if (step.delta !== undefined)
      assert.deepEqual(
        withTimestampsMarked(outcome.delta, startedAt),
        step.delta,
        `${where}: delta`,
      );
    if (step.documents !== undefined)
      assert.deepEqual(
        withTimestampsMarked(outcome.documents, startedAt),
        step.documents,
        `${where}: documents`,
      );
  }
}

for (const faceName of ['mqtt', 'https'] as const) {
  describe(`shadow conformance over ${faceName}`, () => {
    for (const [index, conformanceCase] of CASES.entries()) {
      if (conformanceCase.only && conformanceCase.only !== faceName) continue;
      test(conformanceCase.name, () =>
        run(conformanceCase, faces[faceName], `case${index}-${faceName}`),
      );
    }
  });
}
