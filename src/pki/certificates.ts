import { generateKeyPair, randomUUID, type X509Certificate } from 'node:crypto';
import { promisify } from 'node:util';
import { BulwarkError } from '../errors.js';
import type { StoreReader, StoreWriter } from '../store/index.js';
import { writeWith, type PkiContext } from './context.js';
import { issueDeviceCertificate } from './device-ca.js';
import { CA_CERTIFICATES_TABLE, CERTIFICATE_PEMS_TABLE, CERTIFICATES_TABLE } from './migrations.js';
import { markerPage, type MarkerPage, type MarkerRequest } from './pagination.js';
import {
  caRecord,
  certificateIdOfArn,
  certificateRecord,
  certificateRow,
  insertCertificate,
  readCa,
  readCertificate,
  type CaRecord,
  type CertificateMode,
  type CertificateRecord,
  type CertificateStatus,
} from './records.js';
import {
  certificateIdOf,
  certificateValidation,
  checkCertificate,
  issuedBy,
  parseCertificatePem,
  parseCertificateRequest,
  pemOf,
} from './x509.js';

const generateRsaKeyPair = promisify(generateKeyPair);

/** AWS IoT's subject for the certificates CreateKeysAndCertificate issues, in Bulwark's name. */
const ISSUED_SUBJECT = 'CN=Bulwark IoT Certificate';

export interface CreatedCertificate {
  certificateArn: string;
  certificateId: string;
  certificatePem: string;
}

export interface CreatedKeysAndCertificate extends CreatedCertificate {
  /** AWS's capitalised members. The private key is returned here once and kept nowhere. */
  keyPair: { PublicKey: string; PrivateKey: string };
}

export interface RegisteredCertificate {
  certificateArn: string;
  certificateId: string;
}

export interface CertificateDescription {
  certificateArn: string;
  certificateId: string;
  caCertificateId?: string;
  status: CertificateStatus;
  certificatePem: string;
  ownedBy: string;
  /** Epoch ms. */
  creationDate: number;
  lastModifiedDate: number;
  customerVersion: number;
  transferData: Record<string, never>;
  generationId: string;
  validity: { notBefore: number; notAfter: number };
  certificateMode: CertificateMode;
}

/** ListCertificates' items. */
export interface CertificateSummary {
  certificateArn: string;
  certificateId: string;
  status: CertificateStatus;
  certificateMode: CertificateMode;
  creationDate: number;
}

export interface DeviceCertificateOptions {
  /** Whether IoT policies are attached to the certificate (the policy capability answers). */
  hasAttachedPolicies?: (certificateArn: string) => Promise<boolean>;
  /** Whether things are attached to the certificate (the registry answers). */
  hasAttachedThings?: (certificateArn: string) => Promise<boolean>;
}

/** The statuses a registration may ask for; the PENDING_ ones are AWS IoT's own. */
const REGISTRABLE: ReadonlySet<CertificateStatus> = new Set([
  'ACTIVE',
  'INACTIVE',
  'REVOKED',
  'REGISTER_INACTIVE',
]);

function notFound(certificateId: string): BulwarkError {
  return new BulwarkError('ResourceNotFound', `The certificate ${certificateId} does not exist.`);
}

/**
 * Device certificates: issued by Bulwark's device CA (with a new key pair, or for a CSR),
 * registered from an operator's registered CA or without one, described, listed, their status
 * changed, deleted under AWS IoT's preconditions.
 */
export class DeviceCertificateService {
  private readonly context: PkiContext;
  private readonly hasAttachedPolicies: (certificateArn: string) => Promise<boolean>;
  private readonly hasAttachedThings: (certificateArn: string) => Promise<boolean>;

  constructor(context: PkiContext, options: DeviceCertificateOptions = {}) {
    this.context = context;
    this.hasAttachedPolicies = options.hasAttachedPolicies ?? (() => Promise.resolve(false));
    this.hasAttachedThings = options.hasAttachedThings ?? (() => Promise.resolve(false));
  }

