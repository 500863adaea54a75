// The HTTPS control plane driven by real AWS clients: the JS SDK v3, the AWS CLI v2, and raw
// requests signed by the SDK's own signer for what clients will not send on their own.
import {
  CreateThingCommand,
  DescribeEncryptionConfigurationCommand,
  DescribeEndpointCommand,
  ServiceUnavailableException,
  UpdateEncryptionConfigurationCommand,
} from '@aws-sdk/client-iot';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  adminCredentials,
  iotClient,
  needAwsCli,
  runAwsCli,
  sendRequest,
  signedRequest,
  signRequest,
  type ApiTarget,
  type AwsCredentials,
  type WireResponse,
} from '../helpers/aws-api.js';
import {
  EPHEMERAL_PORTS,
  fileCleanup,
  holdDatabaseWriteLock,
  runCli,
  startServer,
} from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

const files = fileCleanup();
const HOST_NAME = 'iot.bulwark.test';
const ACCOUNT_ID = '123456789012';
const dataDir = join(tempDir(files), 'data');
const server = await startServer(files, ['--data-dir', dataDir, ...EPHEMERAL_PORTS], {
  env: { BULWARK_HOST_NAMES: HOST_NAME, BULWARK_ACCOUNT_ID: ACCOUNT_ID },
});
const target: ApiTarget = { port: server.ready.api, dataDir };
const admin = adminCredentials(dataDir);
const SIGNATURE_MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

function assertAwsError(response: WireResponse, status: number, type: string, message?: RegExp) {
  assert.equal(response.status, status, response.body);
  assert.equal(response.headers['x-amzn-errortype'], type);
  assert.match(String(response.headers['x-amzn-requestid']), /^[0-9a-f-]{36}$/);
  assert.match(String(response.headers['content-type']), /^application\/json/);
  const body = JSON.parse(response.body) as { message: string };
  if (message) assert.match(body.message, message);
}

async function sdkError(promise: Promise<unknown>) {
  try {
    await promise;
  } catch (error) {
    return error as Error & { $metadata: { httpStatusCode?: number; requestId?: string } };
  }
  assert.fail('the call succeeded');
}

/** The raw description, with Bulwark's `dataMove` progress that the SDK does not model. */
const describeEncryption = async (credentials: AwsCredentials = admin) =>
  JSON.parse(
    (
      await signedRequest(
        target,
        { method: 'GET', path: '/encryption-configuration', headers: {} },
        credentials,
      )
    ).body,
  );

test('AWS SDK v3: DescribeEndpoint gives the configured host name; retired types are refused', async () => {
  const client = iotClient(target);
  const ats = await client.send(new DescribeEndpointCommand({ endpointType: 'iot:Data-ATS' }));
  assert.equal(ats.endpointAddress, HOST_NAME);
  assert.match(ats.$metadata.requestId ?? '', /^[0-9a-f-]{36}$/);
  assert.equal((await client.send(new DescribeEndpointCommand({}))).endpointAddress, HOST_NAME);
  for (const retired of ['iot:Data', 'iot:Jobs']) {
    const error = await sdkError(
      client.send(new DescribeEndpointCommand({ endpointType: retired })),
    );
    assert.equal(error.name, 'InvalidRequestException');
    assert.equal(error.$metadata.httpStatusCode, 400);
    assert.match(error.message, new RegExp(`${retired} is no longer supported`));
  }
});

test('AWS CLI v2: describe-endpoint signs as execute-api without a payload hash header and is accepted', async (t) => {
  if (!needAwsCli(t)) return;
  const home = tempDir(t);
  const ats = runAwsCli(target, ['iot', 'describe-endpoint', '--endpoint-type', 'iot:Data-ATS'], {
    home,
  });
  assert.equal(ats.status, 0, ats.stderr);
  assert.deepEqual(JSON.parse(ats.stdout), { endpointAddress: HOST_NAME });
  const debug = runAwsCli(target, ['iot', 'describe-endpoint', '--debug'], { home });
  assert.equal(debug.status, 0, debug.stderr);
  assert.match(debug.stderr, /\/us-east-1\/execute-api\/aws4_request/);
  assert.doesNotMatch(debug.stderr, /x-amz-content-sha256/i);
  const retired = runAwsCli(target, ['iot', 'describe-endpoint', '--endpoint-type', 'iot:Data'], {
    home,
  });
  assert.notEqual(retired.status, 0);
  assert.match(retired.stderr, /\(InvalidRequestException\).*iot:Data is no longer supported/);
  const wrongSecret = runAwsCli(target, ['iot', 'describe-endpoint'], {
    home,
    credentials: { ...admin, secretAccessKey: 'x'.repeat(40) },
  });
  assert.notEqual(wrongSecret.status, 0);
  assert.match(wrongSecret.stderr, /\(InvalidSignatureException\)/);
});

