/**
 * A `bulwark serve` process for the API benchmarks (audit, shadows, guard fields): started from
 * a build on free ports, logging at WARN, with none of this shell's BULWARK_* settings; and the
 * AWS SDK client options that act as its data dir's administrator.
 */
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { join } from 'node:path';
import { readLinesUntil } from '../test/helpers/child.js';
import { cleanEnv, CLI } from '../test/helpers/cli.js';

export interface ServeProcess {
  child: ChildProcess;
  dataDir: string;
  api: number;
  /** The dev listener's port, when `--dev-port` was asked for. */
  dev?: number;
}

export async function startServe(options: {
  dataDir: string;
  /** The CLI to run: this build by default, or another's (a baseline). */
  cli?: string;
  /** More `serve` flags (`--config`, `--dev-port 0`). */
  args?: string[];
  env?: Record<string, string>;
}): Promise<ServeProcess> {
  const child = spawn(
    process.execPath,
    [
      options.cli ?? CLI,
      'serve',
      '--data-dir',
      options.dataDir,
      '--api-port',
      '0',
      '--mqtt-port',
      '0',
      ...(options.args ?? []),
    ],
    {
      env: cleanEnv({ BULWARK_LOG_LEVEL: 'WARN', ...options.env }),
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const lines = await readLinesUntil(child, (line) => line.startsWith('{"ready"'));
  const { ready } = JSON.parse(lines[lines.length - 1] as string) as {
    ready: { api: number; dev?: number };
  };
  return { child, dataDir: options.dataDir, ...ready };
}

export function stopServe(server: ServeProcess): Promise<void> {
  return new Promise((resolve) => {
    server.child.once('exit', () => resolve());
    server.child.kill('SIGTERM');
  });
}

/**
 * Options for an AWS SDK v3 client (IoTClient, IoTDataPlaneClient) of this server: signed with
 * the administrator's access key, trusting the server CA, keeping `maxSockets` connections alive,
 * and never retrying (a failed call must show, not be hidden in a slower figure).
 */
export function adminClientOptions(server: ServeProcess, maxSockets: number) {
  const credentials = JSON.parse(
    readFileSync(join(server.dataDir, 'admin-credentials.json'), 'utf8'),
  ) as { AccessKeyId: string; SecretAccessKey: string };
  return {
    region: 'us-east-1',
    endpoint: `https://127.0.0.1:${server.api}`,
    credentials: {
      accessKeyId: credentials.AccessKeyId,
      secretAccessKey: credentials.SecretAccessKey,
    },
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({
      httpsAgent: new Agent({
        keepAlive: true,
        maxSockets,
        ca: readFileSync(join(server.dataDir, 'pki', 'server-ca.pem'), 'utf8'),
      }),
    }),
  };
}
