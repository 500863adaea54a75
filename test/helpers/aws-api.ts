// Real AWS clients against a running `bulwark serve`: the JS SDK v3 (`@aws-sdk/client-iot`), the
// AWS CLI v2 (Debian's awscli at /usr/bin/aws), and raw requests signed with @smithy/signature-v4
// (the SDK's own signer) for what the clients will not send: stale dates, tampered bodies,
// presigned URLs.
import { IoTClient } from '@aws-sdk/client-iot';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { SignatureV4 } from '@smithy/signature-v4';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { generateSync } from 'otplib';
import { Agent, request as httpsRequest } from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { NodeSha256 } from '../../src/iam/sigv4.js';
import { ROOT } from './child.js';
import { needCommand } from './services.js';

export const REGION = 'us-east-1';

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  /** Temporary credentials (STS) only. */
  sessionToken?: string;
}

/** Where a test's server is: its API port and its data dir (for the CA and the admin key). */
export interface ApiTarget {
  port: number;
  dataDir: string;
}

/** The administrator's first access key, as `serve`/`init` wrote it on first start. */
export function adminCredentials(dataDir: string): AwsCredentials {
  const file = JSON.parse(readFileSync(join(dataDir, 'admin-credentials.json'), 'utf8')) as {
    AccessKeyId: string;
    SecretAccessKey: string;
  };
  return { accessKeyId: file.AccessKeyId, secretAccessKey: file.SecretAccessKey };
}

export function serverCa(dataDir: string): string {
  return readFileSync(join(dataDir, 'pki', 'server-ca.pem'), 'utf8');
}

/** `@aws-sdk/client-iot` pointed at the server, trusting its CA; no retries, so errors show as they are. */
export function iotClient(
  target: ApiTarget,
  credentials: AwsCredentials = adminCredentials(target.dataDir),
): IoTClient {
  return new IoTClient(sdkClientConfig(target, credentials));
}

/** What every SDK client in the tests is given: the server, its CA, the credentials, no retries. */
export function sdkClientConfig(target: ApiTarget, credentials: AwsCredentials) {
  return {
    endpoint: `https://127.0.0.1:${target.port}`,
    region: REGION,
    credentials,
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({
      httpsAgent: new Agent({ ca: serverCa(target.dataDir) }),
    }),
  };
}

// ---- raw signed requests ----

export interface WireRequest {
  method: string;
  /** Path and query exactly as sent, percent-encoded. */
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
}

export interface WireResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** RFC 3986 encoding, as SigV4 and the SDKs encode query strings. */
function escapeUri(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function splitPath(path: string): { path: string; query: Record<string, string> } {
  const [pathname, search = ''] = path.split('?', 2) as [string, string?];
  const query: Record<string, string> = {};
  for (const [key, value] of new URLSearchParams(search)) query[key] = value;
  return { path: pathname, query };
}

function queryString(query: Record<string, string | string[] | null>): string {
  const pairs = Object.entries(query).flatMap(([key, value]) =>
    (Array.isArray(value) ? value : [value ?? '']).map((v) => `${escapeUri(key)}=${escapeUri(v)}`),
  );
  return pairs.length ? `?${pairs.join('&')}` : '';
}

export interface SigningOptions {
  /** The signing name in the credential scope; `iot` as the JS SDK signs the control plane. */
  service?: string;
  region?: string;
  signingDate?: Date;
  /** Send `x-amz-content-sha256` as the JS SDK does (default), or not, as the AWS CLI v2. */
  contentSha256Header?: boolean;
  /** Presign (query form) for this many seconds instead of signing the Authorization header. */
  presignExpiresIn?: number;
}

/** Signs `request` for the server on `port` as a real AWS client would. */
export async function signRequest(
  port: number,
  request: WireRequest,
  credentials: AwsCredentials,
  options: SigningOptions = {},
): Promise<WireRequest> {
  const signer = new SignatureV4({
    credentials,
    region: options.region ?? REGION,
    service: options.service ?? 'iot',
    sha256: NodeSha256,
    uriEscapePath: true,
    applyChecksum: options.contentSha256Header ?? true,
  });
  const { path, query } = splitPath(request.path);
  const toSign = {
    method: request.method,
    protocol: 'https:',
    hostname: '127.0.0.1',
    port,
    path,
    query,
    headers: { ...request.headers, host: `127.0.0.1:${port}` },
    body: request.body,
  };
  const signingDate = options.signingDate ?? new Date();
  const signed =
    options.presignExpiresIn === undefined
      ? await signer.sign(toSign, { signingDate })
      : await signer.presign(toSign, { signingDate, expiresIn: options.presignExpiresIn });
  return {
    method: request.method,
    path: path + queryString(signed.query ?? {}),
    headers: signed.headers,
    ...(request.body !== undefined ? { body: request.body } : {}),
  };
}

/** Sends a request as given (no signing, no retries) over TLS trusting the server CA. */
export function sendRequest(target: ApiTarget, request: WireRequest): Promise<WireResponse> {
  return new Promise((resolve, reject) => {
    const body = request.body === undefined ? undefined : Buffer.from(request.body);
    const outgoing = httpsRequest(
      {
        host: '127.0.0.1',
        servername: 'localhost',
        port: target.port,
        ca: serverCa(target.dataDir),
        method: request.method,
        path: request.path,
        headers: { ...request.headers, ...(body ? { 'content-length': String(body.length) } : {}) },
      },
      (response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk.toString()));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body: text }),
        );
      },
    );
    // A server that answers before reading a whole (oversized) body may reset the upload; the
    // answer, if it came, is what counts.
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

