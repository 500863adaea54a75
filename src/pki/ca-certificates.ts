import { randomBytes, randomUUID } from 'node:crypto';
import { BulwarkError } from '../errors.js';
import type { Tag } from '../registry/tags.js';
import { writeWith, type PkiContext } from './context.js';
import {
  CA_CERTIFICATES_TABLE,
  CERTIFICATES_TABLE,
  REGISTRATION_CODE_TABLE,
} from './migrations.js';
import { markerPage, type MarkerPage, type MarkerRequest } from './pagination.js';
import {
  caRecord,
  caRow,
  readCa,
  type AutoRegistrationStatus,
  type CaRecord,
  type CaStatus,
  type CertificateMode,
  type RegistrationConfig,
} from './records.js';
import {
  certificateIdOf,
  certificateValidation,
  checkCertificate,
  commonNameOf,
  issuedBy,
  parseCertificatePem,
  pemOf,
} from './x509.js';

/** AWS IoT: at most 10 CA certificates with the same subject per account. */
const MAX_CAS_PER_SUBJECT = 10;

export interface RegisterCaInput {
  caCertificate: string;
  verificationCertificate?: string;
  setAsActive: boolean;
  allowAutoRegistration: boolean;
  certificateMode: CertificateMode;
  registrationConfig?: RegistrationConfig;
  tags: Tag[];
}

export interface UpdateCaInput {
  certificateId: string;
  newStatus?: CaStatus;
  newAutoRegistrationStatus?: AutoRegistrationStatus;
  registrationConfig?: RegistrationConfig;
  removeAutoRegistration?: boolean;
}

export interface CaCertificateDescription {
  certificateDescription: {
    certificateArn: string;
    certificateId: string;
    status: CaStatus;
    certificatePem: string;
    ownedBy: string;
    creationDate: number;
    autoRegistrationStatus: AutoRegistrationStatus;
    lastModifiedDate: number;
    customerVersion: number;
    generationId: string;
    validity: { notBefore: number; notAfter: number };
    certificateMode: CertificateMode;
  };
  registrationConfig?: RegistrationConfig;
}

/** ListCACertificates' items. */
export interface CaCertificateSummary {
  certificateArn: string;
  certificateId: string;
  status: CaStatus;
  creationDate: number;
}

function caNotFound(certificateId: string): BulwarkError {
  return new BulwarkError(
    'ResourceNotFound',
    `The CA certificate ${certificateId} does not exist.`,
  );
}

/**
 * Operators' own CAs: the account's registration code, and CA certificates registered (with a
 * verification certificate proving the CA's key in DEFAULT mode), updated, described, listed and
 * deleted.
 */
export class CaCertificateService {
  private readonly context: PkiContext;

  constructor(context: PkiContext) {
    this.context = context;
  }

  /** The account's registration code: made on first use, the same until deleted (as AWS). */
  async registrationCode(): Promise<string> {
    const existing = await this.context.store.get(REGISTRATION_CODE_TABLE, { id: 'account' });
    if (existing) return existing.registration_code as string;
    return writeWith(this.context, async (tx) => {
      const row = await tx.get(REGISTRATION_CODE_TABLE, { id: 'account' });
      if (row) return row.registration_code as string;
      const code = randomBytes(32).toString('hex');
      await tx.put(REGISTRATION_CODE_TABLE, {
        id: 'account',
        created_at: this.context.clock(),
        registration_code: code,
      });
      return code;
    });
  }

  async deleteRegistrationCode(): Promise<void> {
    await writeWith(this.context, (tx) => tx.delete(REGISTRATION_CODE_TABLE, { id: 'account' }));
  }

