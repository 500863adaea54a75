import { IotArns } from '../api/iot-arns.js';
import type { Operation, OperationRequest, OperationResult } from '../api/operation.js';
import { BulwarkError } from '../errors.js';
import { epochSeconds, parseTokenOnlyRequest, parseUpdateRequest } from './document.js';
import { decodeToken, encodeToken } from '../api/validation.js';
import { asApiError, ShadowError } from './errors.js';
import { shadowIdOf, type ShadowId } from './names.js';
import type { ShadowService } from './service.js';

const MAX_PAGE_SIZE = 100;
const DEFAULT_PAGE_SIZE = 25;
const LIST = 'ListNamedShadowsForThing';

function queryString(request: OperationRequest, name: string): string | undefined {
  const value = request.query[name];
  if (Array.isArray(value))
    throw new BulwarkError('InvalidRequest', `The query parameter ${name} may appear only once.`);
  return value;
}

function shadowOf(request: OperationRequest): ShadowId {
  return shadowIdOf(request.params.thingName ?? '', queryString(request, 'name'));
}

function json(document: object): OperationResult {
  return {
    body: Buffer.from(JSON.stringify(document), 'utf8'),
    headers: { 'content-type': 'application/json' },
  };
}

/** Shadow errors in iot-data's HTTPS form; anything else unexpected is a logged 500. */
async function answering(
  service: ShadowService,
  request: OperationRequest,
  work: () => Promise<OperationResult>,
): Promise<OperationResult> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof ShadowError) throw asApiError(error);
    if (error instanceof BulwarkError) throw error;
    throw asApiError(
      service.internalError(error, {
        thingName: request.params.thingName ?? '',
      }),
    );
  }
}

/**
 * The shadow service's HTTPS face (aws-iot-behaviour §5.5), on the data plane (`iotdata`):
 * GetThingShadow, UpdateThingShadow, DeleteThingShadow and ListNamedShadowsForThing. Updates
 * and deletes reach MQTT subscribers as MQTT requests do; errors go to the caller only.
 */
export function shadowOperations(service: ShadowService): Operation[] {
  const shadowArn = (request: OperationRequest): string =>
    new IotArns(request.context.region, request.context.accountId).shadow(
      request.params.thingName ?? '',
      queryString(request, 'name'),
    );
  const dataOperation = (
    spec: Pick<Operation, 'name' | 'method' | 'path' | 'readOnly'> & {
      handle(request: OperationRequest): Promise<OperationResult>;
    },
  ): Operation => ({
    name: spec.name,
    action: `iot:${spec.name}`,
    method: spec.method,
    path: spec.path,
    plane: 'data',
    readOnly: spec.readOnly,
    body: 'raw',
    resource: shadowArn,
    handle: (request) => answering(service, request, () => spec.handle(request)),
  });
  return [
    dataOperation({
      name: 'GetThingShadow',
      method: 'GET',
      path: '/things/:thingName/shadow',
      readOnly: true,
      handle: async (request) => json(await service.get(shadowOf(request))),
    }),
    dataOperation({
      name: 'UpdateThingShadow',
      method: 'POST',
      path: '/things/:thingName/shadow',
      readOnly: false,
      handle: async (request) => {
        const id = shadowOf(request);
        return json(
          await service.update(id, parseUpdateRequest(request.body as Buffer, service.limits)),
        );
      },
    }),
    dataOperation({
      name: 'DeleteThingShadow',
      method: 'DELETE',
      path: '/things/:thingName/shadow',
      readOnly: false,
      handle: async (request) => {
        const id = shadowOf(request);
        const { clientToken } = parseTokenOnlyRequest(request.body as Buffer);
        return json(await service.delete(id, clientToken));
      },
    }),
    dataOperation({
      name: 'ListNamedShadowsForThing',
      method: 'GET',
      path: '/api/things/shadow/ListNamedShadowsForThing/:thingName',
      readOnly: true,
      handle: async (request) => {
        const { thingName } = shadowIdOf(request.params.thingName ?? '', undefined);
        const pageSize = pageSizeOf(queryString(request, 'pageSize'));
        const after = decodeToken(queryString(request, 'nextToken'), LIST);
        const page = await service.listNamed(thingName, pageSize, after);
        const last = page.names[page.names.length - 1];
        return json({
          results: page.names,
          ...(page.more && last !== undefined ? { nextToken: encodeToken(LIST, last) } : {}),
          timestamp: epochSeconds(Date.now()),
        });
      },
    }),
  ];
}

function pageSizeOf(value: string | undefined): number {
  if (value === undefined) return DEFAULT_PAGE_SIZE;
  const size = Number(value);
  if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE)
    throw new ShadowError(400, `pageSize must be an integer from 1 to ${MAX_PAGE_SIZE}`);
  return size;
}
