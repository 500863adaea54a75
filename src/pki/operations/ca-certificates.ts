import type { Operation, OperationRequest } from '../../api/operation.js';
import { controlOperation, epochSeconds } from '../../api/operation.js';
import { memberOf, tagListFields } from '../../guard/field-guard.js';
import { tagList } from '../../registry/operations/common.js';
import {
  bodyObject,
  optionalBoolean,
  optionalObject,
  optionalQueryString,
  optionalString,
  queryBoolean,
  queryValue,
  requiredString,
  RESOURCE_NAME,
} from '../../api/validation.js';
import type { Pki } from '../pki.js';
import type { RegistrationConfig } from '../records.js';
import { enumValue, markerRequest, pathCertificateId, PEM } from './common.js';

const CA_STATUSES = ['ACTIVE', 'INACTIVE'] as const;
const AUTO_REGISTRATION_STATUSES = ['ENABLE', 'DISABLE'] as const;
const CERTIFICATE_MODES = ['DEFAULT', 'SNI_ONLY'] as const;

function registrationConfig(value: unknown): RegistrationConfig | undefined {
  const config = optionalObject(value, 'registrationConfig');
  if (config === undefined) return undefined;
  const templateBody = optionalString(config.templateBody, 'registrationConfig.templateBody', {
    max: 10240,
  });
  const roleArn = optionalString(config.roleArn, 'registrationConfig.roleArn', {
    min: 20,
    max: 2048,
  });
  const templateName = optionalString(config.templateName, 'registrationConfig.templateName', {
    min: 1,
    max: 36,
    pattern: '[0-9A-Za-z_-]+',
  });
  return {
    ...(templateBody !== undefined ? { templateBody } : {}),
    ...(roleArn !== undefined ? { roleArn } : {}),
    ...(templateName !== undefined ? { templateName } : {}),
  };
}

/**
 * GetRegistrationCode, DeleteRegistrationCode, RegisterCACertificate, UpdateCACertificate,
 * DescribeCACertificate, ListCACertificates, DeleteCACertificate.
 */
export function caCertificateOperations(pki: Pki): Operation[] {
  const caArn = (request: OperationRequest) =>
    pki.arns.caCertificate((request.params.caCertificateId ?? '').toLowerCase());
  return [
    controlOperation({
      name: 'GetRegistrationCode',
      method: 'GET',
      path: '/registrationcode',
      readOnly: true,
      async handle() {
        return { body: { registrationCode: await pki.caCertificates.registrationCode() } };
      },
    }),
    controlOperation({
      name: 'DeleteRegistrationCode',
      method: 'DELETE',
      path: '/registrationcode',
      readOnly: false,
      async handle() {
        await pki.caCertificates.deleteRegistrationCode();
        return {};
      },
    }),
    controlOperation({
      name: 'RegisterCACertificate',
      method: 'POST',
      path: '/cacertificate',
      readOnly: false,
      freeFormFields: (request) => tagListFields(memberOf(request.body, 'tags')),
      async handle(request) {
        const body = bodyObject(request.body);
        const verificationCertificate = optionalString(
          body.verificationCertificate,
          'verificationCertificate',
          PEM,
        );
        const config = registrationConfig(body.registrationConfig);
        return {
          body: await pki.caCertificates.register({
            caCertificate: requiredString(body.caCertificate, 'caCertificate', PEM),
            ...(verificationCertificate !== undefined ? { verificationCertificate } : {}),
            setAsActive: queryBoolean(request.query, 'setAsActive') ?? false,
            allowAutoRegistration: queryBoolean(request.query, 'allowAutoRegistration') ?? false,
            certificateMode:
              enumValue(
                optionalString(body.certificateMode, 'certificateMode', { max: 16 }),
                'certificateMode',
                CERTIFICATE_MODES,
              ) ?? 'DEFAULT',
            ...(config ? { registrationConfig: config } : {}),
            tags: tagList(body.tags, 'tags') ?? [],
          }),
        };
      },
    }),
    controlOperation({
      name: 'UpdateCACertificate',
      method: 'PUT',
      path: '/cacertificate/:caCertificateId',
      readOnly: false,
      resource: caArn,
      async handle(request) {
        const body = bodyObject(request.body);
        const newStatus = enumValue(
          queryValue(request.query, 'newStatus'),
          'newStatus',
          CA_STATUSES,
        );
        const newAutoRegistrationStatus = enumValue(
          queryValue(request.query, 'newAutoRegistrationStatus'),
          'newAutoRegistrationStatus',
          AUTO_REGISTRATION_STATUSES,
        );
        const config = registrationConfig(body.registrationConfig);
        const removeAutoRegistration = optionalBoolean(
          body.removeAutoRegistration,
          'removeAutoRegistration',
        );
        await pki.caCertificates.update({
          certificateId: pathCertificateId(request, 'caCertificateId'),
          ...(newStatus !== undefined ? { newStatus } : {}),
          ...(newAutoRegistrationStatus !== undefined ? { newAutoRegistrationStatus } : {}),
          ...(config ? { registrationConfig: config } : {}),
          ...(removeAutoRegistration !== undefined ? { removeAutoRegistration } : {}),
        });
        return {};
      },
    }),
    controlOperation({
      name: 'DescribeCACertificate',
      method: 'GET',
      path: '/cacertificate/:caCertificateId',
      readOnly: true,
      resource: caArn,
      async handle(request) {
        const described = await pki.caCertificates.describe(
          pathCertificateId(request, 'caCertificateId'),
        );
        const description = described.certificateDescription;
        return {
          body: {
            ...described,
            certificateDescription: {
              ...description,
              creationDate: epochSeconds(description.creationDate),
              lastModifiedDate: epochSeconds(description.lastModifiedDate),
              validity: {
                notBefore: epochSeconds(description.validity.notBefore),
                notAfter: epochSeconds(description.validity.notAfter),
              },
            },
          },
        };
      },
    }),
    controlOperation({
      name: 'ListCACertificates',
      method: 'GET',
      path: '/cacertificates',
      readOnly: true,
      async handle(request) {
        const templateName = optionalQueryString(request.query, 'templateName', RESOURCE_NAME);
        const page = await pki.caCertificates.list(markerRequest(request), templateName);
        return {
          body: {
            certificates: page.items.map((item) => ({
              ...item,
              creationDate: epochSeconds(item.creationDate),
            })),
            ...(page.nextMarker ? { nextMarker: page.nextMarker } : {}),
          },
        };
      },
    }),
    controlOperation({
      name: 'DeleteCACertificate',
      method: 'DELETE',
      path: '/cacertificate/:caCertificateId',
      readOnly: false,
      resource: caArn,
      async handle(request) {
        await pki.caCertificates.delete(pathCertificateId(request, 'caCertificateId'));
        return {};
      },
    }),
  ];
}
