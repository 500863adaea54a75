import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { generateSync, ScureBase32Plugin, type CryptoPlugin } from 'otplib';
import { checkString, type StringRule } from '../api/validation.js';
import { BulwarkError, isBulwarkError } from '../errors.js';
import type { Logger } from '../logs/logger.js';
import type { Row, Store, StoreWriter } from '../store/index.js';
import { IAM_MFA_DEVICES_TABLE } from './credential-migrations.js';
import {
  CredentialFailures,
  isLock,
  tooManyAttempts,
  type FailureRecord,
  type LockoutPolicy,
} from './lockout.js';
import type { MfaVerifier } from './mfa-verifier.js';
import { listPage, type IamPage, type IamPageRequest } from './pagination.js';
import type { IamUser, IamUsers } from './users.js';

/**
 * Virtual MFA devices: TOTP (RFC 6238) with 30-second steps, 6 digits and HMAC-SHA1, as
 * authenticator apps and AWS use. otplib computes each step's code (RFC 4226) with node:crypto's
 * HMAC; which steps are acceptable, replay blocking and lockout are decided here:
 * - a code is accepted for the expected step ±1 (RFC 6238 §5.2), the expected step being the
 *   server's own corrected by the drift ResyncMFADevice measured;
 * - the last accepted step is stored per device and a code of that step or an earlier one is
 *   refused (a replay), read and written in one transaction that holds the device's lock, so that
 *   two concurrent uses of one code cannot both pass;
 * - failures (replays included) count towards the device's lockout (`iam.lockout`).
 */

export const TOTP_STEP_SECONDS = 30;
/** IAM's quota of MFA devices per user. */
export const MAX_MFA_DEVICES_PER_USER = 8;
/** The seed length AWS uses (a 64-character Base32 seed). */
const SEED_BYTES = 40;
/** Steps either side of the expected one whose codes are accepted (RFC 6238 §5.2's one step). */
const VERIFY_WINDOW_STEPS = 1;
/** How far from the server's clock ResyncMFADevice looks for two consecutive codes: ±5 minutes. */
const RESYNC_WINDOW_STEPS = 10;
const CODE = /^\d{6}$/;

const DEVICE_NAME: StringRule = { min: 1, max: 226, pattern: '[\\w+=,.@-]+' };

/** RFC 4226's HMAC from node:crypto (no other cryptography in Bulwark). */
const nodeCrypto: CryptoPlugin = {
  name: 'node',
  hmac: (algorithm, key, data) => createHmac(algorithm, key).update(data).digest(),
  randomBytes: (length) => randomBytes(length),
  constantTimeEqual: (a, b) => sameBytes(Buffer.from(a), Buffer.from(b)),
};
const base32 = new ScureBase32Plugin();

function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The device's 6-digit code for TOTP time step `step`. */
function codeAt(seed: Buffer, step: number): string {
  return generateSync({
    secret: seed,
    strategy: 'hotp',
    counter: step,
    algorithm: 'sha1',
    digits: 6,
    crypto: nodeCrypto,
  });
}

function sameCode(seed: Buffer, step: number, code: string): boolean {
  return step >= 0 && sameBytes(Buffer.from(codeAt(seed, step)), Buffer.from(code));
}

/**
 * The step of `code2` when `code1` and `code2` are the device's codes for two consecutive steps,
 * the second within `radius` of `center`, both later than `lastAccepted`.
 */
function consecutiveStep(
  seed: Buffer,
  code1: string,
  code2: string,
  center: number,
  radius: number,
  lastAccepted: number | null,
): number | undefined {
  if (!CODE.test(code1) || !CODE.test(code2)) return undefined;
  for (let second = center - radius; second <= center + radius; second++) {
    const first = second - 1;
    if (lastAccepted !== null && first <= lastAccepted) continue;
    if (sameCode(seed, first, code1) && sameCode(seed, second, code2)) return second;
  }
  return undefined;
}

/** What one code against one device came to. `replay`: right code, already used. */
export type CodeCheck = 'ok' | 'invalid' | 'replay' | 'locked';

export interface NewVirtualMfaDevice {
  serialNumber: string;
  /** The seed as an authenticator app takes it; shown once, at creation, and stored sealed. */
  base32StringSeed: string;
}

export interface MfaDevice {
  userName: string;
  serialNumber: string;
  enableDate: Date;
}

export interface VirtualMfaDevice {
  serialNumber: string;
  /** The user it is enabled for, if any. */
  user?: IamUser;
  enableDate?: Date;
}

export type AssignmentStatus = 'Assigned' | 'Unassigned' | 'Any';

