import { SignatureV4 } from '@smithy/signature-v4';
import { NodeSha256 } from '../../src/iam/sigv4.js';
import { REGION, type AwsCredentials } from './aws-api.js';

/**
 * `/mqtt?X-Amz-…`: the WebSocket path presigned as AWS IoT clients sign it (service
 * `iotdevicegateway`), for the API listener on `port`; a session token is appended after signing,
 * as AWS's clients do.
 */
export async function presignedMqttPath(
  port: number,
  credentials: AwsCredentials,
  options: { signingDate?: Date; expiresIn?: number } = {},
): Promise<string> {
  const signer = new SignatureV4({
    credentials: {
      accessKeyId: credentials.accessKeyId,
      secretAccessKey: credentials.secretAccessKey,
    },
    region: REGION,
    service: 'iotdevicegateway',
    sha256: NodeSha256,
    uriEscapePath: true,
  });
  const signed = await signer.presign(
    {
      method: 'GET',
      protocol: 'https:',
      hostname: '127.0.0.1',
      port,
      path: '/mqtt',
      query: {},
      headers: { host: `127.0.0.1:${port}` },
    },
    { signingDate: options.signingDate ?? new Date(), expiresIn: options.expiresIn ?? 300 },
  );
  const query = Object.entries(signed.query ?? {})
    .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`)
    .join('&');
  const token = credentials.sessionToken
    ? `&X-Amz-Security-Token=${encodeURIComponent(credentials.sessionToken)}`
    : '';
  return `/mqtt?${query}${token}`;
}