  /** True when `certificateArn` names a certificate registered in this account. */
  async exists(certificateArn: string): Promise<boolean> {
    const id = certificateIdOfArn(this.context.arns, certificateArn);
    return id !== undefined && (await readCertificate(this.context.store, id)) !== undefined;
  }

  /** A new RSA 2048 key pair (as AWS IoT makes) and a certificate for it from the device CA. */
  async createKeysAndCertificate(setAsActive: boolean): Promise<CreatedKeysAndCertificate> {
    const keys = await generateRsaKeyPair('rsa', { modulusLength: 2048 });
    const spki = keys.publicKey.export({ type: 'spki', format: 'der' });
    const certificate = await issueDeviceCertificate(
      this.context.deviceCa,
      ISSUED_SUBJECT,
      new Uint8Array(spki).buffer,
    );
    const created = await this.store(certificate, {
      status: setAsActive ? 'ACTIVE' : 'INACTIVE',
      certificateMode: 'DEFAULT',
    });
    return {
      ...created,
      keyPair: {
        PublicKey: keys.publicKey.export({ type: 'spki', format: 'pem' }) as string,
        PrivateKey: keys.privateKey.export({ type: 'pkcs1', format: 'pem' }) as string,
      },
    };
  }

  /** A certificate from the device CA for the key and subject of a verified CSR. */
  async createFromCsr(csrPem: string, setAsActive: boolean): Promise<CreatedCertificate> {
    const request = await parseCertificateRequest(csrPem);
    const certificate = await issueDeviceCertificate(
      this.context.deviceCa,
      request.subject,
      request.publicKeySpki,
    );
    return this.store(certificate, {
      status: setAsActive ? 'ACTIVE' : 'INACTIVE',
      certificateMode: 'DEFAULT',
    });
  }

  /**
   * RegisterCertificate: a certificate issued by a registered CA (the one given, or the one
   * found among those registered). It takes the CA's certificate mode.
   */
  async register(input: {
    certificatePem: string;
    caCertificatePem?: string;
    status: CertificateStatus;
  }): Promise<RegisteredCertificate> {
    checkRegistrableStatus(input.status);
    const certificate = parseCertificatePem(input.certificatePem, 'certificate');
    checkCertificate(certificate, 'certificate', this.context.clock());
    const givenCa =
      input.caCertificatePem !== undefined
        ? parseCertificatePem(input.caCertificatePem, 'CA certificate')
        : undefined;
    return writeWith(this.context, async (tx) => {
      const ca = await this.issuingCa(tx, certificate, givenCa);
      if (ca.status !== 'ACTIVE')
        throw new BulwarkError(
          'CertificateState',
          `The CA certificate ${ca.certificateId} is not ACTIVE`,
        );
      return this.insert(tx, certificate, {
        status: input.status,
        caCertificateId: ca.certificateId,
        certificateMode: ca.certificateMode,
      });
    }).then((record) => this.registered(record));
  }

  /** RegisterCertificateWithoutCA: the certificate alone, in SNI_ONLY mode. */
  async registerWithoutCa(input: {
    certificatePem: string;
    status: CertificateStatus;
  }): Promise<RegisteredCertificate> {
    checkRegistrableStatus(input.status);
    const certificate = parseCertificatePem(input.certificatePem, 'certificate');
    checkCertificate(certificate, 'certificate', this.context.clock());
    const record = await writeWith(this.context, (tx) =>
      this.insert(tx, certificate, { status: input.status, certificateMode: 'SNI_ONLY' }),
    );
    return this.registered(record);
  }