export interface VirtualMfaDevicesOptions {
  store: Store;
  accountId: string;
  users: Pick<IamUsers, 'getUser'>;
  lockout: LockoutPolicy;
  logger: Logger;
  now?: () => number;
  /** The seed of each new device (tests inject RFC 6238's); random by default. */
  newSeed?: () => Buffer;
}

function noSuchDevice(serialNumber: string): BulwarkError {
  return new BulwarkError(
    'NoSuchEntity',
    `MFA Device with serial number ${serialNumber} does not exist.`,
    { serialNumber },
  );
}

function invalidCodes(serialNumber: string): BulwarkError {
  return new BulwarkError(
    'InvalidAuthenticationCode',
    `Authentication code for device ${serialNumber} is not valid: give two consecutive codes, the second the current one.`,
    { serialNumber },
  );
}

/** The lockout subject of a device. */
const subjectOf = (serialNumber: string) => `mfa/${serialNumber}`;

/**
 * The outcome of a transaction on a device: its writes commit whatever it says (a failure must
 * be counted even though the call fails), and the error, if any, is thrown after.
 */
type Settled = { error?: BulwarkError };

export class VirtualMfaDevices implements MfaVerifier {
  private readonly store: Store;
  private readonly serialPrefix: string;
  private readonly users: Pick<IamUsers, 'getUser'>;
  private readonly failures: CredentialFailures;
  private readonly lockout: LockoutPolicy;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly newSeed: () => Buffer;

  constructor(options: VirtualMfaDevicesOptions) {
    this.store = options.store;
    this.serialPrefix = `arn:aws:iam::${options.accountId}:mfa/`;
    this.users = options.users;
    this.lockout = options.lockout;
    this.failures = new CredentialFailures(options.lockout);
    this.logger = options.logger;
    this.now = options.now ?? Date.now;
    this.newSeed = options.newSeed ?? (() => randomBytes(SEED_BYTES));
  }

  private currentStep(now: number): number {
    return Math.floor(now / 1000 / TOTP_STEP_SECONDS);
  }

  private async requireUser(userName: string): Promise<IamUser> {
    const user = await this.users.getUser(userName);
    if (!user)
      throw new BulwarkError('NoSuchEntity', `The user with name ${userName} cannot be found.`, {
        userName,
      });
    return user;
  }

  /** A new, unassigned device; its seed is returned this once. Bulwark serves only the path `/`. */
  async createVirtualMfaDevice(deviceName: string): Promise<NewVirtualMfaDevice> {
    checkString(deviceName, 'virtualMFADeviceName', DEVICE_NAME);
    const serialNumber = this.serialPrefix + deviceName;
    const seed = this.newSeed();
    try {
      await this.store.insert(IAM_MFA_DEVICES_TABLE, {
        serial_number: serialNumber,
        device_name: deviceName,
        assignment_status: 'Unassigned',
        user_name: null,
        created_at: this.now(),
        enabled_at: null,
        last_accepted_step: null,
        drift_steps: 0,
        seed,
      });
    } catch (error) {
      if (isBulwarkError(error, 'StoreConstraint'))
        throw new BulwarkError(
          'ResourceAlreadyExists',
          'MFADevice entity at the same path and name already exists.',
          { serialNumber },
        );
      throw error;
    }
    return { serialNumber, base32StringSeed: base32.encode(seed) };
  }

  /**
   * The device, read under its lock (taken first in `tx`); undefined if there is none. Looking
   * before locking keeps unknown serial numbers from leaving lock rows behind.
   */
  private async lockedDevice(
    tx: StoreWriter,
    serialNumber: string,
    now: number,
  ): Promise<Row | undefined> {
    if (!(await tx.get(IAM_MFA_DEVICES_TABLE, { serial_number: serialNumber }))) return undefined;
    await this.failures.lock(tx, subjectOf(serialNumber), now);
    // Read again under the lock: another transaction may have changed it meanwhile.
    return tx.get(IAM_MFA_DEVICES_TABLE, { serial_number: serialNumber });
  }

  /**
   * For an attempt with codes: the device and its failure record, under its lock unless it is
   * locked out (see CredentialFailures.lockForAttempt); undefined if there is no such device.
   */
  private async deviceForAttempt(
    tx: StoreWriter,
    serialNumber: string,
    now: number,
  ): Promise<{ device: Row; record: FailureRecord } | undefined> {
    if (!(await tx.get(IAM_MFA_DEVICES_TABLE, { serial_number: serialNumber }))) return undefined;
    const record = await this.failures.lockForAttempt(tx, subjectOf(serialNumber), now);
    const device = await tx.get(IAM_MFA_DEVICES_TABLE, { serial_number: serialNumber });
    return device && { device, record };
  }

