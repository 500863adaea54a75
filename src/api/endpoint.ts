import { BulwarkError } from '../errors.js';
import type { Operation } from './operation.js';

const DATA_ATS = 'iot:Data-ATS';
/** Types AWS once served and now refuses (aws-iot-behaviour.md §4). */
const RETIRED = new Set(['iot:Data', 'iot:Jobs']);

/**
 * DescribeEndpoint (`GET /endpoint?endpointType=`): where devices connect. Bulwark has one
 * device endpoint, the first of `hostNames` (the names its server certificate carries), else
 * `localhost`; MQTT is on the MQTT port and HTTPS on the API port of that host.
 */
export function endpointOperations(config: { hostNames: string[] }): Operation[] {
  const endpointAddress = config.hostNames[0] ?? 'localhost';
  return [
    {
      name: 'DescribeEndpoint',
      action: 'iot:DescribeEndpoint',
      method: 'GET',
      path: '/endpoint',
      plane: 'control',
      readOnly: true,
      async handle({ query }) {
        const endpointType = query.endpointType ?? DATA_ATS;
        if (endpointType === DATA_ATS) return { body: { endpointAddress } };
        if (typeof endpointType !== 'string')
          throw new BulwarkError('InvalidRequest', 'endpointType may be given only once.');
        if (RETIRED.has(endpointType))
          throw new BulwarkError(
            'InvalidRequest',
            `Endpoint type ${endpointType} is no longer supported; use ${DATA_ATS}.`,
            { endpointType },
          );
        throw new BulwarkError(
          'InvalidRequest',
          `Endpoint type ${JSON.stringify(endpointType.slice(0, 64))} is not offered; this server offers ${DATA_ATS}.`,
          { endpointType: endpointType.slice(0, 64) },
        );
      },
    },
  ];
}