  async describe(certificateId: string): Promise<CertificateDescription> {
    const record = await readCertificate(this.context.store, certificateId);
    if (!record) throw notFound(certificateId);
    const pem = await this.context.store.get(CERTIFICATE_PEMS_TABLE, {
      certificate_id: certificateId,
    });
    return {
      certificateArn: this.context.arns.certificate(certificateId),
      certificateId,
      ...(record.caCertificateId !== undefined ? { caCertificateId: record.caCertificateId } : {}),
      status: record.status,
      certificatePem: (pem?.certificate_pem as string | undefined) ?? '',
      ownedBy: this.context.accountId,
      creationDate: record.createdAt,
      lastModifiedDate: record.updatedAt,
      customerVersion: record.customerVersion,
      transferData: {},
      generationId: record.generationId,
      validity: { notBefore: record.notBefore, notAfter: record.notAfter },
      certificateMode: record.certificateMode,
    };
  }

  /** ListCertificates, or ListCertificatesByCA when `caCertificateId` is given. */
  async list(
    request: MarkerRequest,
    caCertificateId?: string,
  ): Promise<MarkerPage<CertificateSummary>> {
    const rows = await this.context.store.list(
      CERTIFICATES_TABLE,
      caCertificateId !== undefined ? { where: { ca_certificate_id: caCertificateId } } : {},
    );
    const page = markerPage(
      caCertificateId === undefined
        ? 'ListCertificates'
        : `ListCertificatesByCA/${caCertificateId}`,
      rows.map((row) => {
        const record = certificateRecord(row);
        return { id: record.certificateId, createdAt: record.createdAt, record };
      }),
      request,
    );
    return {
      ...page,
      items: page.items.map(({ record }) => ({
        certificateArn: this.context.arns.certificate(record.certificateId),
        certificateId: record.certificateId,
        status: record.status,
        certificateMode: record.certificateMode,
        creationDate: record.createdAt,
      })),
    };
  }

  /**
   * UpdateCertificate. PENDING_TRANSFER and PENDING_ACTIVATION are AWS IoT's own statuses and
   * cannot be set; REVOKED is final; a certificate in transfer cannot change.
   */
  async update(certificateId: string, newStatus: CertificateStatus): Promise<void> {
    if (newStatus === 'PENDING_TRANSFER' || newStatus === 'PENDING_ACTIVATION')
      throw new BulwarkError(
        'InvalidRequest',
        `The status ${newStatus} is used by AWS IoT itself and cannot be set`,
      );
    const record = await writeWith(this.context, async (tx) => {
      const current = await readCertificate(tx, certificateId);
      if (!current) throw notFound(certificateId);
      if (current.status === newStatus) return current;
      if (current.status === 'REVOKED')
        throw new BulwarkError(
          'CertificateState',
          `The certificate ${certificateId} is REVOKED; a revoked certificate cannot be reactivated or changed`,
        );
      if (current.status === 'PENDING_TRANSFER')
        throw new BulwarkError(
          'CertificateState',
          `The certificate ${certificateId} is in the middle of a transfer`,
        );
      const next: CertificateRecord = {
        ...current,
        status: newStatus,
        customerVersion: current.customerVersion + 1,
        updatedAt: this.context.clock(),
      };
      await tx.put(CERTIFICATES_TABLE, certificateRow(next));
      return next;
    });
    this.context.directory.noteCertificate(record);
  }

  /**
   * DeleteCertificate: not while ACTIVE (406), not while attached to a thing (409), not while
   * policies are attached unless `forceDelete` (409).
   */
  async delete(certificateId: string, forceDelete: boolean): Promise<void> {
    const arn = this.context.arns.certificate(certificateId);
    const checkStatus = (record: CertificateRecord | undefined): void => {
      if (!record) throw notFound(certificateId);
      if (record.status === 'ACTIVE')
        throw new BulwarkError(
          'CertificateState',
          'Certificate must be deactivated (not ACTIVE) before deletion.',
        );
    };
    checkStatus(await readCertificate(this.context.store, certificateId));
    // Attachments belong to other capabilities and are read through their own stores, so they
    // are checked before this capability's transaction, not inside it.
    if (await this.hasAttachedThings(arn))
      throw new BulwarkError(
        'DeleteConflict',
        `Things must be detached before deletion (arn: ${arn})`,
      );
    if (!forceDelete && (await this.hasAttachedPolicies(arn)))
      throw new BulwarkError(
        'DeleteConflict',
        `Certificate policies must be detached before deletion (arn: ${arn})`,
      );
    await writeWith(this.context, async (tx) => {
      checkStatus(await readCertificate(tx, certificateId));
      await tx.delete(CERTIFICATE_PEMS_TABLE, { certificate_id: certificateId });
      await tx.delete(CERTIFICATES_TABLE, { certificate_id: certificateId });
    });
    this.context.directory.forgetCertificate(certificateId);
  }

