import type { StringRule } from '../../api/validation.js';
import { queryField } from '../../guard/field-guard.js';
import { IamArns } from '../arns.js';
import type { AssignmentStatus, VirtualMfaDevices } from '../mfa.js';
import type { QueryAction, QueryParams } from './action.js';
import {
  enumParam,
  MFA_SERIAL_NUMBER,
  MFA_TOKEN_CODE,
  pageParams,
  refuseUnsupported,
  requiredParam,
  USER_NAME,
} from './params.js';
import { listShape, userShape } from './shapes.js';
import { userNameOrCaller } from './user-actions.js';

const DEVICE_NAME: StringRule = { min: 1, max: 226, pattern: '[\\w+=,.@-]+' };
const ASSIGNMENT_STATUSES: readonly AssignmentStatus[] = ['Assigned', 'Unassigned', 'Any'];

const userName = (params: QueryParams) => requiredParam(params, 'UserName', USER_NAME);
const serialNumber = (params: QueryParams) =>
  requiredParam(params, 'SerialNumber', MFA_SERIAL_NUMBER);
const codes = (params: QueryParams): [string, string] => [
  requiredParam(params, 'AuthenticationCode1', MFA_TOKEN_CODE),
  requiredParam(params, 'AuthenticationCode2', MFA_TOKEN_CODE),
];
const deviceName = (params: QueryParams) =>
  requiredParam(params, 'VirtualMFADeviceName', DEVICE_NAME);

/**
 * CreateVirtualMFADevice, EnableMFADevice, ResyncMFADevice, DeactivateMFADevice,
 * DeleteVirtualMFADevice, ListMFADevices and ListVirtualMFADevices, served by `devices`.
 */
export function mfaActions(devices: VirtualMfaDevices): QueryAction[] {
  return [
    {
      service: 'iam',
      name: 'CreateVirtualMFADevice',
      readOnly: false,
      freeFormFields: (params) => queryField(params, 'VirtualMFADeviceName', 'names'),
      resource: (params, context) => `arn:aws:iam::${context.accountId}:mfa/${deviceName(params)}`,
      async handle(params) {
        refuseUnsupported(params, ['Tags']);
        const device = await devices.createVirtualMfaDevice(deviceName(params));
        return {
          VirtualMFADevice: {
            SerialNumber: device.serialNumber,
            // A blob in the API model, so base64 on the wire; clients decode it to the Base32
            // text. No QRCodePNG: no PNG encoder is among Bulwark's dependencies.
            Base32StringSeed: Buffer.from(device.base32StringSeed, 'ascii').toString('base64'),
          },
        };
      },
    },
    {
      service: 'iam',
      name: 'EnableMFADevice',
      readOnly: false,
      resource: (params, context) => new IamArns(context.accountId).user(userName(params)),
      async handle(params) {
        await devices.enableMfaDevice(userName(params), serialNumber(params), ...codes(params));
        return undefined;
      },
    },
    {
      service: 'iam',
      name: 'ResyncMFADevice',
      readOnly: false,
      resource: (params, context) => new IamArns(context.accountId).user(userName(params)),
      async handle(params) {
        await devices.resyncMfaDevice(userName(params), serialNumber(params), ...codes(params));
        return undefined;
      },
    },
    {
      service: 'iam',
      name: 'DeactivateMFADevice',
      readOnly: false,
      resource: (params, context) => new IamArns(context.accountId).user(userName(params)),
      async handle(params) {
        await devices.deactivateMfaDevice(userName(params), serialNumber(params));
        return undefined;
      },
    },
    {
      service: 'iam',
      name: 'DeleteVirtualMFADevice',
      readOnly: false,
      // The serial number of a virtual device is its ARN.
      resource: serialNumber,
      async handle(params) {
        await devices.deleteVirtualMfaDevice(serialNumber(params));
        return undefined;
      },
    },
    {
      service: 'iam',
      name: 'ListMFADevices',
      readOnly: true,
      resource: (params, context) =>
        new IamArns(context.accountId).user(userNameOrCaller(params, context)),
      async handle(params, context) {
        const page = await devices.listMfaDevices(
          userNameOrCaller(params, context),
          pageParams(params),
        );
        return listShape('MFADevices', page, (device) => ({
          UserName: device.userName,
          SerialNumber: device.serialNumber,
          EnableDate: device.enableDate,
        }));
      },
    },
    {
      service: 'iam',
      name: 'ListVirtualMFADevices',
      readOnly: true,
      async handle(params, context) {
        const status = enumParam(params, 'AssignmentStatus', ASSIGNMENT_STATUSES) ?? 'Any';
        const page = await devices.listVirtualMfaDevices(status, pageParams(params));
        const arns = new IamArns(context.accountId);
        return listShape('VirtualMFADevices', page, (device) => ({
          SerialNumber: device.serialNumber,
          User: device.user && userShape(device.user, arns),
          EnableDate: device.enableDate,
        }));
      },
    },
  ];
}