test('a request signed with a wrong secret, an unknown key or no signature is refused in AWS form', async () => {
  const wrongSecret = await sdkError(
    iotClient(target, { ...admin, secretAccessKey: 'x'.repeat(40) }).send(
      new DescribeEndpointCommand({}),
    ),
  );
  assert.equal(wrongSecret.name, 'InvalidSignatureException');
  assert.equal(wrongSecret.$metadata.httpStatusCode, 403);
  assert.equal(wrongSecret.message, SIGNATURE_MISMATCH);

  const unknownKey = await sdkError(
    iotClient(target, {
      accessKeyId: 'AKIAAAAAAAAAAAAAAAAA',
      secretAccessKey: admin.secretAccessKey,
    }).send(new DescribeEndpointCommand({})),
  );
  assert.equal(unknownKey.name, 'UnrecognizedClientException');
  assert.equal(unknownKey.$metadata.httpStatusCode, 403);
  assert.equal(unknownKey.message, 'The security token included in the request is invalid.');

  assertAwsError(
    await sendRequest(target, { method: 'GET', path: '/endpoint', headers: {} }),
    403,
    'MissingAuthenticationTokenException',
    /^Missing Authentication Token$/,
  );
  // A session token belongs to temporary (ASIA…) credentials: with a long-term key it is refused.
  assertAwsError(
    await signedRequest(target, {
      method: 'GET',
      path: '/endpoint',
      headers: { 'x-amz-security-token': 'FwoGZXIvYXdzEXAMPLE' },
    }),
    403,
    'UnrecognizedClientException',
  );
});

test('the credential scope must name the configured region and a control-plane signing name', async () => {
  const request = { method: 'GET', path: '/endpoint', headers: {} };
  assertAwsError(
    await signedRequest(target, request, admin, { region: 'eu-west-1' }),
    403,
    'InvalidSignatureException',
    /scoped to a valid region, not 'eu-west-1'/,
  );
  for (const service of ['iotdata', 's3'])
    assertAwsError(
      await signedRequest(target, request, admin, { service }),
      403,
      'InvalidSignatureException',
      /scoped to correct service: 'iot' or 'execute-api'/,
    );
  for (const service of ['iot', 'execute-api'])
    assert.equal((await signedRequest(target, request, admin, { service })).status, 200);
  // As the CLI v2 signs: no x-amz-content-sha256; the server hashes the body itself.
  assert.equal(
    (await signedRequest(target, request, admin, { contentSha256Header: false })).status,
    200,
  );
});

test('a stale or future date is refused as RequestExpired with AWS wording', async () => {
  const tenMinutes = 10 * 60 * 1000;
  assertAwsError(
    await signedRequest(target, { method: 'GET', path: '/endpoint', headers: {} }, admin, {
      signingDate: new Date(Date.now() - tenMinutes),
    }),
    403,
    'RequestExpired',
    /^Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 5 min\.\)$/,
  );
  assertAwsError(
    await signedRequest(target, { method: 'GET', path: '/endpoint', headers: {} }, admin, {
      signingDate: new Date(Date.now() + tenMinutes),
    }),
    403,
    'RequestExpired',
    /^Signature not yet current: /,
  );
});

test('presigned URLs: valid within X-Amz-Expires, refused after it', async () => {
  const request = { method: 'GET', path: '/endpoint?endpointType=iot%3AData-ATS', headers: {} };
  const valid = await signedRequest(target, request, admin, { presignExpiresIn: 60 });
  assert.equal(valid.status, 200, valid.body);
  assert.deepEqual(JSON.parse(valid.body), { endpointAddress: HOST_NAME });

  const presigned = await signRequest(target.port, request, admin, {
    presignExpiresIn: 60,
    signingDate: new Date(Date.now() - 2 * 60 * 1000),
  });
  assert.match(presigned.path, /X-Amz-Signature=[0-9a-f]{64}/);
  assertAwsError(
    await sendRequest(target, presigned),
    403,
    'RequestExpired',
    /^Signature expired: .* \(\d{8}T\d{6}Z \+ 60 sec\.\)$/,
  );
  // Changing a signed query parameter breaks the signature.
  const fresh = await signRequest(target.port, request, admin, { presignExpiresIn: 60 });
  assertAwsError(
    await sendRequest(target, { ...fresh, path: fresh.path.replace('Data-ATS', 'Data') }),
    403,
    'InvalidSignatureException',
  );
});

