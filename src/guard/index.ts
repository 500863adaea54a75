export * from './detector.js';
export { DetectorSet, redactionMarker } from './detector-set.js';
export { Guard } from './guard.js';
export { FieldGuard, type FieldClass, type FreeFormField } from './field-guard.js';
export { PayloadGuard } from './payload-guard.js';
export { checkOperatorUrl } from './url-guard.js';
export { redactJsonValue, redactLogLine } from './redaction.js';
export { guardSettingsSchema, FIELD_MODES, type FieldMode, type GuardSettings } from './schema.js';