  /**
   * Runs `work` on the device in one transaction holding its lock, after refusing it while the
   * device is locked out; `work` returns whether the codes were right, and a wrong one is counted.
   */
  private async withDevice(
    serialNumber: string,
    work: (tx: StoreWriter, device: Row, now: number) => Promise<Settled | 'failed'>,
  ): Promise<void> {
    const subject = subjectOf(serialNumber);
    const settled = await this.store.transaction(async (tx): Promise<Settled> => {
      const now = this.now();
      const attempt = await this.deviceForAttempt(tx, serialNumber, now);
      if (!attempt) return { error: noSuchDevice(serialNumber) };
      const { device, record } = attempt;
      if (record.blockedUntil > now) return { error: tooManyAttempts(record.blockedUntil, now) };
      const outcome = await work(tx, device, now);
      if (outcome !== 'failed') {
        if (!outcome.error) await this.failures.clear(tx, subject);
        return outcome;
      }
      await this.countFailure(tx, serialNumber, record, now);
      return { error: invalidCodes(serialNumber) };
    });
    if (settled.error) throw settled.error;
  }

  private async countFailure(
    tx: StoreWriter,
    serialNumber: string,
    record: FailureRecord,
    now: number,
  ): Promise<void> {
    const next = await this.failures.recordFailure(tx, subjectOf(serialNumber), record, now);
    if (isLock(this.lockout, next))
      this.logger.warn(
        { serialNumber, failures: next.failures, lockedUntil: new Date(next.blockedUntil) },
        'MFA device locked after repeated wrong codes',
      );
  }

  /** EnableMFADevice: assigns the device to the user once it shows two consecutive current codes. */
  async enableMfaDevice(
    userName: string,
    serialNumber: string,
    code1: string,
    code2: string,
  ): Promise<void> {
    await this.requireUser(userName);
    await this.withDevice(serialNumber, async (tx, device, now) => {
      if (device.user_name !== null)
        return {
          error: new BulwarkError(
            'ResourceAlreadyExists',
            `MFA device ${serialNumber} is already in use; deactivate it first.`,
            { serialNumber },
          ),
        };
      if (
        (await tx.count(IAM_MFA_DEVICES_TABLE, { user_name: userName })) >= MAX_MFA_DEVICES_PER_USER
      )
        return {
          error: new BulwarkError(
            'LimitExceeded',
            `Cannot exceed quota for MFADevicesPerUser: ${MAX_MFA_DEVICES_PER_USER}`,
            { userName },
          ),
        };
      const step = consecutiveStep(
        device.seed as Buffer,
        code1,
        code2,
        this.currentStep(now),
        VERIFY_WINDOW_STEPS,
        device.last_accepted_step as number | null,
      );
      if (step === undefined) return 'failed';
      await tx.put(IAM_MFA_DEVICES_TABLE, {
        ...device,
        assignment_status: 'Assigned',
        user_name: userName,
        enabled_at: now,
        last_accepted_step: step,
        drift_steps: 0,
      });
      return {};
    });
  }

  /**
   * ResyncMFADevice: finds two consecutive codes within ±5 minutes of the server's clock and
   * from then on expects the device that many steps ahead or behind.
   */
  async resyncMfaDevice(
    userName: string,
    serialNumber: string,
    code1: string,
    code2: string,
  ): Promise<void> {
    await this.requireUser(userName);
    await this.withDevice(serialNumber, async (tx, device, now) => {
      if (device.user_name !== userName) return { error: noSuchDevice(serialNumber) };
      const current = this.currentStep(now);
      const step = consecutiveStep(
        device.seed as Buffer,
        code1,
        code2,
        current,
        RESYNC_WINDOW_STEPS,
        device.last_accepted_step as number | null,
      );
      if (step === undefined) return 'failed';
      await tx.put(IAM_MFA_DEVICES_TABLE, {
        ...device,
        last_accepted_step: step,
        drift_steps: step - current,
      });
      return {};
    });
  }

  /** DeactivateMFADevice: unassigns the device; it keeps its seed and can be enabled again. */
  async deactivateMfaDevice(userName: string, serialNumber: string): Promise<void> {
    await this.requireUser(userName);
    await this.store.transaction(async (tx) => {
      const device = await this.lockedDevice(tx, serialNumber, this.now());
      if (!device || device.user_name !== userName) throw noSuchDevice(serialNumber);
      await tx.put(IAM_MFA_DEVICES_TABLE, {
        ...device,
        assignment_status: 'Unassigned',
        user_name: null,
        enabled_at: null,
        drift_steps: 0,
      });
    });
  }