test('a tampered body, bad signatures and bad input change no state', async (t) => {
  const created = runCli(['kms', 'create-key', '--data-dir', dataDir]);
  assert.equal(created.status, 0, created.stderr);
  const keyId = JSON.parse(created.stdout).KeyMetadata.KeyId as string;
  const keyArn = `arn:aws:kms:us-east-1:${ACCOUNT_ID}:key/${keyId}`;
  const update = {
    method: 'PATCH',
    path: '/encryption-configuration',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ encryptionType: 'CUSTOMER_MANAGED_KMS_KEY', kmsKeyArn: keyArn }),
  };
  const before = await describeEncryption();
  assert.equal(before.encryptionType, 'AWS_OWNED_KMS_KEY');

  await t.test('signed body swapped for another', async () => {
    const signed = await signRequest(target.port, { ...update, body: '{}' }, admin);
    assertAwsError(
      await sendRequest(target, { ...signed, body: update.body }),
      403,
      'InvalidSignatureException',
      /x-amz-content-sha256/,
    );
    // Without the payload hash header (as the CLI v2 signs) the server hashes the body itself.
    const cliStyle = await signRequest(target.port, { ...update, body: '{}' }, admin, {
      contentSha256Header: false,
    });
    assertAwsError(
      await sendRequest(target, { ...cliStyle, body: update.body }),
      403,
      'InvalidSignatureException',
      new RegExp(SIGNATURE_MISMATCH.slice(0, 40)),
    );
  });
  await t.test('wrong secret, unknown key, stale date, no signature', async () => {
    for (const [credentials, options] of [
      [{ ...admin, secretAccessKey: 'y'.repeat(40) }, {}],
      [{ ...admin, accessKeyId: 'AKIAZZZZZZZZZZZZZZZZ' }, {}],
      [admin, { signingDate: new Date(Date.now() - 10 * 60 * 1000) }],
    ] as const) {
      const response = await signedRequest(target, update, credentials, options);
      assert.equal(response.status, 403, response.body);
    }
    assert.equal((await sendRequest(target, update)).status, 403);
  });
  await t.test('malformed JSON, a non-object body, oversized body, bad values', async () => {
    for (const [body, message] of [
      ['{"encryptionType": ', /^The request body is not valid JSON: /],
      ['["CUSTOMER_MANAGED_KMS_KEY"]', /^The request body must be a JSON object\.$/],
      [Buffer.from([0x7b, 0xff, 0x7d]), /not valid UTF-8/],
      ['{"__proto__": {"encryptionType": "CUSTOMER_MANAGED_KMS_KEY"}}', /not valid JSON/],
      [
        '{"encryptionType": "PLAINTEXT"}',
        /^encryptionType must be one of AWS_OWNED_KMS_KEY, CUSTOMER_MANAGED_KMS_KEY/,
      ],
      ['{"encryptionType": "CUSTOMER_MANAGED_KMS_KEY"}', /kmsKeyArn is required/],
      [
        JSON.stringify({
          encryptionType: 'CUSTOMER_MANAGED_KMS_KEY',
          kmsKeyArn: keyArn.replace(ACCOUNT_ID, '000000000000'),
        }),
        /kmsKeyArn must name a key of this server's KMS/,
      ],
      [
        JSON.stringify({
          encryptionType: 'CUSTOMER_MANAGED_KMS_KEY',
          kmsKeyArn: `arn:aws:kms:us-east-1:${ACCOUNT_ID}:key/bulwark/service`,
        }),
        /is not a customer managed key/,
      ],
      [
        JSON.stringify({
          encryptionType: 'CUSTOMER_MANAGED_KMS_KEY',
          kmsKeyArn: `arn:aws:kms:us-east-1:${ACCOUNT_ID}:key/no-such-key`,
        }),
        /does not exist/,
      ],
    ] as const) {
      assertAwsError(
        await signedRequest(target, { ...update, body }),
        400,
        'InvalidRequestException',
        message,
      );
    }
    const oversized = await signedRequest(target, {
      ...update,
      body: JSON.stringify({ encryptionType: 'x'.repeat(1024 * 1024) }),
    });
    assertAwsError(oversized, 413, 'RequestEntityTooLargeException', /larger than the limit/);
  });
  const after = await describeEncryption();
  assert.equal(after.encryptionType, 'AWS_OWNED_KMS_KEY');
  assert.equal(after.kmsKeyArn, undefined);
  assert.equal(after.lastModifiedDate, before.lastModifiedDate);
});