/** Signs with `credentials` and sends. */
export async function signedRequest(
  target: ApiTarget,
  request: WireRequest,
  credentials: AwsCredentials = adminCredentials(target.dataDir),
  options: SigningOptions = {},
): Promise<WireResponse> {
  return sendRequest(target, await signRequest(target.port, request, credentials, options));
}

// ---- the AWS CLI v2 ----

/** Debian's awscli package installs the v2 CLI here; another `aws` on PATH may be v1. */
export const AWS_CLI = '/usr/bin/aws';

/** True when the AWS CLI v2 is installed; otherwise skips the test (fails under CI). */
export function needAwsCli(t: TestContext): boolean {
  return needCommand(t, AWS_CLI, 'apt-get install awscli');
}

export interface AwsCliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `aws ARGS --endpoint-url https://127.0.0.1:PORT --region us-east-1 --output json` with
 * only the given credentials: no profile, config file or instance metadata of the machine's.
 */
export function runAwsCli(
  target: ApiTarget,
  args: string[],
  options: { home: string; credentials?: AwsCredentials },
): AwsCliResult {
  const credentials = options.credentials ?? adminCredentials(target.dataDir);
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !name.startsWith('AWS_') && !name.startsWith('BULWARK_'),
    ),
  );
  const result = spawnSync(
    AWS_CLI,
    [
      ...args,
      '--endpoint-url',
      `https://127.0.0.1:${target.port}`,
      '--region',
      REGION,
      '--output',
      'json',
    ],
    {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60_000,
      env: {
        ...env,
        HOME: options.home,
        AWS_ACCESS_KEY_ID: credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
        ...(credentials.sessionToken ? { AWS_SESSION_TOKEN: credentials.sessionToken } : {}),
        AWS_CA_BUNDLE: join(target.dataDir, 'pki', 'server-ca.pem'),
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_CONFIG_FILE: join(options.home, 'no-aws-config'),
        AWS_SHARED_CREDENTIALS_FILE: join(options.home, 'no-aws-credentials'),
        AWS_PAGER: '',
      },
    },
  );
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

// ---- the AWS CLI's JSON output, and users made with it ----

// The AWS CLI's output is whatever the service answered: tests read it as loose JSON.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type CliJson = Record<string, any>;

export interface AwsCliJson {
  status: number | null;
  json: CliJson;
  stdout: string;
  stderr: string;
}

/** `aws …` against `target` (as the administrator unless given credentials), its JSON parsed. */
export function awsCliJson(
  target: ApiTarget,
  args: string[],
  options: { home: string; credentials?: AwsCredentials },
): AwsCliJson {
  const result = runAwsCli(target, args, options);
  let json: CliJson = {};
  try {
    if (result.stdout.trim()) json = JSON.parse(result.stdout) as CliJson;
  } catch {
    json = {};
  }
  return { status: result.status, json, stdout: result.stdout, stderr: result.stderr };
}

/** A new IAM user with `policy` inline and an access key, made with `aws iam` through `ok`. */
export function createUserWithPolicy(
  ok: (args: string[]) => CliJson,
  userName: string,
  policy: object,
): AwsCredentials {
  ok(['iam', 'create-user', '--user-name', userName]);
  ok([
    'iam',
    'put-user-policy',
    '--user-name',
    userName,
    '--policy-name',
    'only-this',
    '--policy-document',
    JSON.stringify(policy),
  ]);
  const key = ok(['iam', 'create-access-key', '--user-name', userName]).AccessKey;
  return { accessKeyId: key.AccessKeyId, secretAccessKey: key.SecretAccessKey };
}

/** TOTP's time step. */
const MFA_STEP_MS = 30_000;

/**
 * A virtual MFA device made and enabled with `aws iam` through `ok` (bound to whoever may do
 * it), its seed written to `seedFile` as an authenticator app would read it. `used` is a code
 * spent enabling it; `next` one not used yet, within the verifier's window of one step.
 */
export function enableVirtualMfaDevice(
  ok: (args: string[]) => CliJson,
  userName: string,
  seedFile: string,
): { serialNumber: string; used: string; next: string } {
  const serialNumber = ok([
    'iam',
    'create-virtual-mfa-device',
    '--virtual-mfa-device-name',
    `${userName}-phone`,
    '--outfile',
    seedFile,
    '--bootstrap-method',
    'Base32StringSeed',
  ]).VirtualMFADevice.SerialNumber as string;
  const seed = readFileSync(seedFile, 'utf8').trim();
  const step = Math.floor(Date.now() / MFA_STEP_MS);
  const code = (at: number) => generateSync({ secret: seed, strategy: 'hotp', counter: at });
  ok([
    'iam',
    'enable-mfa-device',
    '--user-name',
    userName,
    '--serial-number',
    serialNumber,
    '--authentication-code1',
    code(step - 1),
    '--authentication-code2',
    code(step),
  ]);
  return { serialNumber, used: code(step), next: code(step + 1) };
}