  async register(
    input: RegisterCaInput,
  ): Promise<{ certificateArn: string; certificateId: string }> {
    const now = this.context.clock();
    const ca = parseCertificatePem(input.caCertificate, 'CA certificate');
    checkCertificate(ca, 'CA certificate', now);
    if (!ca.ca)
      throw certificateValidation('The CA certificate is not a CA (basicConstraints CA:TRUE)');
    if (input.certificateMode === 'SNI_ONLY' && input.verificationCertificate !== undefined)
      throw new BulwarkError(
        'InvalidRequest',
        'A verificationCertificate must not be given when certificateMode is SNI_ONLY',
      );
    if (input.certificateMode === 'DEFAULT' && input.verificationCertificate === undefined)
      throw new BulwarkError(
        'InvalidRequest',
        'A verificationCertificate is required when certificateMode is DEFAULT',
      );
    const verification =
      input.verificationCertificate !== undefined
        ? parseCertificatePem(input.verificationCertificate, 'verification certificate')
        : undefined;
    const certificateId = certificateIdOf(ca);
    const record = await writeWith(this.context, async (tx) => {
      if (verification) {
        const code = (await tx.get(REGISTRATION_CODE_TABLE, { id: 'account' }))
          ?.registration_code as string | undefined;
        if (code === undefined || commonNameOf(verification) !== code)
          throw new BulwarkError(
            'RegistrationCodeValidation',
            "The verification certificate's common name is not this account's registration code",
          );
        if (!issuedBy(verification, ca))
          throw certificateValidation(
            'The verification certificate is not signed by the CA certificate',
          );
        checkCertificate(verification, 'verification certificate', now);
      }
      if (await readCa(tx, certificateId))
        throw new BulwarkError(
          'ResourceAlreadyExists',
          'The CA certificate is already registered',
          {
            resourceId: certificateId,
            resourceArn: this.context.arns.caCertificate(certificateId),
          },
        );
      const sameSubject = (await tx.list(CA_CERTIFICATES_TABLE))
        .map(caRecord)
        .filter((other) => parseCertificatePem(other.certificatePem, 'CA').subject === ca.subject);
      if (sameSubject.length >= MAX_CAS_PER_SUBJECT)
        throw new BulwarkError(
          'LimitExceeded',
          `At most ${MAX_CAS_PER_SUBJECT} CA certificates with the same subject can be registered`,
        );
      const created: CaRecord = {
        certificateId,
        status: input.setAsActive ? 'ACTIVE' : 'INACTIVE',
        autoRegistrationStatus: input.allowAutoRegistration ? 'ENABLE' : 'DISABLE',
        certificateMode: input.certificateMode,
        generationId: randomUUID(),
        customerVersion: 1,
        notBefore: Date.parse(ca.validFrom),
        notAfter: Date.parse(ca.validTo),
        createdAt: now,
        updatedAt: now,
        certificatePem: pemOf(ca),
        ...(input.registrationConfig ? { registrationConfig: input.registrationConfig } : {}),
        tags: input.tags,
      };
      await tx.insert(CA_CERTIFICATES_TABLE, caRow(created));
      return created;
    });
    this.context.directory.noteCa(record);
    return { certificateArn: this.context.arns.caCertificate(certificateId), certificateId };
  }

  async update(input: UpdateCaInput): Promise<void> {
    if (input.removeAutoRegistration === true && input.newAutoRegistrationStatus !== undefined)
      throw new BulwarkError(
        'InvalidRequest',
        'Only one of newAutoRegistrationStatus and removeAutoRegistration may be given',
      );
    const record = await writeWith(this.context, async (tx) => {
      const current = await readCa(tx, input.certificateId);
      if (!current) throw caNotFound(input.certificateId);
      const next: CaRecord = {
        ...current,
        status: input.newStatus ?? current.status,
        autoRegistrationStatus:
          input.removeAutoRegistration === true
            ? 'DISABLE'
            : (input.newAutoRegistrationStatus ?? current.autoRegistrationStatus),
        ...(input.registrationConfig ? { registrationConfig: input.registrationConfig } : {}),
        customerVersion: current.customerVersion + 1,
        updatedAt: this.context.clock(),
      };
      await tx.put(CA_CERTIFICATES_TABLE, caRow(next));
      return next;
    });
    this.context.directory.noteCa(record);
  }

  async describe(certificateId: string): Promise<CaCertificateDescription> {
    const record = await readCa(this.context.store, certificateId);
    if (!record) throw caNotFound(certificateId);
    return {
      certificateDescription: {
        certificateArn: this.context.arns.caCertificate(certificateId),
        certificateId,
        status: record.status,
        certificatePem: record.certificatePem,
        ownedBy: this.context.accountId,
        creationDate: record.createdAt,
        autoRegistrationStatus: record.autoRegistrationStatus,
        lastModifiedDate: record.updatedAt,
        customerVersion: record.customerVersion,
        generationId: record.generationId,
        validity: { notBefore: record.notBefore, notAfter: record.notAfter },
        certificateMode: record.certificateMode,
      },
      ...(record.registrationConfig ? { registrationConfig: record.registrationConfig } : {}),
    };
  }

  async list(
    request: MarkerRequest,
    templateName?: string,
  ): Promise<MarkerPage<CaCertificateSummary>> {
    const records = (await this.context.store.list(CA_CERTIFICATES_TABLE))
      .map(caRecord)
      .filter(
        (record) =>
          templateName === undefined || record.registrationConfig?.templateName === templateName,
      );
    const page = markerPage(
      'ListCACertificates',
      records.map((record) => ({ id: record.certificateId, createdAt: record.createdAt, record })),
      request,
    );
    return {
      ...page,
      items: page.items.map(({ record }) => ({
        certificateArn: this.context.arns.caCertificate(record.certificateId),
        certificateId: record.certificateId,
        status: record.status,
        creationDate: record.createdAt,
      })),
    };
  }

  /** Not while ACTIVE, and not while device certificates registered under it remain (406). */
  async delete(certificateId: string): Promise<void> {
    await writeWith(this.context, async (tx) => {
      const current = await readCa(tx, certificateId);
      if (!current) throw caNotFound(certificateId);
      if (current.status === 'ACTIVE')
        throw new BulwarkError(
          'CertificateState',
          'The CA certificate must be deactivated (not ACTIVE) before deletion.',
        );
      if ((await tx.count(CERTIFICATES_TABLE, { ca_certificate_id: certificateId })) > 0)
        throw new BulwarkError(
          'CertificateState',
          'The CA certificate still has device certificates registered under it; delete them first.',
        );
      await tx.delete(CA_CERTIFICATES_TABLE, { certificate_id: certificateId });
    });
    this.context.directory.forgetCa(certificateId);
  }
}
