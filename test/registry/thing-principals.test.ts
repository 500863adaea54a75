// Thing principals through the real server with the AWS SDK v3: AttachThingPrincipal,
// DetachThingPrincipal, ListThingPrincipals(V2), ListPrincipalThings(V2), and DeleteThing while
// a principal is attached.
import {
  AttachThingPrincipalCommand,
  CreateKeysAndCertificateCommand,
  CreateThingCommand,
  DeleteThingCommand,
  DetachThingPrincipalCommand,
  ListPrincipalThingsCommand,
  ListPrincipalThingsV2Command,
  ListThingPrincipalsCommand,
  ListThingPrincipalsV2Command,
} from '@aws-sdk/client-iot';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { iotClient, type ApiTarget } from '../helpers/aws-api.js';
import { EPHEMERAL_PORTS, fileCleanup, startServer } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

const files = fileCleanup();
const ACCOUNT_ID = '123456789012';
const dataDir = join(tempDir(files), 'data');
const server = await startServer(files, ['--data-dir', dataDir, ...EPHEMERAL_PORTS], {
  env: { BULWARK_ACCOUNT_ID: ACCOUNT_ID },
});
const target: ApiTarget = { port: server.ready.api, dataDir };
const client = iotClient(target);

type SdkError = Error & { $metadata: { httpStatusCode?: number } };

async function fails(promise: Promise<unknown>, name: string, status: number): Promise<SdkError> {
  try {
    await promise;
  } catch (error) {
    const sdkError = error as SdkError;
    assert.equal(sdkError.name, name, sdkError.message);
    assert.equal(sdkError.$metadata.httpStatusCode, status);
    return sdkError;
  }
  assert.fail(`expected ${name}, the call succeeded`);
}

async function certificateArn(): Promise<string> {
  return (await client.send(new CreateKeysAndCertificateCommand({ setAsActive: true })))
    .certificateArn as string;
}

test('attach, list both ways (paged), detach; DeleteThing is refused while a principal is attached', async () => {
  const principal = await certificateArn();
  for (const name of ['tp-a', 'tp-b', 'tp-c']) {
    await client.send(new CreateThingCommand({ thingName: name }));
    await client.send(new AttachThingPrincipalCommand({ thingName: name, principal }));
  }
  // Attaching twice is no error.
  await client.send(new AttachThingPrincipalCommand({ thingName: 'tp-a', principal }));
  assert.deepEqual(
    (await client.send(new ListThingPrincipalsCommand({ thingName: 'tp-a' }))).principals,
    [principal],
  );
  const first = await client.send(new ListPrincipalThingsCommand({ principal, maxResults: 2 }));
  assert.deepEqual(first.things, ['tp-a', 'tp-b']);
  assert.ok(first.nextToken);
  const second = await client.send(
    new ListPrincipalThingsCommand({ principal, maxResults: 2, nextToken: first.nextToken }),
  );
  assert.deepEqual(second.things, ['tp-c']);
  assert.equal(second.nextToken, undefined);
  const v2 = await client.send(new ListPrincipalThingsV2Command({ principal }));
  assert.deepEqual(
    v2.principalThingObjects?.map((item) => [item.thingName, item.thingPrincipalType]),
    [
      ['tp-a', 'NON_EXCLUSIVE_THING'],
      ['tp-b', 'NON_EXCLUSIVE_THING'],
      ['tp-c', 'NON_EXCLUSIVE_THING'],
    ],
  );

  const refused = await fails(
    client.send(new DeleteThingCommand({ thingName: 'tp-b' })),
    'InvalidRequestException',
    400,
  );
  assert.equal(
    refused.message,
    'Cannot delete. Thing tp-b is still attached to one or more principals',
  );
  await client.send(new DetachThingPrincipalCommand({ thingName: 'tp-b', principal }));
  await client.send(new DeleteThingCommand({ thingName: 'tp-b' }));
  assert.deepEqual((await client.send(new ListPrincipalThingsCommand({ principal }))).things, [
    'tp-a',
    'tp-c',
  ]);
});

test('EXCLUSIVE_THING: the principal may be attached to that thing only', async () => {
  const principal = await certificateArn();
  await client.send(new CreateThingCommand({ thingName: 'exclusive-1' }));
  await client.send(new CreateThingCommand({ thingName: 'exclusive-2' }));
  await client.send(
    new AttachThingPrincipalCommand({
      thingName: 'exclusive-1',
      principal,
      thingPrincipalType: 'EXCLUSIVE_THING',
    }),
  );
  await fails(
    client.send(new AttachThingPrincipalCommand({ thingName: 'exclusive-2', principal })),
    'InvalidRequestException',
    400,
  );
  const listed = await client.send(new ListThingPrincipalsV2Command({ thingName: 'exclusive-1' }));
  assert.deepEqual(listed.thingPrincipalObjects, [
    { principal, thingPrincipalType: 'EXCLUSIVE_THING' },
  ]);
  const filtered = await client.send(
    new ListThingPrincipalsV2Command({
      thingName: 'exclusive-1',
      thingPrincipalType: 'NON_EXCLUSIVE_THING',
    }),
  );
  assert.deepEqual(filtered.thingPrincipalObjects, []);
});

test("errors in AWS's form: unknown thing, unknown certificate, a principal that is not a certificate ARN", async () => {
  const principal = await certificateArn();
  await fails(
    client.send(new AttachThingPrincipalCommand({ thingName: 'no-such-thing', principal })),
    'ResourceNotFoundException',
    404,
  );
  await fails(
    client.send(new ListThingPrincipalsCommand({ thingName: 'no-such-thing' })),
    'ResourceNotFoundException',
    404,
  );
  await client.send(new CreateThingCommand({ thingName: 'errors-thing' }));
  await fails(
    client.send(
      new AttachThingPrincipalCommand({
        thingName: 'errors-thing',
        principal: `arn:aws:iot:us-east-1:${ACCOUNT_ID}:cert/${'0'.repeat(64)}`,
      }),
    ),
    'ResourceNotFoundException',
    404,
  );
  await fails(
    client.send(
      new AttachThingPrincipalCommand({
        thingName: 'errors-thing',
        principal: 'us-east-1:cognito-id',
      }),
    ),
    'InvalidRequestException',
    400,
  );
  await fails(
    client.send(
      new AttachThingPrincipalCommand({
        thingName: 'errors-thing',
        principal,
        thingPrincipalType: 'SOMETIMES' as never,
      }),
    ),
    'InvalidRequestException',
    400,
  );
});
