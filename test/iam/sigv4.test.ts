// SigV4 verification against AWS's published test vectors and requests signed by
// @smithy/signature-v4 (the AWS SDK's own signer), at a fixed clock.
import { SignatureV4 } from '@smithy/signature-v4';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isBulwarkError, type ErrorCode } from '../../src/errors.js';
import {
  NodeSha256,
  verifySigV4,
  type ReceivedRequest,
  type VerifyOptions,
} from '../../src/iam/sigv4.js';

const KEY = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
};
const NOW = Date.parse('2015-08-30T12:36:00Z');
const HOST = 'example.amazonaws.com';

function options(overrides: Partial<VerifyOptions<string>> = {}): VerifyOptions<string> {
  return {
    region: 'us-east-1',
    signingNames: { header: ['service', 'iot'], presigned: ['service', 'iotdevicegateway'] },
    now: () => NOW,
    async resolve(accessKeyId) {
      return accessKeyId === KEY.accessKeyId
        ? { secretAccessKey: KEY.secretAccessKey, principal: 'the example user' }
        : undefined;
    },
    ...overrides,
  };
}

async function rejectsWith(promise: Promise<unknown>, code: ErrorCode, message?: RegExp) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isBulwarkError(error, code), `expected ${code}, got ${String(error)}`);
    if (message) assert.match(error.message, message);
    return true;
  });
}

/** A request as the SDK's signer signs it, turned into what arrives on the wire. */
async function signedBySdk(
  request: {
    method: string;
    path: string;
    query?: Record<string, string | string[]>;
    body?: string;
  },
  signing: { service?: string; presignExpiresIn?: number; headers?: Record<string, string> } = {},
): Promise<ReceivedRequest> {
  const signer = new SignatureV4({
    credentials: KEY,
    region: 'us-east-1',
    service: signing.service ?? 'iot',
    sha256: NodeSha256,
  });
  const toSign = {
    method: request.method,
    protocol: 'https:',
    hostname: HOST,
    path: request.path,
    query: request.query ?? {},
    headers: { host: HOST, ...signing.headers },
    body: request.body,
  };
  const signed =
    signing.presignExpiresIn === undefined
      ? await signer.sign(toSign, { signingDate: new Date(NOW) })
      : await signer.presign(toSign, {
          signingDate: new Date(NOW),
          expiresIn: signing.presignExpiresIn,
        });
  const query = Object.entries(signed.query ?? {})
    .flatMap(([key, value]) =>
      (Array.isArray(value) ? value : [value]).map(
        (v) => `${encodeURIComponent(key)}=${encodeURIComponent(v as string)}`,
      ),
    )
    .join('&');
  return {
    method: request.method,
    rawUrl: request.path + (query ? `?${query}` : ''),
    rawHeaders: Object.entries(signed.headers).flat(),
    body: Buffer.from(request.body ?? ''),
  };
}

test("AWS's SigV4 test suite: get-vanilla and get-vanilla-query-order-key-case verify", async () => {
  const vanilla: ReceivedRequest = {
    method: 'GET',
    rawUrl: '/',
    rawHeaders: [
      'Host',
      HOST,
      'X-Amz-Date',
      '20150830T123600Z',
      'Authorization',
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31',
    ],
    body: Buffer.alloc(0),
  };
  const verified = await verifySigV4(vanilla, options());
  assert.deepEqual(verified, {
    principal: 'the example user',
    accessKeyId: 'AKIDEXAMPLE',
    form: 'header',
    signingName: 'service',
    signingRegion: 'us-east-1',
  });
  const queryOrder: ReceivedRequest = {
    ...vanilla,
    rawUrl: '/?Param2=value2&Param1=value1',
    rawHeaders: [
      ...vanilla.rawHeaders.slice(0, 4),
      'Authorization',
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500',
    ],
  };
  assert.equal((await verifySigV4(queryOrder, options())).form, 'header');
  // One bit of the signature off: refused.
  const flipped = vanilla.rawHeaders.map((value) => value.replace(/31$/, '30'));
  await rejectsWith(
    verifySigV4({ ...vanilla, rawHeaders: flipped }, options()),
    'InvalidSignature',
    /^The request signature we calculated does not match/,
  );
});

test('the canonical URI is the raw path with each segment encoded again', async () => {
  // A thing name with ':' and a topic with '/' arrive percent-encoded; the signer encoded them twice.
  for (const path of ['/things/my%3Athing', '/topics/my%2Ftopic', '/things/caf%C3%A9']) {
    const request = await signedBySdk({ method: 'GET', path });
    assert.equal(request.rawUrl, path);
    assert.equal((await verifySigV4(request, options())).form, 'header', path);
  }
  // The same bytes decoded once no longer verify: the raw path is what was signed.
  const request = await signedBySdk({ method: 'GET', path: '/topics/my%2Ftopic' });
  await rejectsWith(
    verifySigV4({ ...request, rawUrl: '/topics/my/topic' }, options()),
    'InvalidSignature',
  );
});

test('query strings: repeated keys, encoded values and order all verify; a changed value does not', async () => {
  const request = await signedBySdk({
    method: 'GET',
    path: '/things',
    query: { attributeValue: 'a b+c', thingTypeName: 'sensor', tag: ['b', 'a'] },
  });
  assert.equal((await verifySigV4(request, options())).form, 'header');
  await rejectsWith(
    verifySigV4({ ...request, rawUrl: request.rawUrl.replace('sensor', 'sensors') }, options()),
    'InvalidSignature',
  );
});

