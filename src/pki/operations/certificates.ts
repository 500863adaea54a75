import type { Operation, OperationRequest } from '../../api/operation.js';
import { controlOperation, epochSeconds } from '../../api/operation.js';
import {
  bodyObject,
  optionalString,
  queryBoolean,
  queryValue,
  requiredString,
} from '../../api/validation.js';
import type { CertificateDescription } from '../certificates.js';
import type { Pki } from '../pki.js';
import { CERTIFICATE_STATUSES } from '../records.js';
import { enumValue, markerRequest, pathCertificateId, PEM, requiredEnum } from './common.js';

function described(description: CertificateDescription) {
  return {
    ...description,
    creationDate: epochSeconds(description.creationDate),
    lastModifiedDate: epochSeconds(description.lastModifiedDate),
    validity: {
      notBefore: epochSeconds(description.validity.notBefore),
      notAfter: epochSeconds(description.validity.notAfter),
    },
  };
}

/** The status a registration asks for: `status`, else the deprecated `setAsActive`, else INACTIVE. */
function registrationStatus(request: OperationRequest, body: Record<string, unknown>) {
  const status = enumValue(
    optionalString(body.status, 'status', { max: 64 }),
    'status',
    CERTIFICATE_STATUSES,
  );
  if (status !== undefined) return status;
  return queryBoolean(request.query, 'setAsActive') === true ? 'ACTIVE' : 'INACTIVE';
}

/**
 * CreateKeysAndCertificate, CreateCertificateFromCsr, RegisterCertificate,
 * RegisterCertificateWithoutCA, DescribeCertificate, ListCertificates, ListCertificatesByCA,
 * UpdateCertificate, DeleteCertificate.
 */
export function certificateOperations(pki: Pki): Operation[] {
  const certificateArn = (request: OperationRequest) =>
    pki.arns.certificate((request.params.certificateId ?? '').toLowerCase());
  return [
    controlOperation({
      name: 'CreateKeysAndCertificate',
      method: 'POST',
      path: '/keys-and-certificate',
      readOnly: false,
      async handle(request) {
        const setAsActive = queryBoolean(request.query, 'setAsActive') ?? false;
        return { body: await pki.certificates.createKeysAndCertificate(setAsActive) };
      },
    }),
    controlOperation({
      name: 'CreateCertificateFromCsr',
      method: 'POST',
      path: '/certificates',
      readOnly: false,
      async handle(request) {
        const body = bodyObject(request.body);
        const csr = requiredString(body.certificateSigningRequest, 'certificateSigningRequest', {
          min: 1,
          max: 4096,
        });
        const setAsActive = queryBoolean(request.query, 'setAsActive') ?? false;
        return { body: await pki.certificates.createFromCsr(csr, setAsActive) };
      },
    }),
    controlOperation({
      name: 'RegisterCertificate',
      method: 'POST',
      path: '/certificate/register',
      readOnly: false,
      async handle(request) {
        const body = bodyObject(request.body);
        const certificatePem = requiredString(body.certificatePem, 'certificatePem', PEM);
        const caCertificatePem = optionalString(body.caCertificatePem, 'caCertificatePem', PEM);
        return {
          body: await pki.certificates.register({
            certificatePem,
            ...(caCertificatePem !== undefined ? { caCertificatePem } : {}),
            status: registrationStatus(request, body),
          }),
        };
      },
    }),
    controlOperation({
      name: 'RegisterCertificateWithoutCA',
      method: 'POST',
      path: '/certificate/register-no-ca',
      readOnly: false,
      async handle(request) {
        const body = bodyObject(request.body);
        return {
          body: await pki.certificates.registerWithoutCa({
            certificatePem: requiredString(body.certificatePem, 'certificatePem', PEM),
            status: registrationStatus(request, body),
          }),
        };
      },
    }),
    controlOperation({
      name: 'DescribeCertificate',
      method: 'GET',
      path: '/certificates/:certificateId',
      readOnly: true,
      resource: certificateArn,
      async handle(request) {
        const id = pathCertificateId(request, 'certificateId');
        return { body: { certificateDescription: described(await pki.certificates.describe(id)) } };
      },
    }),
    controlOperation({
      name: 'ListCertificates',
      method: 'GET',
      path: '/certificates',
      readOnly: true,
      async handle(request) {
        const page = await pki.certificates.list(markerRequest(request));
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
      name: 'ListCertificatesByCA',
      method: 'GET',
      path: '/certificates-by-ca/:caCertificateId',
      readOnly: true,
      async handle(request) {
        const caId = pathCertificateId(request, 'caCertificateId');
        const page = await pki.certificates.list(markerRequest(request), caId);
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
      name: 'UpdateCertificate',
      method: 'PUT',
      path: '/certificates/:certificateId',
      readOnly: false,
      resource: certificateArn,
      async handle(request) {
        const id = pathCertificateId(request, 'certificateId');
        const newStatus = requiredEnum(
          queryValue(request.query, 'newStatus'),
          'newStatus',
          CERTIFICATE_STATUSES,
        );
        await pki.certificates.update(id, newStatus);
        return {};
      },
    }),
    controlOperation({
      name: 'DeleteCertificate',
      method: 'DELETE',
      path: '/certificates/:certificateId',
      readOnly: false,
      resource: certificateArn,
      async handle(request) {
        const id = pathCertificateId(request, 'certificateId');
        await pki.certificates.delete(id, queryBoolean(request.query, 'forceDelete') ?? false);
        return {};
      },
    }),
  ];
}