test('unknown routes get AWS-form errors, not the HTTP framework default', async () => {
  assertAwsError(
    await signedRequest(target, { method: 'GET', path: '/no-such-operation', headers: {} }),
    404,
    'UnknownOperationException',
    /GET \/no-such-operation/,
  );
  assertAwsError(
    await signedRequest(target, { method: 'DELETE', path: '/endpoint', headers: {} }),
    404,
    'UnknownOperationException',
  );
});

test('/metrics needs a signature and counts requests by operation and status', async () => {
  assertAwsError(
    await sendRequest(target, { method: 'GET', path: '/metrics', headers: {} }),
    403,
    'MissingAuthenticationTokenException',
  );
  await iotClient(target).send(new DescribeEndpointCommand({}));
  const metrics = await signedRequest(target, { method: 'GET', path: '/metrics', headers: {} });
  assert.equal(metrics.status, 200);
  assert.match(String(metrics.headers['content-type']), /^text\/plain/);
  assert.match(
    metrics.body,
    /^bulwark_api_requests_total\{operation="DescribeEndpoint",status="200"\} [1-9]\d*$/m,
  );
  assert.match(
    metrics.body,
    /^bulwark_api_requests_total\{operation="DescribeEndpoint",status="403"\} [1-9]\d*$/m,
  );
  assert.match(
    metrics.body,
    /^bulwark_api_requests_total\{operation="UnknownOperation",status="404"\} [1-9]\d*$/m,
  );
  assert.match(metrics.body, /^bulwark_process_cpu_seconds_total /m);
});

