export { Revocation, type NewlyRevoked, type RevocationOptions } from './revocation.js';
export { revocationSettingsSchema, type RevocationSetting } from './schema.js';
export type { RevocationReason, RevocationStatus } from './verdicts.js';