  /** DeleteVirtualMFADevice: only once it is deactivated, as IAM requires. */
  async deleteVirtualMfaDevice(serialNumber: string): Promise<void> {
    await this.store.transaction(async (tx) => {
      const device = await this.lockedDevice(tx, serialNumber, this.now());
      if (!device) throw noSuchDevice(serialNumber);
      if (device.user_name !== null)
        throw new BulwarkError(
          'DeleteConflict',
          `MFA device ${serialNumber} is still enabled for user ${device.user_name as string}; deactivate it first.`,
          { serialNumber },
        );
      await tx.delete(IAM_MFA_DEVICES_TABLE, { serial_number: serialNumber });
      await this.failures.forget(tx, subjectOf(serialNumber));
    });
  }

  /** ListMFADevices: the devices enabled for the user. */
  async listMfaDevices(userName: string, request: IamPageRequest): Promise<IamPage<MfaDevice>> {
    await this.requireUser(userName);
    const page = await listPage(
      this.store,
      {
        list: `ListMFADevices/${userName}`,
        table: IAM_MFA_DEVICES_TABLE,
        where: { user_name: userName },
        sortColumn: 'serial_number',
      },
      request,
    );
    return {
      ...page,
      items: page.items.map((row) => ({
        userName,
        serialNumber: row.serial_number as string,
        enableDate: new Date(row.enabled_at as number),
      })),
    };
  }

  /** ListVirtualMFADevices: every device of the account, optionally by assignment. */
  async listVirtualMfaDevices(
    status: AssignmentStatus,
    request: IamPageRequest,
  ): Promise<IamPage<VirtualMfaDevice>> {
    const page = await listPage(
      this.store,
      {
        list: `ListVirtualMFADevices/${status}`,
        table: IAM_MFA_DEVICES_TABLE,
        ...(status === 'Any' ? {} : { where: { assignment_status: status } }),
        sortColumn: 'serial_number',
      },
      request,
    );
    const items: VirtualMfaDevice[] = [];
    for (const row of page.items) {
      const user =
        row.user_name === null ? undefined : await this.users.getUser(row.user_name as string);
      items.push({
        serialNumber: row.serial_number as string,
        ...(user ? { user } : {}),
        ...(row.enabled_at !== null ? { enableDate: new Date(row.enabled_at as number) } : {}),
      });
    }
    return { ...page, items };
  }

  /** The serial numbers of the user's enabled devices (none for an unknown user). */
  async enabledSerialNumbers(userName: string): Promise<string[]> {
    const rows = await this.store.list(IAM_MFA_DEVICES_TABLE, { where: { user_name: userName } });
    return rows.map((row) => row.serial_number as string);
  }

  /**
   * Checks one code of the user's device `serialNumber` and, when it is accepted, records its step
   * so that it cannot be used again. A device that is not the user's answers `invalid`.
   */
  async checkCode(userName: string, serialNumber: string, code: string): Promise<CodeCheck> {
    const subject = subjectOf(serialNumber);
    return this.store.transaction(async (tx): Promise<CodeCheck> => {
      const now = this.now();
      const attempt = await this.deviceForAttempt(tx, serialNumber, now);
      if (!attempt || attempt.device.user_name !== userName) return 'invalid';
      const { device, record } = attempt;
      if (record.blockedUntil > now) return 'locked';
      const outcome = this.matchCode(device, code, now);
      if (typeof outcome === 'number') {
        await tx.put(IAM_MFA_DEVICES_TABLE, { ...device, last_accepted_step: outcome });
        await this.failures.clear(tx, subject);
        return 'ok';
      }
      await this.countFailure(tx, serialNumber, record, now);
      return outcome;
    });
  }

  /** The step `code` belongs to if it is acceptable now, else why not. */
  private matchCode(device: Row, code: string, now: number): number | 'invalid' | 'replay' {
    if (!CODE.test(code)) return 'invalid';
    const seed = device.seed as Buffer;
    const lastAccepted = device.last_accepted_step as number | null;
    const expected = this.currentStep(now) + (device.drift_steps as number);
    let replayed = false;
    for (
      let step = expected - VERIFY_WINDOW_STEPS;
      step <= expected + VERIFY_WINDOW_STEPS;
      step++
    ) {
      if (!sameCode(seed, step, code)) continue;
      if (lastAccepted === null || step > lastAccepted) return step;
      replayed = true;
    }
    return replayed ? 'replay' : 'invalid';
  }

  /** MfaVerifier, for STS GetSessionToken and console sign-in: a replay is simply invalid. */
  async verify(
    userName: string,
    serialNumber: string,
    code: string,
  ): Promise<'ok' | 'invalid' | 'locked'> {
    const outcome = await this.checkCode(userName, serialNumber, code);
    return outcome === 'replay' ? 'invalid' : outcome;
  }
}