test('api.metricsOpenOnLoopback serves /metrics unsigned to a loopback client', async (t) => {
  const openDir = join(tempDir(t), 'data');
  const open = await startServer(t, ['--data-dir', openDir, ...EPHEMERAL_PORTS], {
    env: { BULWARK_API_METRICS_OPEN_ON_LOOPBACK: 'true' },
  });
  const metrics = await sendRequest(
    { port: open.ready.api, dataDir: openDir },
    { method: 'GET', path: '/metrics', headers: {} },
  );
  assert.equal(metrics.status, 200, metrics.body);
  assert.match(metrics.body, /^# TYPE bulwark_api_requests_total counter$/m);
  // Only /metrics opens: every operation still needs a signature.
  assertAwsError(
    await sendRequest(
      { port: open.ready.api, dataDir: openDir },
      { method: 'GET', path: '/endpoint', headers: {} },
    ),
    403,
    'MissingAuthenticationTokenException',
  );
});

test('AWS SDK v3: encryption configuration switches to a customer key, moves the data, and reports keys it cannot use', async () => {
  const client = iotClient(target);
  const kms = (...args: string[]) => {
    const result = runCli(['kms', ...args, '--data-dir', dataDir]);
    assert.equal(result.status, 0, `kms ${args.join(' ')}: ${result.stderr}`);
    return result.stdout ? JSON.parse(result.stdout) : undefined;
  };
  const keyId = kms('create-key', '--description', 'fleet data').KeyMetadata.KeyId as string;
  const keyArn = `arn:aws:kms:us-east-1:${ACCOUNT_ID}:key/${keyId}`;
  const roleArn = `arn:aws:iam::${ACCOUNT_ID}:role/bulwark-kms-access`;
  const waitForMove = async (credentials: AwsCredentials = admin) => {
    for (let i = 0; i < 200; i++) {
      const description = await describeEncryption(credentials);
      if (description.dataMove?.status !== 'IN_PROGRESS') return description;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.fail('the data move did not finish');
  };

  await client.send(
    new UpdateEncryptionConfigurationCommand({
      encryptionType: 'CUSTOMER_MANAGED_KMS_KEY',
      kmsKeyArn: keyArn,
      kmsAccessRoleArn: roleArn,
    }),
  );
  const moved = await waitForMove();
  assert.equal(moved.dataMove.status, 'COMPLETE');
  assert.ok(moved.dataMove.valuesMoved > 0, JSON.stringify(moved.dataMove));
  assert.equal(moved.dataMove.valuesRemaining, 0);
  const described = await client.send(new DescribeEncryptionConfigurationCommand({}));
  assert.equal(described.encryptionType, 'CUSTOMER_MANAGED_KMS_KEY');
  assert.equal(described.kmsKeyArn, keyArn);
  assert.equal(described.kmsAccessRoleArn, roleArn);
  assert.deepEqual(described.configurationDetails, { configurationStatus: 'HEALTHY' });
  assert.ok(described.lastModifiedDate instanceof Date);
  assert.ok(Math.abs(described.lastModifiedDate.getTime() - Date.now()) < 60_000);
  // The configured key is in use: KMS refuses to disable the default key.
  const disable = runCli(['kms', 'disable-key', '--key-id', keyId, '--data-dir', dataDir]);
  assert.equal(disable.status, 1);
  assert.match(disable.stderr, /is the default key/);

  // The operator moves the default back by hand and disables the customer key before the data
  // under it has moved: the data stays readable only through a key of its own.
  kms('set-default-key', '--key-id', 'bulwark/service');
  const spare = runCli([
    'iam',
    'create-access-key',
    '--user',
    'admin',
    '--json',
    '--data-dir',
    dataDir,
  ]);
  assert.equal(spare.status, 0, spare.stderr);
  const spareKey = JSON.parse(spare.stdout) as { AccessKeyId: string; SecretAccessKey: string };
  const spareCredentials = {
    accessKeyId: spareKey.AccessKeyId,
    secretAccessKey: spareKey.SecretAccessKey,
  };
  const spareClient = iotClient(target, spareCredentials);
  kms('disable-key', '--key-id', keyId);
  await spareClient.send(
    new UpdateEncryptionConfigurationCommand({ encryptionType: 'AWS_OWNED_KMS_KEY' }),
  );
  const stranded = await waitForMove(spareCredentials);
  assert.equal(stranded.dataMove.status, 'COMPLETE');
  const strandedDescription = await spareClient.send(
    new DescribeEncryptionConfigurationCommand({}),
  );
  assert.equal(strandedDescription.encryptionType, 'AWS_OWNED_KMS_KEY');
  assert.equal(strandedDescription.kmsKeyArn, undefined);
  assert.equal(strandedDescription.configurationDetails?.configurationStatus, 'UNHEALTHY');
  assert.equal(strandedDescription.configurationDetails?.errorCode, 'KMS_KEY_VALIDATION_ERROR');
  assert.match(
    strandedDescription.configurationDetails?.errorMessage ?? '',
    new RegExp(`stored values are sealed under the KMS key ${keyArn}, which is Disabled`),
  );
  assert.ok(stranded.dataMove.valuesRemaining > 0, JSON.stringify(stranded.dataMove));
  // The first admin key is sealed under the disabled key: its requests fail, and say nothing of keys.
  const locked = await sdkError(client.send(new DescribeEndpointCommand({})));
  assert.equal(locked.name, 'InternalFailureException');
  assert.equal(locked.$metadata.httpStatusCode, 500);
  assert.doesNotMatch(locked.message, /key|Disabled/i);

  kms('enable-key', '--key-id', keyId);
  await spareClient.send(
    new UpdateEncryptionConfigurationCommand({ encryptionType: 'AWS_OWNED_KMS_KEY' }),
  );
  const healed = await waitForMove(spareCredentials);
  assert.equal(healed.dataMove.valuesRemaining, 0);
  assert.deepEqual(healed.configurationDetails, { configurationStatus: 'HEALTHY' });
  // Everything moved off the customer key, so it can now be disabled without losing data.
  kms('disable-key', '--key-id', keyId);
  assert.equal((await client.send(new DescribeEndpointCommand({}))).endpointAddress, HOST_NAME);
  const deleted = runCli([
    'iam',
    'delete-access-key',
    '--user',
    'admin',
    '--access-key-id',
    spareKey.AccessKeyId,
    '--data-dir',
    dataDir,
  ]);
  assert.equal(deleted.status, 0, deleted.stderr);
});

test('AWS SDK v3: while another process holds the data store past the 10 s wait, a call is answered 503 ServiceUnavailableException; once it lets go, the call works', async () => {
  const client = iotClient(target);
  // Another process's write that outlasts SQLite's busy wait.
  const release = holdDatabaseWriteLock(dataDir);
  let refused: unknown;
  try {
    refused = await client
      .send(new CreateThingCommand({ thingName: 'waited-out' }))
      .catch((e) => e);
  } finally {
    release();
  }
  assert.ok(refused instanceof ServiceUnavailableException, String(refused));
  assert.equal(refused.$metadata.httpStatusCode, 503);
  assert.match(refused.message, /locked by another process.*Retry once/s);
  const created = await client.send(new CreateThingCommand({ thingName: 'waited-out' }));
  assert.equal(created.thingName, 'waited-out');
});