test('exactly the signed headers count: a changed one fails, an added unsigned one does not', async () => {
  const request = await signedBySdk(
    { method: 'POST', path: '/things/t1', body: '{}' },
    { headers: { 'content-type': 'application/json', 'amz-sdk-request': 'attempt=1; max=3' } },
  );
  assert.equal((await verifySigV4(request, options())).form, 'header');
  const withExtra = {
    ...request,
    rawHeaders: [...request.rawHeaders, 'X-Forwarded-For', '10.0.0.1'],
  };
  assert.equal((await verifySigV4(withExtra, options())).form, 'header');
  const changed = request.rawHeaders.map((value) =>
    value === 'application/json' ? 'text/plain' : value,
  );
  await rejectsWith(
    verifySigV4({ ...request, rawHeaders: changed }, options()),
    'InvalidSignature',
  );
  const tampered = { ...request, body: Buffer.from('{"attributePayload":{}}') };
  await rejectsWith(verifySigV4(tampered, options()), 'InvalidSignature', /x-amz-content-sha256/);
});

test('presigned form: valid within X-Amz-Expires; signing names per form; a session token reaches the lookup', async () => {
  const presigned = await signedBySdk(
    { method: 'GET', path: '/mqtt' },
    { service: 'iotdevicegateway', presignExpiresIn: 300 },
  );
  assert.match(presigned.rawUrl, /X-Amz-Signature=[0-9a-f]{64}/);
  assert.equal((await verifySigV4(presigned, options())).form, 'presigned');
  await rejectsWith(
    verifySigV4(presigned, options({ now: () => NOW + 301_000 })),
    'RequestExpired',
    /^Signature expired: 20150830T124100Z is now earlier than 20150830T124101Z \(20150830T123600Z \+ 300 sec\.\)$/,
  );
  // iotdevicegateway is a presigned (WebSocket) name only.
  const header = await signedBySdk(
    { method: 'GET', path: '/mqtt' },
    { service: 'iotdevicegateway' },
  );
  await rejectsWith(
    verifySigV4(header, options()),
    'InvalidSignature',
    /scoped to correct service/,
  );

  let seenToken: string | undefined;
  const withToken = await signedBySdk(
    { method: 'GET', path: '/mqtt' },
    { service: 'iotdevicegateway', presignExpiresIn: 300 },
  );
  const tokenUrl = `${withToken.rawUrl}&X-Amz-Security-Token=session%2Ftoken`;
  await rejectsWith(
    verifySigV4(
      { ...withToken, rawUrl: tokenUrl },
      options({
        async resolve(_id, token) {
          seenToken = token;
          return undefined;
        },
      }),
    ),
    'UnrecognizedClient',
    /^The security token included in the request is invalid\.$/,
  );
  assert.equal(seenToken, 'session/token');
});

test('malformed signatures are IncompleteSignature, never a crash', async () => {
  const base = await signedBySdk({ method: 'GET', path: '/endpoint' });
  const withAuthorization = (authorization: string): ReceivedRequest => ({
    ...base,
    rawHeaders: [
      ...base.rawHeaders.filter((_, i, all) => all[i - (i % 2)]?.toLowerCase() !== 'authorization'),
      'authorization',
      authorization,
    ],
  });
  await rejectsWith(
    verifySigV4(
      withAuthorization(
        'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iot/aws4_request',
      ),
      options(),
    ),
    'IncompleteSignature',
    /requires 'Signature' parameter\. .* requires 'SignedHeaders' parameter\./,
  );
  await rejectsWith(
    verifySigV4(
      withAuthorization('AWS4-ECDSA-P256-SHA256 Credential=x, SignedHeaders=host, Signature=00'),
      options(),
    ),
    'IncompleteSignature',
    /only AWS4-HMAC-SHA256/,
  );
  await rejectsWith(
    verifySigV4(
      withAuthorization(
        'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iot/aws4_request, SignedHeaders=x-amz-date, Signature=00',
      ),
      options(),
    ),
    'IncompleteSignature',
    /'host' header must be among the SignedHeaders/,
  );
  await rejectsWith(
    verifySigV4(
      withAuthorization(
        'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/2015/iot, SignedHeaders=host;x-amz-date, Signature=00',
      ),
      options(),
    ),
    'IncompleteSignature',
    /Credential should be of the form/,
  );
  await rejectsWith(
    verifySigV4({ ...base, rawUrl: '/endpoint?X-Amz-Signature=00' }, options()),
    'IncompleteSignature',
    /Only one auth mechanism allowed/,
  );
  await rejectsWith(
    verifySigV4(
      {
        ...base,
        rawHeaders: [],
        rawUrl:
          '/endpoint?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fiot%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=604801&X-Amz-SignedHeaders=host&X-Amz-Signature=00',
      },
      options(),
    ),
    'IncompleteSignature',
    /X-Amz-Expires must be a whole number of seconds from 1 to 604800/,
  );
  await rejectsWith(
    verifySigV4({ ...base, rawUrl: '/endpoint?a=%E0%A4%A' }, options()),
    'InvalidRequest',
    /not valid percent-encoding/,
  );
  await rejectsWith(
    verifySigV4({ ...base, rawHeaders: [] }, options()),
    'MissingAuthenticationToken',
    /^Missing Authentication Token$/,
  );
});
