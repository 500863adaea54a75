import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { Store, StoreReader } from '../store/index.js';
import { publicKeyFingerprint } from './chain.js';
import { SIGNING_KEYS_TABLE } from './migrations.js';

const PURPOSE = 'digest-signing';

export interface PublicSigningKey {
  fingerprint: string;
  publicKeyPem: string;
  createdAt: number;
  /** When a newer key took over; retired keys still verify the digests they signed. */
  retiredAt: number | null;
}

export interface SigningKey {
  fingerprint: string;
  privateKey: KeyObject;
}

function publicKeyOf(row: Record<string, unknown>): PublicSigningKey {
  return {
    fingerprint: row.fingerprint as string,
    publicKeyPem: row.public_key_pem as string,
    createdAt: row.created_at as number,
    retiredAt: (row.retired_at as number | null) ?? null,
  };
}

/** Every digest-signing public key the trail has had, oldest first. */
export async function publicSigningKeys(store: StoreReader): Promise<PublicSigningKey[]> {
  const rows = await store.list(SIGNING_KEYS_TABLE, { plaintextOnly: true });
  return rows.map(publicKeyOf).sort((a, b) => a.createdAt - b.createdAt);
}

/**
 * The ECDSA P-256 keys that sign digests. The private key is sealed in the store (under a key of
 * its own); the public keys stay readable so that an operator can export them and verify
 * elsewhere. Rotation retires the current key and keeps it for verification.
 */
export class SigningKeys {
  constructor(private readonly store: Store) {}

  /**
   * The key new digests are signed with; created on first use. Read each time, so a rotation
   * by another process (`bulwark audit rotate-signing-key`) takes effect at the next digest.
   */
  async active(): Promise<SigningKey> {
    const rows = await this.store.list(SIGNING_KEYS_TABLE, { where: { purpose: PURPOSE } });
    const row = rows
      .filter((candidate) => candidate.retired_at === null)
      .sort((a, b) => (b.created_at as number) - (a.created_at as number))[0];
    if (!row) return this.create();
    return {
      fingerprint: row.fingerprint as string,
      privateKey: createPrivateKey(row.private_key_pem as string),
    };
  }

  /** Retires every current key and makes a new one. */
  async rotate(now = Date.now()): Promise<PublicSigningKey> {
    const rows = await this.store.list(SIGNING_KEYS_TABLE, {
      where: { purpose: PURPOSE },
      plaintextOnly: true,
    });
    const created = await this.store.transaction(async (tx) => {
      for (const row of rows) {
        if (row.retired_at !== null) continue;
        const full = await tx.get(SIGNING_KEYS_TABLE, { fingerprint: row.fingerprint });
        if (full) await tx.put(SIGNING_KEYS_TABLE, { ...full, retired_at: now });
      }
      return (await this.insertNew(tx, now)).key;
    });
    return created;
  }

  private create(): Promise<SigningKey> {
    return this.store.transaction(async (tx) => {
      const { key, privateKey } = await this.insertNew(tx, Date.now());
      return { fingerprint: key.fingerprint, privateKey };
    });
  }

  private async insertNew(
    tx: Pick<Store, 'insert'>,
    now: number,
  ): Promise<{ key: PublicSigningKey; privateKey: KeyObject }> {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }) as string;
    const fingerprint = publicKeyFingerprint(publicKeyPem);
    await tx.insert(SIGNING_KEYS_TABLE, {
      fingerprint,
      purpose: PURPOSE,
      public_key_pem: publicKeyPem,
      created_at: now,
      retired_at: null,
      private_key_pem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    });
    return { key: { fingerprint, publicKeyPem, createdAt: now, retiredAt: null }, privateKey };
  }
}
