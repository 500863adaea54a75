import type { IotArns } from '../api/iot-arns.js';
import type { Row, Store, StoreWriter } from '../store/index.js';
import type { Tag } from '../registry/tags.js';
import {
  CA_CERTIFICATES_TABLE,
  CERTIFICATE_PEMS_TABLE,
  CERTIFICATES_TABLE,
  PKI_WRITE_LOCK_TABLE,
} from './migrations.js';

/** AWS IoT's CertificateStatus. Only ACTIVE certificates may connect. */
export type CertificateStatus =
  | 'ACTIVE'
  | 'INACTIVE'
  | 'REVOKED'
  | 'PENDING_TRANSFER'
  | 'REGISTER_INACTIVE'
  | 'PENDING_ACTIVATION';

export const CERTIFICATE_STATUSES: readonly CertificateStatus[] = [
  'ACTIVE',
  'INACTIVE',
  'REVOKED',
  'PENDING_TRANSFER',
  'REGISTER_INACTIVE',
  'PENDING_ACTIVATION',
];

/** AWS IoT's CACertificateStatus. */
export type CaStatus = 'ACTIVE' | 'INACTIVE';
export type AutoRegistrationStatus = 'ENABLE' | 'DISABLE';
/** DEFAULT: the device sends its certificate alone; SNI_ONLY: registered for SNI-routed use. */
export type CertificateMode = 'DEFAULT' | 'SNI_ONLY';

export interface RegistrationConfig {
  templateBody?: string;
  roleArn?: string;
  templateName?: string;
}

/** A device certificate's plaintext facts (its PEM is stored apart, sealed). */
export interface CertificateRecord {
  certificateId: string;
  status: CertificateStatus;
  /** The registered CA that issued it; absent for Bulwark's own and CA-less registrations. */
  caCertificateId?: string;
  certificateMode: CertificateMode;
  generationId: string;
  customerVersion: number;
  /** Epoch ms, from the certificate. */
  notBefore: number;
  notAfter: number;
  createdAt: number;
  updatedAt: number;
}

export interface CaRecord {
  certificateId: string;
  status: CaStatus;
  autoRegistrationStatus: AutoRegistrationStatus;
  certificateMode: CertificateMode;
  generationId: string;
  customerVersion: number;
  notBefore: number;
  notAfter: number;
  createdAt: number;
  updatedAt: number;
  certificatePem: string;
  registrationConfig?: RegistrationConfig;
  tags: Tag[];
}

export function certificateRow(record: CertificateRecord): Row {
  return {
    certificate_id: record.certificateId,
    status: record.status,
    ca_certificate_id: record.caCertificateId ?? null,
    certificate_mode: record.certificateMode,
    generation_id: record.generationId,
    customer_version: record.customerVersion,
    not_before: record.notBefore,
    not_after: record.notAfter,
    created_at: record.createdAt,
    updated_at: record.updatedAt,
  };
}

export function certificateRecord(row: Row): CertificateRecord {
  return {
    certificateId: row.certificate_id as string,
    status: row.status as CertificateStatus,
    ...(row.ca_certificate_id !== null ? { caCertificateId: row.ca_certificate_id as string } : {}),
    certificateMode: row.certificate_mode as CertificateMode,
    generationId: row.generation_id as string,
    customerVersion: row.customer_version as number,
    notBefore: row.not_before as number,
    notAfter: row.not_after as number,
    createdAt: row.created_at as number,
    updatedAt: row.updated_at as number,
  };
}

export function caRow(record: CaRecord): Row {
  return {
    certificate_id: record.certificateId,
    status: record.status,
    auto_registration_status: record.autoRegistrationStatus,
    certificate_mode: record.certificateMode,
    generation_id: record.generationId,
    customer_version: record.customerVersion,
    not_before: record.notBefore,
    not_after: record.notAfter,
    created_at: record.createdAt,
    updated_at: record.updatedAt,
    certificate_pem: record.certificatePem,
    registration_config: record.registrationConfig ?? null,
    tags: record.tags,
  };
}

export function caRecord(row: Row): CaRecord {
  const config = row.registration_config as RegistrationConfig | null | undefined;
  return {
    certificateId: row.certificate_id as string,
    status: row.status as CaStatus,
    autoRegistrationStatus: row.auto_registration_status as AutoRegistrationStatus,
    certificateMode: row.certificate_mode as CertificateMode,
    generationId: row.generation_id as string,
    customerVersion: row.customer_version as number,
    notBefore: row.not_before as number,
    notAfter: row.not_after as number,
    createdAt: row.created_at as number,
    updatedAt: row.updated_at as number,
    certificatePem: row.certificate_pem as string,
    ...(config ? { registrationConfig: config } : {}),
    tags: (row.tags as Tag[] | null | undefined) ?? [],
  };
}

export async function readCertificate(
  reader: Pick<StoreWriter, 'get'>,
  certificateId: string,
): Promise<CertificateRecord | undefined> {
  const row = await reader.get(CERTIFICATES_TABLE, { certificate_id: certificateId });
  return row && certificateRecord(row);
}

export async function readCa(
  reader: Pick<StoreWriter, 'get'>,
  certificateId: string,
): Promise<CaRecord | undefined> {
  const row = await reader.get(CA_CERTIFICATES_TABLE, { certificate_id: certificateId });
  return row && caRecord(row);
}

/** Stores a new device certificate: its facts and, apart, its sealed PEM. */
export async function insertCertificate(
  tx: StoreWriter,
  record: CertificateRecord,
  certificatePem: string,
): Promise<void> {
  await tx.insert(CERTIFICATES_TABLE, certificateRow(record));
  await tx.put(CERTIFICATE_PEMS_TABLE, {
    certificate_id: record.certificateId,
    certificate_pem: certificatePem,
  });
}

/**
 * Runs a pki write in one transaction that first touches the pki lock row, so a check (exists,
 * status, CA registered) and the write that depends on it cannot interleave with another
 * process's.
 */
export function pkiWrite<T>(
  store: Store,
  clock: () => number,
  work: (tx: StoreWriter) => Promise<T>,
): Promise<T> {
  return store.transaction(async (tx) => {
    await tx.put(PKI_WRITE_LOCK_TABLE, { name: 'pki', touched_at: clock() });
    return work(tx);
  });
}

/** The certificate id a certificate ARN of this account names; undefined for anything else. */
export function certificateIdOfArn(arns: IotArns, arn: string): string | undefined {
  const resource = arns.resourceOf(arn);
  return resource?.type === 'cert' && /^[0-9a-f]{64}$/.test(resource.id) ? resource.id : undefined;
}