  /**
   * The registered CA that issued `certificate`: the one given (it must be registered and must
   * have signed it), or the only registered CA that did.
   */
  private async issuingCa(
    reader: StoreReader,
    certificate: X509Certificate,
    givenCa: X509Certificate | undefined,
  ): Promise<CaRecord> {
    if (givenCa) {
      const ca = await readCa(reader, certificateIdOf(givenCa));
      if (!ca)
        throw certificateValidation('The CA certificate is not registered with this account');
      if (!issuedBy(certificate, givenCa))
        throw certificateValidation('The certificate is not signed by the given CA certificate');
      return ca;
    }
    const issuers = (await reader.list(CA_CERTIFICATES_TABLE))
      .map(caRecord)
      .filter((ca) => issuedBy(certificate, parseCertificatePem(ca.certificatePem, 'CA')));
    if (issuers.length === 0)
      throw certificateValidation(
        'The certificate is not signed by any CA certificate registered with this account',
      );
    if (issuers.length > 1)
      throw new BulwarkError(
        'CertificateConflict',
        'Unable to verify the CA certificate used to sign the device certificate you are attempting to register: more than one registered CA certificate has the same subject and key; give caCertificatePem',
      );
    return issuers[0] as CaRecord;
  }

  private async insert(
    tx: StoreWriter,
    certificate: X509Certificate,
    facts: {
      status: CertificateStatus;
      certificateMode: CertificateMode;
      caCertificateId?: string;
    },
  ): Promise<CertificateRecord> {
    const certificateId = certificateIdOf(certificate);
    if (await readCertificate(tx, certificateId))
      throw new BulwarkError(
        'ResourceAlreadyExists',
        'The certificate is already provisioned or registered',
        {
          resourceId: certificateId,
          resourceArn: this.context.arns.certificate(certificateId),
        },
      );
    const now = this.context.clock();
    const record: CertificateRecord = {
      certificateId,
      ...facts,
      generationId: randomUUID(),
      customerVersion: 1,
      notBefore: Date.parse(certificate.validFrom),
      notAfter: Date.parse(certificate.validTo),
      createdAt: now,
      updatedAt: now,
    };
    await insertCertificate(tx, record, pemOf(certificate));
    return record;
  }

  private registered(record: CertificateRecord): RegisteredCertificate {
    this.context.directory.noteCertificate(record);
    return {
      certificateArn: this.context.arns.certificate(record.certificateId),
      certificateId: record.certificateId,
    };
  }

  private async store(
    certificate: X509Certificate,
    facts: { status: CertificateStatus; certificateMode: CertificateMode },
  ): Promise<CreatedCertificate> {
    const record = await writeWith(this.context, (tx) => this.insert(tx, certificate, facts));
    return { ...this.registered(record), certificatePem: pemOf(certificate) };
  }
}

function checkRegistrableStatus(status: CertificateStatus): void {
  if (status === 'PENDING_ACTIVATION')
    throw new BulwarkError(
      'CertificateState',
      'Not allowed to register certificate with PENDING_ACTIVATION status',
    );
  if (!REGISTRABLE.has(status))
    throw new BulwarkError(
      'CertificateState',
      `Not allowed to register certificate with ${status} status`,
    );
}
